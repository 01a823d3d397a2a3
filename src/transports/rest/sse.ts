/**
 * Server-Sent Events over one uWS response, with backpressure: `event: token` per token, then `event: done` with
 * the full InferResponse, or `event: error` with the error body (the same JSON as any other route's error).
 *
 * Events go to uWS in pieces of at most PIECE_BYTES, and only while the socket takes them: once uWS reports
 * backpressure (write returns false), the rest waits here, in order, until uWS says the socket is writable again
 * (onWritable), and the response ends only after the last piece. A reader that stops reading would make that queue
 * grow without bound, so the stream is cut and the generation cancelled (onSlowReader), freeing its sequence for
 * readers that keep up — when the reader stalls, not when an answer is large:
 * - it is cut when the socket has taken nothing for `stallMs` while more than `backlogBytes` wait (or the stream's
 *   end waits: a finished answer is not held for a reader that does not read);
 * - one that still takes a little but falls ever further behind is cut past `hardCapBytes` (once it has had stallMs
 *   to catch up: a burst written at once, such as a long answer's logprobs, is not falling behind).
 * A client that reads at full speed is never cut, however large an event.
 */
import { toMocError } from '../../errors.js';
import type { Exchange } from './exchange.js';

/** The largest piece of an event handed to uWS at once (writePieces). */
const PIECE_BYTES = 8 * 1024;

export interface SseLimits {
  /** Unsent bytes a stalled reader may hold (it is cut once more wait and its socket has taken nothing for stallMs). */
  backlogBytes: number;
  /** How long the socket may take nothing while more than backlogBytes, or the stream's end, wait. */
  stallMs: number;
  /** Unsent bytes past which a stream is cut even though the reader still takes some (it falls ever further behind). */
  hardCapBytes: number;
}

/** Why a stream was cut: what was still queued, and for how long the socket had taken none of it. */
export interface SlowReader {
  backlogBytes: number;
  stalledMs: number;
}

export class SseStream {
  /** Pieces uWS has not been given yet (it reported backpressure), in order, and their bytes. */
  private readonly queue: Buffer[] = [];
  private queued = 0;
  /** uWS reported backpressure: nothing more is written until onWritable. */
  private waiting = false;
  private writableHandler = false;
  /** When the socket last took something (a write that uWS did not hold back, or onWritable). */
  private progressAt = 0;
  /** When the queue began to fill (0: empty). */
  private behindSince = 0;
  private stallTimer: NodeJS.Timeout | undefined;
  /** end() was asked: the response ends once the queue is written. */
  private ending = false;
  private ended = false;
  private cutOff = false;

  constructor(
    private readonly ex: Exchange,
    private readonly limits: SseLimits,
    private readonly onSlowReader: (why: SlowReader) => void,
  ) {}

  start(): void {
    if (!this.ex.open) return;
    this.ex.streamFail = (err) => this.fail(err);
    this.ex.res.cork(() => {
      this.ex.writeHead(200, 'text/event-stream; charset=utf-8', [
        ['x-accel-buffering', 'no'],
        ['connection', 'keep-alive'],
      ]);
      // A comment line flushes the headers at once, so the client knows the stream is accepted before the first token.
      this.writePiece(Buffer.from(': stream open\n\n'));
    });
  }

  event(name: string, data: unknown): void {
    this.send(frame(name, data));
  }

  /** An unnamed event (`data:` only), as OpenAI's streams send them. */
  data(data: unknown): void {
    this.send(frame(null, data));
  }

  /** Last event, then end the response. */
  finish(name: string, data: unknown): void {
    this.end(frame(name, data));
  }

  /** OpenAI's end of stream: `data: [DONE]`, then end the response. */
  done(): void {
    this.end(frame(null, '[DONE]'));
  }

  /** The error as the last event, in the exchange's error shape: `event: error` (ours), a bare `data:` (OpenAI's). */
  fail(err: unknown): void {
    const body = this.ex.errorBody(toMocError(err));
    this.end(this.ex.openai ? frame(null, body) : frame('error', body));
  }

  private send(text: string): void {
    if (!this.ex.open) return;
    this.enqueue(text);
    this.pump();
  }

  private end(text: string): void {
    if (!this.ex.open) return;
    this.enqueue(text);
    this.ending = true;
    // Logically answered: nothing else may write to the exchange; the queue still goes out.
    this.ex.finished = true;
    this.pump();
  }

  private enqueue(text: string): void {
    const bytes = Buffer.from(text, 'utf8');
    for (let at = 0; at < bytes.length; at += PIECE_BYTES) this.queue.push(bytes.subarray(at, at + PIECE_BYTES));
    if (!this.queued && bytes.length) this.behindSince = performance.now();
    this.queued += bytes.length;
  }

  /**
   * Hands uWS queued pieces, each in its own cork, until it reports backpressure, then waits for onWritable. Never
   * called inside a cork: uWS 20.30 garbles the chunked framing when the writes of one cork pass its 16 KiB cork
   * buffer while the socket has backpressure (the client sees a broken chunk and resets; seen with 20 KiB logprobs
   * events through the REST front).
   */
  private pump(): void {
    while (!this.waiting && this.queue.length) {
      if (this.ex.aborted || this.cutOff) return;
      const piece = this.queue.shift()!;
      this.queued -= piece.length;
      if (!this.queued) this.behindSince = 0;
      this.ex.res.cork(() => this.writePiece(piece));
    }
    if (this.ex.aborted || this.cutOff) return;
    if (!this.waiting && this.ending && !this.ended) {
      this.ended = true;
      this.clearStall();
      // Never end(…, closeConnection) here: once the body is chunked, uWS 20.30 writes its `Connection: close`
      // header into the body and breaks the chunk framing. Whoever wants the connection closed closes it after.
      this.ex.res.cork(() => this.ex.res.end());
      return;
    }
    const now = performance.now();
    if (this.queued > this.limits.hardCapBytes && now - this.behindSince > this.limits.stallMs) this.cut();
  }

  private writePiece(piece: Buffer): void {
    if (this.ex.res.write(piece)) this.progressAt = performance.now();
    else this.wait();
  }

  private wait(): void {
    this.waiting = true;
    if (!this.writableHandler) {
      this.writableHandler = true;
      this.ex.res.onWritable(() => {
        // The socket took some of what uWS held: the reader is reading. The queue goes on outside this callback
        // (uWS corks it, see pump); the next write sends first what uWS still holds.
        this.waiting = false;
        this.progressAt = performance.now();
        setImmediate(() => this.pump());
        return true;
      });
    }
    if (!this.stallTimer) this.armStall(this.limits.stallMs);
  }

  private armStall(ms: number): void {
    this.stallTimer = setTimeout(() => {
      this.stallTimer = undefined;
      if (!this.waiting || this.ended || this.cutOff || this.ex.aborted) return;
      const idle = performance.now() - this.progressAt;
      if (idle >= this.limits.stallMs && (this.queued > this.limits.backlogBytes || this.ending)) return this.cut();
      this.armStall(Math.max(10, this.limits.stallMs - idle));
    }, ms);
    this.stallTimer.unref();
  }

  private cut(): void {
    if (this.cutOff || this.ended || this.ex.aborted) return;
    this.cutOff = true;
    const why = {
      backlogBytes: this.queued,
      stalledMs: Math.round(performance.now() - this.progressAt),
    };
    this.clearStall();
    this.queue.length = 0;
    this.queued = 0;
    this.ex.finished = true;
    this.ex.res.close(); // cut the connection: no more writes will happen on it
    this.onSlowReader(why);
  }

  private clearStall(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
  }
}

/** One SSE event: `event:` line when named; data as given when a string, else its JSON. */
function frame(name: string | null, data: unknown): string {
  return `${name ? `event: ${name}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}
