/**
 * The parts of a running server that are not restarted one by one (the store, the inspector pool, the main-thread
 * actors, the device supervisor, the listeners), kept as data in start order, OTP style: each part is started after
 * the ones it needs and stopped before them. A start that fails part-way destroys what it had started, in reverse.
 *
 * Parts are in layers: 'edge' (the listeners, which drain first within the shutdown grace) and 'core' (everything
 * behind them). A part leaves the list once its close() has finished, or as soon as destroy() reaches it: a destroy
 * during a slow close (the grace ran out) still reaches the parts still closing.
 */
import type { Closeable } from './types.js';

export type Layer = 'core' | 'edge';

interface Part {
  id: string;
  layer: Layer;
  handle: Closeable;
}

/** For parts that only know close() (the LMDB store): destroying them is closing them. */
export const closeOnly = (x: { close(): Promise<void> }): Closeable => ({
  close: () => x.close(),
  destroy: () => x.close(),
});

export class Assembly {
  private parts: Part[] = [];

  /** Starts one part (after every part added before it) and keeps it; returns what start returned. */
  async add<T>(
    id: string,
    start: () => T | Promise<T>,
    o: { layer?: Layer; handle?: (t: T) => Closeable } = {},
  ): Promise<T> {
    const value = await start();
    this.parts.push({
      id,
      layer: o.layer ?? 'core',
      handle: o.handle ? o.handle(value) : (value as unknown as Closeable),
    });
    return value;
  }

  get ids(): string[] {
    return this.parts.map((p) => p.id);
  }

  /** Graceful stop of a layer's parts: the listeners drain side by side; core parts stop one at a time, last first. */
  async close(layer: Layer): Promise<void> {
    const parts = this.parts.filter((p) => p.layer === layer).reverse();
    const closeOne = async (p: Part) => {
      await p.handle.close();
      this.parts = this.parts.filter((x) => x !== p);
    };
    if (layer === 'edge') await Promise.all(parts.map(closeOne));
    else for (const p of parts) await closeOne(p);
  }

  /** Stop now: the given layer, or everything, last started first. Parts already stopped are skipped. */
  async destroy(layer?: Layer): Promise<void> {
    for (const p of this.take(layer)) await p.handle.destroy();
  }

  /** Removes and returns the layer's parts (all when no layer), last started first. */
  private take(layer?: Layer): Part[] {
    const taken = this.parts.filter((p) => !layer || p.layer === layer).reverse();
    this.parts = this.parts.filter((p) => !taken.includes(p));
    return taken;
  }
}
