/**
 * Which model is on which device, as the devices last reported it (their models-changed notifications).
 * Written only by the Lifecycle actor; the router reads it on every inference (same thread, no ask on the hot path).
 */
import type { ModelInfo } from '../../schemas/messages.js';

export class RouteTable {
  private readonly byDevice = new Map<string, ModelInfo[]>();
  private byModel = new Map<string, ModelInfo>();
  /** alias → model name. Switching an entry is the atomic moment of a hot swap. */
  readonly aliases = new Map<string, string>();

  /** A name as clients use it: an alias resolves to its target. */
  resolve(name: string): string {
    return this.aliases.get(name) ?? name;
  }

  update(device: string, models: ModelInfo[]): void {
    this.byDevice.set(device, models);
    const next = new Map<string, ModelInfo>();
    for (const list of this.byDevice.values()) for (const m of list) next.set(m.name, m);
    this.byModel = next;
  }

  lookup(model: string): ModelInfo | undefined {
    return this.byModel.get(model);
  }
  names(): string[] {
    return [...this.byModel.keys()];
  }
  onDevice(device: string): ModelInfo[] {
    return this.byDevice.get(device) ?? [];
  }
  loadedCount(): number {
    let n = 0;
    for (const m of this.byModel.values()) if (m.state === 'loaded') n++;
    return n;
  }
  reservedOn(device: string): number {
    return this.onDevice(device).reduce((s, m) => s + m.reservedBytes, 0);
  }
}
