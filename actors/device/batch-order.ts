/**
 * node-llama-cpp's batches in sequence-id order, so that llama.cpp decodes a step of many sequences as one pass over
 * the weights instead of several (issue 25; docs/performance.md, "Where the engine's CPU goes").
 *
 * node-llama-cpp creates every context with `kv_unified = false` (its AddonContext.cpp, not an option), so a context
 * of N sequences keeps N KV streams, and llama.cpp splits a batch for such a cache with `split_equal(n_ubatch,
 * sequential = true)`: a ubatch takes sequences only in increasing, consecutive id order as they come in the batch
 * (0,1,2 together; 2,0,1 as three). Each ubatch is a separate pass over all the weights. node-llama-cpp adds decodes to
 * a batch in the order they were queued, which is the order the sequences' previous tokens finished sampling: nearly
 * random. llama-server adds its slots' tokens in slot order, so all busy slots of a step are one ubatch.
 *
 * The context's queue of pending decodes (`_queuedDecodes`, internal to node-llama-cpp 3.x) is kept sorted by
 * sequence id as decodes are queued: its batch builder walks that queue in order, so each batch comes out sorted.
 *
 * Sorted is not yet together: node-llama-cpp builds the next batch as soon as the last one's results are handed out,
 * and a sequence whose consumer has not re-queued by then (a few microtask hops late) is decoded alone right after,
 * and stays a step behind. With `waitTurn`, each decode's after-batch step (which node-llama-cpp awaits before the
 * next batch) also waits one event-loop turn, shared by the whole batch: every sequence of a step has re-queued by
 * then, as llama-server's slots all step together.
 */
import type { LlamaContext } from 'node-llama-cpp';

interface QueuedDecode {
  sequenceId: number;
  afterBatchAction?: (sequenceStateLength: number) => unknown;
}

/** Keeps `context`'s pending decodes sorted by sequence id; returns false where node-llama-cpp has no such queue. */
export function orderDecodesBySequence(context: LlamaContext, o: { waitTurn?: boolean } = {}): boolean {
  const queue = (context as unknown as { _queuedDecodes?: QueuedDecode[] })._queuedDecodes;
  if (!Array.isArray(queue)) return false;
  let turn: Promise<void> | undefined;
  const nextTurn = () =>
    (turn ??= new Promise<void>((resolve) =>
      setImmediate(() => {
        turn = undefined;
        resolve();
      }),
    ));
  const push = (...items: QueuedDecode[]): number => {
    for (const item of items) {
      if (o.waitTurn) {
        const after = item.afterBatchAction;
        item.afterBatchAction = (length) => {
          const r = after?.(length);
          return r instanceof Promise ? Promise.all([r, nextTurn()]) : nextTurn();
        };
      }
      let i = queue.length;
      while (i > 0 && queue[i - 1]!.sequenceId > item.sequenceId) i--;
      queue.splice(i, 0, item);
    }
    return queue.length;
  };
  Object.defineProperty(queue, 'push', { value: push, configurable: true, writable: true });
  return true;
}
