/**
 * Who the ledger charges for each LoRA adapter's weights. node-llama-cpp loads an adapter file's weights once per base
 * model, shares them between every context that applies the file, and frees them only when the base model is disposed
 * (LlamaModel._getOrLoadLora; a context's dispose leaves them). So the weights of one file are counted exactly once:
 * on the entry of a loaded adapter that uses the file (its "owner"), else, once none is loaded, on the base's entry —
 * where they stay until the base unloads. An adapter's entry is then its context plus the weights it owns.
 */
import type { Ledger } from './ledger.js';
import type { ModelSpec } from '../../schemas/messages.js';

interface Held {
  bytes: number;
  /** The loaded adapter charged for them; null: none is loaded, the base is. */
  owner: string | null;
}

/** One copy per base and file as the engine loaded it (a rewritten file under the same path is another copy). */
export const weightsKey = (spec: ModelSpec) => `${spec.path}\0${spec.file?.bytes ?? 0}@${spec.file?.mtimeMs ?? 0}`;

export class AdapterWeights {
  /** By base model, by weightsKey. */
  private readonly held = new Map<string, Map<string, Held>>();

  constructor(private readonly ledger: Ledger) {}

  /**
   * An adapter loaded, its entry reconciled to what the engine reported: its context plus `bytes` of weights, which
   * the engine either loaded now (`resident` false: this adapter owns them) or already held with the base.
   */
  loaded(spec: ModelSpec, bytes: number, resident: boolean): void {
    const base = spec.adapter!.base;
    let files = this.held.get(base);
    if (!files) this.held.set(base, (files = new Map()));
    const key = weightsKey(spec);
    const h = files.get(key);
    if (!resident || !h) {
      files.set(key, { bytes, owner: spec.name });
      return;
    }
    if (h.owner === null) {
      h.owner = spec.name;
      this.move(base, -h.bytes);
    } else this.move(spec.name, -h.bytes); // another loaded adapter of the same file is charged for them
  }

  /**
   * An adapter is leaving: the weights it owns pass to another loaded adapter of the same file (`others`), else to the
   * base. Returns the bytes that stay held (not freed by its unload).
   */
  leaving(spec: ModelSpec, others: string[]): number {
    const h = this.held.get(spec.adapter!.base)?.get(weightsKey(spec));
    if (!h || h.owner !== spec.name) return 0;
    h.owner = others[0] ?? null;
    this.move(h.owner ?? spec.adapter!.base, h.bytes);
    return h.bytes;
  }

  /** The base left the engine (unloaded, or the engine restarted): every adapter copy it held went with it. */
  baseGone(base: string): void {
    this.held.delete(base);
  }

  private move(owner: string, bytes: number): void {
    this.ledger.reconcile(owner, Math.max(0, this.ledger.bytesOf(owner) + bytes));
  }
}
