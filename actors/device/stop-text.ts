/**
 * Stop strings, matched on the text the client sees. node-llama-cpp's own detector never matched a stop string with a
 * space in it on the demo model ("L *", " ", "5 ": measured; the same strings without spaces stopped): it is fed
 * each token's text without the leading space a SentencePiece token carries. So a request's stop strings are matched
 * here, on the text as it is streamed, and the generation is stopped by its own abort signal when one is found. Text
 * that could be the start of a stop string is held back until the next piece says whether it is: a client never sees
 * any part of a stop string, streamed or not (OpenAI's and llama-server's behaviour).
 */
export class StopText {
  private out = '';
  private held = '';
  private hit = false;

  constructor(private readonly stops: readonly string[]) {}

  get stopped(): boolean {
    return this.hit;
  }

  /** All the answer's text so far (what was emitted), ending before the stop string once one matched. */
  get text(): string {
    return this.out;
  }

  /** Feeds a piece of generated text; returns what may be shown now ('' when it is all held or after a stop). */
  feed(piece: string): string {
    if (this.hit) return '';
    const buf = this.held + piece;
    let at = -1;
    for (const s of this.stops) {
      const i = buf.indexOf(s);
      if (i >= 0 && (at < 0 || i < at)) at = i;
    }
    if (at >= 0) {
      this.hit = true;
      this.held = '';
      return this.emit(buf.slice(0, at));
    }
    // Hold the longest end of the text that is the start of a stop string.
    let keep = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, buf.length); n > keep; n--) {
        if (buf.endsWith(s.slice(0, n))) {
          keep = n;
          break;
        }
      }
    }
    this.held = buf.slice(buf.length - keep);
    return this.emit(buf.slice(0, buf.length - keep));
  }

  /** The generation ended without a stop: what was held is the answer's end. */
  end(): string {
    const rest = this.held;
    this.held = '';
    return this.hit ? '' : this.emit(rest);
  }

  private emit(text: string): string {
    this.out += text;
    return text;
  }
}

/**
 * A generation's stop strings as node-llama-cpp options, for both of its generators: the text goes through StopText,
 * and a match stops the generation through an abort signal of its own, with stopOnAbortSignal so node-llama-cpp
 * returns what it generated instead of throwing. Without stop strings the options are the request's signal and
 * onText as they are. `finish()` after the generation: whether a stop string ended it (then `text` is the answer);
 * otherwise what was held back is shown, and node-llama-cpp's response is the answer.
 */
export function withStops(stops: readonly string[], signal: AbortSignal, onText: ((text: string) => void) | undefined) {
  if (!stops.length) {
    return {
      options: { signal, ...(onText ? { onTextChunk: onText } : {}) },
      finish: (): { stopped: boolean; text?: string } => ({ stopped: false }),
    };
  }
  const stopText = new StopText(stops);
  const stopAt = new AbortController();
  const onTextChunk = (piece: string) => {
    const out = stopText.feed(piece);
    if (out) onText?.(out);
    if (stopText.stopped) stopAt.abort();
  };
  return {
    options: { signal: AbortSignal.any([signal, stopAt.signal]), stopOnAbortSignal: true, onTextChunk },
    finish(): { stopped: boolean; text?: string } {
      if (stopText.stopped) return { stopped: true, text: stopText.text };
      const rest = stopText.end();
      if (rest) onText?.(rest);
      return { stopped: false };
    },
  };
}
