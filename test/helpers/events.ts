/**
 * Waiting on what the product emits instead of polling it.
 *
 * A model's state changes are events: `coordinator.models.watch(listener)` calls the listener with a ModelView on
 * every change (the same feed as gRPC WatchModels) and returns the unsubscribe function. The helpers here subscribe,
 * resolve on the first match, reject on timeout with what was last seen, and always unsubscribe.
 *
 * SUBSCRIBE BEFORE TRIGGERING THE ACTION. An event emitted before the subscription is lost, so create the promise
 * first, then act, then await it:
 *
 *   const unloaded = nextModelState(h.coordinator, (m) => m.name === 'a' && m.state === 'registered', 'a unloaded');
 *   await h.unary('UnloadModel', { name: 'a' });
 *   await unloaded;
 *
 * The promise is marked handled at creation: a timeout that fires before the test reaches its `await` does not
 * become an unhandled rejection (the `await` still throws it). When the action cannot come after the subscription,
 * use modelsInState: it also checks the current state (the route table, i.e. what the devices last reported).
 *
 * Keep polling (test/helpers/coordinator.ts `until`) for what emits no event: OS state (sockets, processes, log
 * lines of a subprocess), transport counters, and a model's inFlight/queued counters (they are not state changes).
 */
import type { EventEmitter } from 'node:events';
import type { ModelInfo, ModelView } from '../../schemas/messages.js';

/** What these helpers need of a Coordinator (structural, so they do not depend on its internals). */
export interface ModelEvents {
  models: {
    watch(listener: (m: ModelView) => void): () => void;
    routes: { lookup(name: string): ModelInfo | undefined };
  };
}

/**
 * Core: feeds every model change to `step` and resolves with its first result that is not undefined.
 * `step` may keep state across calls (e.g. "seen A loaded, now waiting for B").
 */
export function watchModelsUntil<T>(
  coordinator: ModelEvents,
  step: (m: ModelView) => T | undefined,
  what: string,
  timeoutMs = 30_000,
  o: { initial?: () => T | undefined; describe?: () => string } = {},
): Promise<T> {
  const seen = new Map<string, string>();
  let unsubscribe = () => {};
  let timer: NodeJS.Timeout | undefined;
  const p = new Promise<T>((resolve, reject) => {
    let done = false;
    const finish = (err: Error | null, v?: T) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      unsubscribe();
      if (err) reject(err);
      else resolve(v as T);
    };
    // Subscribe first, then look at the current state: nothing can change in between (same tick), so nothing is missed.
    unsubscribe = coordinator.models.watch((m) => {
      if (done) return;
      seen.set(m.name, m.state);
      // Never throw into the product's emit loop: a throwing step rejects this wait instead.
      try {
        const v = step(m);
        if (v !== undefined) finish(null, v);
      } catch (err) {
        finish(err as Error);
      }
    });
    try {
      const v = o.initial?.();
      if (v !== undefined) return finish(null, v);
    } catch (err) {
      return finish(err as Error);
    }
    timer = setTimeout(() => {
      const last = o.describe?.() ?? ([...seen].map(([n, s]) => `${n}=${s}`).join(', ') || 'no model change');
      finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last seen: ${last})`));
    }, timeoutMs);
    timer.unref(); // a test that failed before awaiting must not be kept alive by this timer
  });
  p.catch(() => {}); // handled here; the caller's await still sees the rejection
  return p;
}

/** The next model change that satisfies `predicate` (changes before the call are not seen: subscribe first). */
export function nextModelState(
  coordinator: ModelEvents,
  predicate: (m: ModelView) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<ModelView> {
  return watchModelsUntil(coordinator, (m) => (predicate(m) ? m : undefined), what, timeoutMs);
}

/**
 * Resolves when every model in `names` satisfies `predicate`, as the devices report it: checked at once against the
 * current route table, then again at each change. Resolves with the models in the order of `names`.
 * Beware of stale state: while a device restarts, the route table still holds what it reported before going down;
 * make the predicate tell the new state from the old one (e.g. `m.loadedAt > before`).
 * A model that no device holds (registered, not loaded) is not in the route table: wait for it with nextModelState.
 */
export function modelsInState(
  coordinator: ModelEvents,
  names: string[],
  predicate: (m: ModelInfo) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<ModelInfo[]> {
  const latest = new Map<string, ModelInfo | undefined>();
  const check = () => {
    const all = names.map((n) => latest.get(n));
    return all.every((m) => m !== undefined && predicate(m)) ? (all as ModelInfo[]) : undefined;
  };
  return watchModelsUntil(
    coordinator,
    (m) => {
      if (!names.includes(m.name)) return undefined;
      latest.set(m.name, m);
      return check();
    },
    what,
    timeoutMs,
    {
      initial: () => {
        for (const n of names) latest.set(n, coordinator.models.routes.lookup(n));
        return check();
      },
      describe: () =>
        names
          .map((n) => {
            const m = latest.get(n);
            return `${n}=${m ? `${m.state} loadedAt ${m.loadedAt}` : 'on no device'}`;
          })
          .join(', '),
    },
  );
}

/**
 * The next `event` of an emitter (e.g. 'data' of a gRPC WatchModels stream) whose first argument satisfies
 * `predicate`; `current` is checked right after subscribing (e.g. the last message already received).
 * Rejects on timeout, or if the emitter emits 'error' or 'end' first. Always removes its listeners.
 */
export function nextEvent<T>(
  emitter: EventEmitter,
  event: string,
  predicate: (v: T) => boolean,
  what: string,
  timeoutMs = 30_000,
  current?: () => T | undefined,
): Promise<T> {
  const p = new Promise<T>((resolve, reject) => {
    let last: T | undefined;
    const cleanup = () => {
      clearTimeout(timer);
      emitter.off(event, onEvent);
      emitter.off('error', onError);
      emitter.off('end', onEnd);
    };
    const onEvent = (v: T) => {
      last = v;
      let ok: boolean;
      try {
        ok = predicate(v);
      } catch (err) {
        cleanup();
        return reject(err);
      }
      if (ok) {
        cleanup();
        resolve(v);
      }
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new Error(`${what}: the emitter failed first: ${err.message}`));
    };
    const onEnd = () => {
      cleanup();
      reject(new Error(`${what}: the emitter ended first (last: ${JSON.stringify(last)})`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`));
    }, timeoutMs);
    timer.unref();
    emitter.on(event, onEvent);
    emitter.once('error', onError);
    emitter.once('end', onEnd);
    const now = current?.();
    if (now !== undefined) onEvent(now);
  });
  p.catch(() => {});
  return p;
}
