/**
 * The life of one model on a device: its states, the transitions allowed between them (as data), and the one place
 * that applies a transition. The device actor (device-actor.ts) decides when a model moves; this file refuses a move
 * the table does not allow and wakes whoever waits for a state, so callers wait for states instead of polling flags.
 *
 *   reserving ─reserved─▶ loading ─loaded─▶ loaded ─unload─▶ draining ─idle─▶ unloading ─engine let go─▶ gone
 *       │                  │   ▲              │                 ▲
 *    refused        engine │   │ engine       │ engine died     │ unload, from waiting-engine, cancelling
 *       ▼             died ▼   │ back         ▼                 │ or failed too
 *     gone               waiting-engine ◀─────┘
 *
 *   loading ─load failed─▶ cancelling ─the engine let go (reservation released)─▶ failed ─loaded again─▶ gone
 *
 * A load asked while the model is on its way out (cancelling, draining, unloading) waits for it to be gone (or failed)
 * and loads afresh; an unload asked while it loads waits for the load to end. Both are the device actor's.
 */
import type { MocError } from '../../src/errors.js';
import type { ModelState } from '../../schemas/messages.js';

export type LifeState =
  /** Estimating its size and reserving that in the ledger; the engine has not started loading it. */
  | 'reserving'
  /** The engine loads it; its reservation is held. */
  | 'loading'
  /** Serving. */
  | 'loaded'
  /** Its engine died (while it was loaded or loading): the restarted engine loads it again; requests wait. */
  | 'waiting-engine'
  /** Its load failed, but the engine may still be working on it (a timed-out load): its reservation stays counted. */
  | 'cancelling'
  /** Its load failed and the engine has let go of it: nothing is held; it stays listed with its error. */
  | 'failed'
  /** Being unloaded: refuses new requests, lets the admitted ones finish. */
  | 'draining'
  /** Being unloaded: nothing runs; the engine releases it, then the ledger does. */
  | 'unloading'
  /** Left the device (unloaded, refused, or replaced by a new load): no longer in the device's map. */
  | 'gone';

/** Which states may follow each state. Anything else is a bug in the device actor, and throws. */
export const TRANSITIONS: { readonly [S in LifeState]: readonly LifeState[] } = {
  reserving: ['loading', 'gone'],
  loading: ['loaded', 'cancelling', 'waiting-engine'],
  loaded: ['draining', 'waiting-engine'],
  'waiting-engine': ['loading', 'draining'],
  cancelling: ['failed', 'draining'],
  failed: ['draining', 'gone'],
  draining: ['unloading'],
  unloading: ['gone'],
  gone: [],
};

/** What the device reports of each state (schemas/messages.ts ModelState); a gone model is not reported at all. */
export const REPORTED: { readonly [S in Exclude<LifeState, 'gone'>]: ModelState } = {
  reserving: 'loading',
  loading: 'loading',
  'waiting-engine': 'loading',
  loaded: 'loaded',
  cancelling: 'failed',
  failed: 'failed',
  draining: 'unloading',
  unloading: 'unloading',
};

/** A state reached, and the error that moved the model there, if one did (a failed load, an engine death). */
export interface Reached {
  state: LifeState;
  cause?: MocError;
}

interface Waiter {
  states: readonly LifeState[];
  resolve: (r: Reached) => void;
}

export class ModelLife {
  private current: LifeState = 'reserving';
  private why: MocError | undefined;
  private waiters: Waiter[] = [];

  constructor(readonly model: string) {}

  get state(): LifeState {
    return this.current;
  }

  /** The error of the transition that led to the current state, if it had one. */
  get cause(): MocError | undefined {
    return this.why;
  }

  /** What the device reports for it (a gone model is never reported: it has left the map). */
  get reported(): ModelState {
    if (this.current === 'gone') throw new Error(`model '${this.model}' is gone: it has no state to report`);
    return REPORTED[this.current];
  }

  is(...states: LifeState[]): boolean {
    return states.includes(this.current);
  }

  /** The one place a model changes state: refuses what TRANSITIONS does not allow, then wakes the waiters. */
  to(next: LifeState, cause?: MocError): void {
    if (!TRANSITIONS[this.current].includes(next)) {
      throw new Error(`model '${this.model}': illegal transition ${this.current} → ${next}`);
    }
    this.current = next;
    this.why = cause;
    const reached: Reached = { state: next, ...(cause ? { cause } : {}) };
    // Gone ends every wait: nothing can follow it.
    const woken = next === 'gone' ? this.waiters : this.waiters.filter((w) => w.states.includes(next));
    this.waiters = next === 'gone' ? [] : this.waiters.filter((w) => !w.states.includes(next));
    for (const w of woken) w.resolve(reached);
  }

  /** Resolves when the model is in one of `states` (at once if it is now), or gone. */
  until(...states: LifeState[]): Promise<Reached> {
    if (this.is(...states, 'gone')) {
      return Promise.resolve({ state: this.current, ...(this.why ? { cause: this.why } : {}) });
    }
    return new Promise((resolve) => this.waiters.push({ states, resolve }));
  }
}
