/**
 * The engine's pool of a model's sequences (actors/device/sequence-pool.ts), on stand-in sequences: a request that
 * finds every sequence taken waits for one (the device may send the next request while the engine still unwinds a
 * cancelled one) instead of being refused Busy; it stops waiting when its signal aborts; waiters are served in order;
 * what a sequence holds is kept for its scope, cleared for anyone else and when the cache is off.
 */
import t from 'tap';
import type { LlamaContext, Token } from 'node-llama-cpp';
import { SequencePool } from '../../actors/device/sequence-pool.js';

/** A sequence that holds `tokens` (what a generation on it would leave), with node-llama-cpp's methods the pool uses. */
function fakeContext(count: number) {
  const seqs = Array.from({ length: count }, (_, id) => {
    const s = {
      id,
      tokens: [] as number[],
      cleared: 0,
      get nextTokenIndex() {
        return s.tokens.length;
      },
      compareContextTokens(p: Token[]) {
        let i = 0;
        while (i < s.tokens.length && i < p.length && s.tokens[i] === (p[i] as unknown as number)) i++;
        return { firstDifferentIndex: i };
      },
      async clearHistory() {
        s.tokens = [];
        s.cleared++;
      },
    };
    return s;
  });
  let next = 0;
  const context = { totalSequences: count, getSequence: () => seqs[next++] } as unknown as LlamaContext;
  return { context, seqs };
}
const toks = (...n: number[]) => n as unknown as Token[];
const never = new AbortController().signal;
const aborted = () => new Error('cancelled');

t.test('every sequence taken: the next take waits, in order, and is served by the next give', async (t) => {
  const { context } = fakeContext(1);
  const pool = new SequencePool(context, 16);
  const first = await pool.take(toks(1, 2), 'a', never, aborted);
  const order: string[] = [];
  const served =
    (name: string) =>
    <T>(x: T) => {
      order.push(name);
      return x;
    };
  const second = pool.take(toks(1, 2), 'a', never, aborted).then(served('second'));
  const third = pool.take(toks(1, 2), 'a', never, aborted).then(served('third'));
  await new Promise((r) => setTimeout(r, 20));
  t.same(order, [], 'both wait while the one sequence is out');
  await pool.give(first.seq, 'a', true);
  const s = await second;
  t.equal(s.seq, first.seq, 'the first waiter gets it');
  await pool.give(s.seq, 'a', true);
  await third;
  t.same(order, ['second', 'third'], 'in the order they asked');
});

t.test('a waiting take stops when its signal aborts, and leaves no waiter behind', async (t) => {
  const { context } = fakeContext(1);
  const pool = new SequencePool(context, 16);
  const first = await pool.take(toks(1), 'a', never, aborted);
  const ac = new AbortController();
  const waiting = pool.take(toks(1), 'a', ac.signal, aborted);
  ac.abort();
  await t.rejects(waiting, { message: 'cancelled' });
  await pool.give(first.seq, 'a', true);
  const again = await pool.take(toks(1), 'a', never, aborted);
  t.equal(again.seq, first.seq, 'the sequence went to the next taker, not to the aborted one');
});

t.test('what a sequence holds: kept for its scope, cleared for another and when the cache is off', async (t) => {
  const { context, seqs } = fakeContext(1);
  const pool = new SequencePool(context, 16);
  const a = await pool.take(toks(1, 2, 3, 4), 'a', never, aborted);
  seqs[0]!.tokens = [1, 2, 3, 4, 5]; // what the generation evaluated
  await pool.give(a.seq, 'a', true);
  t.equal((await pool.take(toks(1, 2, 3, 9), 'a', never, aborted)).cached, 3, 'a: its prefix found');
  await pool.give(seqs[0] as never, 'a', true);
  const b = await pool.take(toks(1, 2, 3, 9), 'b', never, aborted);
  t.equal(b.cached, 0, 'b: nothing of a’s');
  t.same(seqs[0]!.tokens, [], 'a’s tokens cleared before b got the sequence');
  seqs[0]!.tokens = [7, 8];
  await pool.give(b.seq, undefined, true);
  t.same(seqs[0]!.tokens, [], 'cache off: cleared when given back');
  seqs[0]!.tokens = [7, 8];
  await pool.give((await pool.take(toks(7, 8, 9), 'c', never, aborted)).seq, 'c', false);
  t.same(seqs[0]!.tokens, [], 'a failed request: cleared');
  t.equal(pool.usage(), 0, 'usage: nothing held');
});
