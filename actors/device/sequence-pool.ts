/**
 * A loaded model's sequences (one context, `sequences` of them), taken by a request and given back, with what each
 * holds kept for the next request: the prompt cache (docs/models.md). Which free sequence a request takes is
 * prompt-cache.ts's decision; this keeps the books it decides on — whose tokens a sequence holds, and since when.
 */
import type { LlamaContext, LlamaContextSequence, Token } from 'node-llama-cpp';
import type { GenerateOutcome } from './engine-protocol.js';
import { chooseSlot } from './prompt-cache.js';

/** The scope of a request that uses no cache: no sequence is ever filled under it, so nothing matches it. */
const NO_CACHE = '\0none';

interface Held {
  /** Whose tokens the sequence holds (undefined: none, or none anyone may reuse). */
  scope: string | undefined;
  lastUsed: number;
}

export interface Taken {
  seq: LlamaContextSequence;
  /** Prompt tokens the sequence already holds, which the generation will not evaluate again. */
  cached: number;
}

/** A free sequence for a prompt, as the sequence will hold its tokens (engine-core's generate hands it out). */
export type TakeSequence = (tokens: Token[]) => Promise<Taken>;
/** A generation's outcome before the pool's figures are added (generate adds them once the sequence is known). */
export type Generated = Omit<GenerateOutcome, 'cachedTokens' | 'kvCacheUsage'>;

export class SequencePool {
  private readonly all: LlamaContextSequence[];
  private readonly free: LlamaContextSequence[];
  private readonly held = new Map<LlamaContextSequence, Held>();
  /** Requests waiting for a sequence, woken in order as sequences come back (see take). */
  private readonly waiting: Array<() => void> = [];
  private uses = 0;

  constructor(
    context: LlamaContext,
    private readonly contextSize: number,
  ) {
    this.all = Array.from({ length: context.totalSequences }, () => context.getSequence());
    this.free = [...this.all];
    for (const s of this.all) this.held.set(s, { scope: undefined, lastUsed: 0 });
  }

  /**
   * A free sequence for a prompt that the sequence will hold as `tokens` (with the token a completion puts first), for
   * a request of `scope` (undefined: the cache is off). Chosen and removed from the free list at once (no await
   * between), so concurrent requests never take one sequence twice; another scope's tokens, or any when the cache is
   * off, are cleared before it is handed out.
   *
   * When none is free it waits for one, until `signal` aborts (then it throws `aborted()`). The device sends a model
   * no more requests than it has sequences, but it counts a request as done when its deadline passes or it is
   * cancelled, while the engine is still unwinding it: the next request may arrive a moment before that sequence is
   * given back, and must wait for it, not be refused Busy.
   */
  async take(
    tokens: readonly Token[],
    scope: string | undefined,
    signal: AbortSignal,
    aborted: () => Error,
  ): Promise<Taken> {
    while (this.free.length === 0) {
      if (signal.aborted) throw aborted();
      await new Promise<void>((resolve) => {
        const wake = () => {
          signal.removeEventListener('abort', wake);
          const i = this.waiting.indexOf(wake);
          if (i >= 0) this.waiting.splice(i, 1);
          resolve();
        };
        this.waiting.push(wake);
        signal.addEventListener('abort', wake, { once: true });
      });
    }
    if (signal.aborted) throw aborted();
    const slots = this.free.map((seq) => {
      const h = this.held.get(seq)!;
      return {
        scope: h.scope,
        lastUsed: h.lastUsed,
        held: seq.nextTokenIndex,
        shared: (t: readonly Token[]) => seq.compareContextTokens(t as Token[]).firstDifferentIndex,
      };
    });
    const choice = chooseSlot(slots, tokens, scope ?? NO_CACHE);
    const [seq] = this.free.splice(choice.index, 1);
    // Until it is given back, what it holds is in flux: no one's.
    this.held.set(seq!, { scope: undefined, lastUsed: this.held.get(seq!)!.lastUsed });
    if (choice.clear || (scope === undefined && seq!.nextTokenIndex > 0)) await seq!.clearHistory();
    return { seq: seq!, cached: choice.reuse };
  }

  /**
   * A sequence back. `keep`: what it holds stays for `scope`'s next requests (a request that ended as it should);
   * otherwise (cache off, a failure, a cancellation mid-step) it is cleared: the next request must not see tokens no
   * one may reuse.
   */
  async give(seq: LlamaContextSequence, scope: string | undefined, keep: boolean): Promise<void> {
    if (keep && scope !== undefined) this.held.set(seq, { scope, lastUsed: ++this.uses });
    else {
      this.held.set(seq, { scope: undefined, lastUsed: 0 });
      await seq.clearHistory().catch(() => {});
    }
    this.free.push(seq);
    this.waiting[0]?.();
  }

  /** Tokens all sequences hold over what they can hold (0–1): the KV cache's usage. */
  usage(): number {
    const held = this.all.reduce((n, s) => n + s.nextTokenIndex, 0);
    return Math.min(1, held / (this.contextSize * this.all.length));
  }
}
