/** Generated data the lora trainer learns from in seconds: sentences of one grammar, and preference pairs over them. */
import { prng } from '../../src/model/demo-model.js';

export interface PairLine {
  prompt: string;
  chosen: string;
  rejected: string;
}

/** The 120 sentences of one small grammar ending in `end`, shuffled with a fixed seed. */
export function sentences(end: string): string[] {
  const subjects = ['the cat', 'the dog', 'a bird', 'my friend', 'the old man', 'a child'];
  const verbs = ['sees', 'likes', 'finds', 'wants', 'takes'];
  const objects = ['the red ball', 'a green apple', 'the blue box', 'a small stone'];
  const all = subjects.flatMap((s) => verbs.flatMap((v) => objects.map((o) => `${s} ${v} ${o}${end}`)));
  const rand = prng(3);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all;
}

/** 32 pairs to train on, 24 held out: prompts of one small grammar, the same two answers (of one length) for all. */
export function preferencePairs(): { train: PairLine[]; held: PairLine[] } {
  const all = sentences('?');
  const line = (prompt: string) => ({ prompt, chosen: ' sure.', rejected: ' nope.' });
  return { train: all.slice(0, 32).map(line), held: all.slice(32, 56).map(line) };
}
