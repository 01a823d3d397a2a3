/**
 * The device's memory ledger ("VRAM" on GPUs, a slice of RAM on cpu devices). Loads reserve their GGUF-based
 * estimate before the engine touches the file, reconcile with what the engine reports after, and release on
 * failure or unload. The sum never passes the hard limit: a reservation that would is refused, naming what holds
 * the memory and how much would have to be freed.
 */
import { errors } from '../../src/errors.js';

export interface LedgerEntry {
  model: string;
  bytes: number;
  estimate: number;
}

export class Ledger {
  private readonly entries = new Map<string, LedgerEntry>();
  private total = 0;

  constructor(
    readonly device: string,
    readonly hardLimit: number,
    readonly softLimit: number,
  ) {}

  get reserved(): number {
    return this.total;
  }
  get free(): number {
    return this.hardLimit - this.total;
  }
  bytesOf(model: string): number {
    return this.entries.get(model)?.bytes ?? 0;
  }
  /** Every holder, models and others (a job's reservation) alike. */
  holders(): LedgerEntry[] {
    return [...this.entries.values()];
  }

  reserve(model: string, bytes: number): void {
    if (this.entries.has(model)) throw new Error(`ledger: ${model} already has a reservation`);
    if (this.total + bytes > this.hardLimit) {
      const holders = [...this.entries.values()].sort((a, b) => b.bytes - a.bytes);
      throw errors.deviceMemoryFull(model, this.device, bytes, this.free, this.hardLimit, holders);
    }
    this.entries.set(model, { model, bytes, estimate: bytes });
    this.total += bytes;
  }

  /**
   * After the load: hold what the engine really uses. The estimate already passed the hard-limit check; if the real
   * figure is larger the model is loaded anyway (refusing now would waste the load), and the ledger reports the
   * truth, so the next reservation sees less free memory.
   */
  reconcile(model: string, actualBytes: number): void {
    const e = this.entries.get(model);
    if (!e) return;
    this.total += actualBytes - e.bytes;
    e.bytes = actualBytes;
  }

  release(model: string): number {
    const e = this.entries.get(model);
    if (!e) return 0;
    this.entries.delete(model);
    this.total -= e.bytes;
    return e.bytes;
  }
}
