/**
 * The prompt cache's choice of a free sequence (actors/device/prompt-cache.ts), on slots described by their tokens:
 * the longest prefix of the caller's own, never another caller's; an empty sequence before a poor match; the least
 * recently used one dropped when nothing else is free.
 */
import t from 'tap';
import type { Token } from 'node-llama-cpp';
import { type CacheSlot, chooseSlot } from '../../actors/device/prompt-cache.js';

const toks = (...n: number[]) => n as unknown as Token[];
function slot(scope: string | undefined, lastUsed: number, tokens: number[]): CacheSlot {
  return {
    scope,
    lastUsed,
    held: tokens.length,
    shared: (p) => {
      let i = 0;
      while (i < tokens.length && i < p.length && tokens[i] === (p[i] as unknown as number)) i++;
      return i;
    },
  };
}

t.test('the longest prefix among the caller’s own sequences; at most all but the last prompt token', async (t) => {
  const slots = [slot('a', 1, [1, 2, 3]), slot('a', 2, [1, 2, 3, 4, 5, 6]), slot(undefined, 0, [])];
  t.same(chooseSlot(slots, toks(1, 2, 3, 4, 5, 6, 7), 'a'), { index: 1, reuse: 6, clear: false });
  // The whole prompt cached: the last token is evaluated again (its logits give the first generated token).
  t.same(chooseSlot(slots, toks(1, 2, 3, 4, 5, 6), 'a'), { index: 1, reuse: 5, clear: false });
  t.same(chooseSlot(slots, toks(1, 2, 3, 9), 'a'), { index: 1, reuse: 3, clear: false }, 'a tie goes to the newer');
});

t.test('another caller’s tokens are never reused, and dropped when its sequence is taken', async (t) => {
  const slots = [slot('b', 1, [1, 2, 3, 4]), slot(undefined, 0, [])];
  t.same(chooseSlot(slots, toks(1, 2, 3, 4, 5), 'a'), { index: 1, reuse: 0, clear: false }, 'the empty one');
  t.same(chooseSlot([slots[0]!], toks(1, 2, 3, 4, 5), 'a'), { index: 0, reuse: 0, clear: true }, 'b’s, cleared');
});

t.test('a poor match leaves a long history alone while an empty sequence is free', async (t) => {
  const long = slot('a', 5, [1, 2, 3, 4, 5, 6, 7, 8]);
  t.same(chooseSlot([long, slot(undefined, 0, [])], toks(1, 9), 'a'), { index: 1, reuse: 0, clear: false });
  t.same(chooseSlot([long], toks(1, 9), 'a'), { index: 0, reuse: 1, clear: false }, 'nothing else free: reused');
});

t.test('nothing of its own: the least recently used sequence gives up its tokens', async (t) => {
  const slots = [slot('b', 7, [1]), slot('c', 3, [2]), slot('a', 9, [3])];
  t.same(chooseSlot(slots, toks(4, 5), 'a'), { index: 1, reuse: 0, clear: true });
  t.throws(() => chooseSlot([], toks(1), 'a'));
});
