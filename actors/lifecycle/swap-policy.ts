/**
 * Swaps between models that do not fit on a device together (docs/models.md, "Two models that do not fit together").
 *
 * Placement evicts only idle models; a load that cannot be placed only because the models holding the memory are busy
 * waits here instead of failing (a pending swap), so two busy models that alternate do not load and evict on every
 * request (llama-swap#612). The line, per device: the load whose oldest waiting request is oldest is the head; only
 * the head tries placement again, when the device's models change (one goes idle or leaves) or a timer passes. The
 * head picks the busy models whose leaving makes room (planSwap); each keeps serving until it has been loaded
 * minResidencyMs, then drains: the router stops sending it requests (they wait for its reload like requests for an
 * unloaded model), what it holds finishes, it goes idle and the head's placement evicts it as any idle model.
 *
 * The pure parts (planSwap, dueToDrain) decide; SwapLine keeps the line and runs each waiting load's loop.
 */
import { errors, type MocError } from '../../src/errors.js';
import type { DeviceStatus, ModelInfo } from '../../schemas/messages.js';
import type { RouteTable } from './route-table.js';

/** A waiting load looks again at least this often (its requests may have given up; a notice may have been missed). */
const RECHECK_MS = 1000;

/** On `device`, the busy models whose leaving makes room for the load (least resident time left first). */
export interface SwapPlan {
  device: string;
  drain: ModelInfo[];
}

const busy = (m: ModelInfo) => m.inFlight > 0 || m.queued > 0;

/**
 * Pure: where a refused load could go once busy models leave, as placement counts (idle unpinned loaded models are
 * evicted anyway; busy unpinned loaded ones drain, longest loaded first, until it fits under the soft limit, or at
 * least under the hard limit). The device needing the fewest bytes drained wins; undefined when draining cannot make
 * room anywhere (too big, or the memory is pinned or loading): then the refusal stands.
 */
export function planSwap(
  need: number,
  devices: DeviceStatus[],
  isPinned: (m: ModelInfo) => boolean = (m) => m.pinned,
): SwapPlan | undefined {
  let best: (SwapPlan & { bytes: number }) | undefined;
  for (const d of devices) {
    if (need > d.memory.hardLimit) continue;
    const movable = d.models.filter((m) => m.state === 'loaded' && !isPinned(m));
    let reserved = d.memory.reserved - movable.filter((m) => !busy(m)).reduce((s, m) => s + m.reservedBytes, 0);
    const drain: ModelInfo[] = [];
    for (const m of movable.filter(busy).sort((a, b) => a.loadedAt - b.loadedAt)) {
      if (reserved + need <= d.memory.softLimit) break;
      drain.push(m);
      reserved -= m.reservedBytes;
    }
    if (drain.length === 0 || reserved + need > d.memory.hardLimit) continue;
    const bytes = drain.reduce((s, m) => s + m.reservedBytes, 0);
    if (!best || bytes < best.bytes) best = { device: d.id, drain, bytes };
  }
  return best && { device: best.device, drain: best.drain };
}

/** Pure: of the models to drain, those loaded at least minResidencyMs ago, and when the next one's residency ends. */
export function dueToDrain(drain: ModelInfo[], now: number, minResidencyMs: number): { due: string[]; nextAt: number } {
  const due: string[] = [];
  let nextAt = Number.POSITIVE_INFINITY;
  for (const m of drain) {
    const until = m.loadedAt + minResidencyMs;
    if (until <= now) due.push(m.name);
    else nextAt = Math.min(nextAt, until);
  }
  return { due, nextAt };
}

/** Thrown by placement's hook (SwapLine.refused) for a load that may wait for a swap instead of failing. */
export class SwapBlocked extends Error {
  constructor(
    readonly plan: SwapPlan,
    readonly refusal: MocError,
  ) {
    super(refusal.message);
  }
}

/** What SwapLine.run needs to know of the load it runs. */
export interface SwapWaiter {
  /** Epoch ms of the load's oldest waiting request: it orders the line. */
  since: number;
  /** Whether one of its requests may wait (inference, embeddings); a LoadModel alone is refused at once, as before. */
  mayWait(): boolean;
  /** Whether anyone still waits for it (their deadlines, bounded by lifecycle.maxWaitMs, have not passed). */
  alive(): boolean;
}

interface Entry {
  device: string;
  since: number;
  /** The device's models as they were when it last tried (signature): unchanged, trying again is pointless. */
  seen: string;
  /** When it tries again even if they did not change (a residency ends, a recheck). */
  dueAt: number;
}

/**
 * The loads waiting for a swap, per device, and the models draining for them. Lives on the lifecycle's thread: the
 * router reads draining() on every inference, as it reads the route table.
 */
export class SwapLine {
  private readonly line = new Map<string, Entry>();
  /** Device → the models its head has drained (residency passed): their new requests wait for their reload. */
  private readonly drainingOn = new Map<string, Set<string>>();
  private readonly sleepers = new Map<string, Set<() => void>>();
  private closed = false;

  constructor(
    private readonly routes: RouteTable,
    private readonly minResidencyMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** True while `model` drains: new requests for it are not sent to its device but wait for its reload. */
  draining(model: string): boolean {
    for (const s of this.drainingOn.values()) if (s.has(model)) return true;
    return false;
  }

  /** The model whose load heads `device`'s line (oldest waiting request; ties by name), if any. */
  head(device: string): string | undefined {
    let best: [string, Entry] | undefined;
    for (const e of this.line)
      if (
        e[1].device === device &&
        (!best || e[1].since < best[1].since || (e[1].since === best[1].since && e[0] < best[0]))
      )
        best = e;
    return best?.[0];
  }

  /** Loads waiting, for status and tests. */
  get waiting(): number {
    return this.line.size;
  }

  /**
   * Placement's hook: a refusal (MOC_ERR_NO_MEMORY) that draining busy models would lift becomes SwapBlocked (the
   * load waits); any other error is given back to be thrown as it is.
   */
  refused(err: unknown, need: number, statuses: DeviceStatus[], isPinned: (m: ModelInfo) => boolean): unknown {
    const e = err as MocError;
    if (e?.code !== 'MOC_ERR_NO_MEMORY') return err;
    const plan = planSwap(need, statuses, isPinned);
    return plan ? new SwapBlocked(plan, e) : err;
  }

  /** The lifecycle stops: waiting loads end (their requests are answered UNAVAILABLE). */
  close(): void {
    this.closed = true;
    for (const device of [...this.sleepers.keys()]) this.changed(device);
  }

  /** A device's models changed (its notice): the loads waiting on it look again. */
  changed(device: string): void {
    const s = this.sleepers.get(device);
    if (!s) return;
    this.sleepers.delete(device);
    for (const wake of s) wake();
  }

  /**
   * Runs `attempt` (place and load) until it succeeds or fails with anything but SwapBlocked; while blocked, waits in
   * the line as the brief at the top says. Every exit leaves the line.
   */
  async run(model: string, w: SwapWaiter, attempt: () => Promise<void>): Promise<void> {
    try {
      for (;;) {
        if (this.closed) throw errors.unavailable(`the server is shutting down; '${model}' was waiting to be loaded`);
        const own = this.routes.lookup(model);
        let entry = this.line.get(model);
        let plan: SwapPlan | undefined;
        if (own?.state === 'loaded' && this.draining(model)) {
          // Its own model drains for another: it waits for it to leave, then loads it again in its turn.
          plan = { device: own.device, drain: [] };
        } else if (!entry || (this.head(entry.device) === model && this.worthTrying(entry))) {
          try {
            return await attempt();
          } catch (err) {
            if (!(err instanceof SwapBlocked)) throw err;
            if (!w.mayWait()) throw err.refusal;
            plan = err.plan;
          }
        }
        if (!w.alive())
          throw errors.modelWaitExceeded(model, this.now() - w.since, this.holders(entry?.device ?? plan!.device));
        const now = this.now();
        if (plan) {
          entry = { device: plan.device, since: entry?.since ?? w.since, seen: '', dueAt: now + RECHECK_MS };
          this.line.set(model, entry);
          if (this.head(plan.device) === model && plan.drain.length > 0) {
            const { due, nextAt } = dueToDrain(plan.drain, now, this.minResidencyMs);
            this.drainingOn.set(plan.device, new Set(due));
            entry.dueAt = Math.min(entry.dueAt, nextAt);
          }
          entry.seen = this.signature(plan.device);
        }
        await this.sleep(entry!.device, Math.max(0, Math.min(entry!.dueAt, now + RECHECK_MS) - now));
      }
    } finally {
      this.leave(model);
    }
  }

  private leave(model: string): void {
    const entry = this.line.get(model);
    if (!entry) return;
    const wasHead = this.head(entry.device) === model;
    this.line.delete(model);
    if (wasHead) {
      // The next head decides again what to drain, and tries at once.
      this.drainingOn.delete(entry.device);
      for (const e of this.line.values()) if (e.device === entry.device) e.seen = '';
    }
    this.changed(entry.device);
  }

  /** The head tries again only when the device's models changed (one went idle or left) or its time came. */
  private worthTrying(e: Entry): boolean {
    return e.seen !== this.signature(e.device) || this.now() >= e.dueAt;
  }

  private signature(device: string): string {
    return this.routes
      .onDevice(device)
      .map((m) => `${m.name}:${m.state}:${busy(m) ? 'busy' : 'idle'}`)
      .join(',');
  }

  /** What holds `device` as a message says it. */
  private holders(device: string): string {
    return this.routes
      .onDevice(device)
      .map(
        (m) =>
          `${m.name} on ${device} (${m.state}${busy(m) ? ', busy' : ''}${this.draining(m.name) ? ', draining' : ''})`,
      )
      .join(', ');
  }

  private sleep(device: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let s = this.sleepers.get(device);
      if (!s) this.sleepers.set(device, (s = new Set()));
      const wake = () => {
        clearTimeout(timer);
        s!.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      timer.unref?.(); // a wait keeps nothing alive: close() ends them
      s.add(wake);
    });
  }
}
