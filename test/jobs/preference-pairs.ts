/** Preference pairs a DPO run can learn from in seconds: varied prompts, always " sure." over " nope.". */
import { prng } from '../../src/model/demo-model.js';

export interface PairLine {
  prompt: string;
  chosen: string;
  rejected: string;
}

/** 32 pairs to train on, 24 held out: prompts of one small grammar, the same two answers (of one length) for all. */
export function preferencePairs(): { train: PairLine[]; held: PairLine[] } {
  const subjects = ['the cat', 'the dog', 'a bird', 'my friend', 'the old man', 'a child'];
  const verbs = ['sees', 'likes', 'finds', 'wants', 'takes'];
  const objects = ['the red ball', 'a green apple', 'the blue box', 'a small stone'];
  const all = subjects.flatMap((s) => verbs.flatMap((v) => objects.map((o) => `${s} ${v} ${o}?`)));
  const rand = prng(3);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  const line = (prompt: string) => ({ prompt, chosen: ' sure.', rejected: ' nope.' });
  return { train: all.slice(0, 32).map(line), held: all.slice(32, 56).map(line) };
}
