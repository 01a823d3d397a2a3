/**
 * Worker side of an actor: runs inside a worker thread, takes frames from the parent port into a bounded mailbox and
 * hands them to the Behavior one at a time, exactly as LocalActor does on the main thread.
 *
 *   parent thread                          worker thread
 *   WorkerRef ──msg(id)/cancel/close──▶    hostActor ─▶ mailbox ─▶ behavior.receive(letter)
 *             ◀──reply/fail/event/credit/notify──┘
 */
import { parentPort } from 'node:worker_threads';
import { errors, MocError, toMocError } from '../errors.js';
import { BoundedQueue } from './bounded-queue.js';
import { Letter } from './letter.js';
import type { FromWorker, ToWorker } from './wire.js';
import type { Behavior, Protocol, Req } from './types.js';

export interface HostedBehavior<P extends Protocol> extends Behavior<P> {
  /** Graceful stop on WorkerRef.close(): finish or fail what is in flight, release resources. */
  close?(): Promise<void>;
}

export interface HostHandle {
  /** Send an unsolicited message to the parent (state changes it should know about). */
  notify(msg: unknown): void;
}

/**
 * `beforeReady`: gets the notify function before 'ready' is posted, so what the behavior reports first (a device's
 * models) reaches the parent before the parent counts the worker as started.
 */
export function hostActor<P extends Protocol>(
  behavior: HostedBehavior<P>,
  window: number,
  beforeReady?: (notify: (msg: unknown) => void) => void,
): HostHandle {
  const port = parentPort;
  if (!port) throw new Error('hostActor must run inside a worker thread');
  const post = (f: FromWorker) => port.postMessage(f);
  const mailbox = new BoundedQueue<Letter<P>>(window);
  const live = new Map<number, Letter<P>>();
  let credits = 0;
  let creditScheduled = false;
  let draining = false;

  const giveCredit = () => {
    credits++;
    if (creditScheduled) return;
    creditScheduled = true;
    // Coalesce: one credit frame per turn of the event loop, not one per message.
    setImmediate(() => {
      creditScheduled = false;
      post({ t: 'credit', n: credits });
      credits = 0;
    });
  };

  const drain = async () => {
    draining = true;
    try {
      for (let letter = mailbox.shift(); letter; letter = mailbox.shift()) {
        giveCredit();
        if (letter.settled) continue;
        try {
          await behavior.receive(letter);
        } catch (err) {
          letter.fail(err);
          // A non-coded throw is a bug: crash the worker loudly so its supervisor restarts it with clean state.
          if (!(err instanceof MocError)) throw err;
        }
      }
    } finally {
      draining = false;
    }
  };

  port.on('message', (frame: ToWorker) => {
    switch (frame.t) {
      case 'msg': {
        const { id } = frame;
        // Posted by the parent's WorkerRef<P>, whose tell/ask take only Req<P>; structured clone keeps the shape.
        const letter = new Letter<P>(id, frame.msg as Req<P>, frame.deadline, frame.oneWay, {
          reply: (value) => {
            live.delete(id);
            if (!frame.oneWay) post({ t: 'reply', id, value });
          },
          fail: (e) => {
            live.delete(id);
            if (!frame.oneWay) post({ t: 'fail', id, error: e.toData() });
          },
          emit: (event) => {
            if (!frame.oneWay) post({ t: 'event', id, event });
          },
        });
        if (!frame.oneWay) live.set(id, letter);
        if (!mailbox.push(letter)) {
          // Cannot happen while the parent respects credits; answer anyway rather than drop.
          letter.fail(errors.busy('worker mailbox', mailbox.capacity));
          giveCredit();
          return;
        }
        if (!draining)
          void drain().catch((err) => {
            queueMicrotask(() => {
              throw err;
            });
          });
        return;
      }
      case 'cancel': {
        const letter = live.get(frame.id);
        live.delete(frame.id);
        letter?.abort(MocError.fromData(frame.reason));
        return;
      }
      case 'close': {
        void (async () => {
          try {
            await behavior.close?.();
          } catch (err) {
            process.emitWarning(`close failed: ${toMocError(err).message}`);
          }
          for (const l of live.values()) l.fail(errors.unavailable('actor closed'));
          post({ t: 'closed' });
          port.close();
        })();
        return;
      }
      default:
        throw new Error(`hostActor: unknown frame ${JSON.stringify(frame)}`);
    }
  });
  const notify = (msg: unknown) => post({ t: 'notify', msg });
  beforeReady?.(notify);
  post({ t: 'ready', window });
  return { notify };
}
