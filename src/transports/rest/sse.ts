/**
 * Server-Sent Events over one uWS response, with backpressure: `event: token` per token, then `event: done` with
 * the full InferResponse, or `event: error` with the error body (the same JSON as any other route's error).
 *
 * uWS `write` never refuses data: it buffers what the socket cannot take and returns false. A reader that stops
 * reading would make that buffer grow without bound, so once the unsent backlog passes `maxBacklogBytes` the
 * stream is cut and the generation cancelled (onSlowReader), freeing its sequence for readers that keep up.
 */
import { toMocError } from '../../errors.js';
import type { Exchange } from './exchange.js';

export class SseStream {
  /** Bytes handed to uWS while it reported backpressure (an upper bound of what is still unsent). */
  private backlog = 0;
  private waiting = false;

  constructor(
    private readonly ex: Exchange,
    private readonly maxBacklogBytes: number,
    private readonly onSlowReader: () => void,
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
      this.write(': stream open\n\n');
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
    this.ex.res.cork(() => this.write(text));
  }

  private end(text: string): void {
    if (!this.ex.open) return;
    this.ex.res.cork(() => {
      this.write(text);
      // Never end(…, closeConnection) here: once the body is chunked, uWS 20.30 writes its `Connection: close`
      // header into the body and breaks the chunk framing. Whoever wants the connection closed closes it after.
      if (this.ex.open) this.ex.res.end();
    });
    this.ex.finished = true;
  }

  private write(text: string): void {
    if (!this.ex.open) return;
    const ok = this.ex.res.write(text);
    if (ok) return;
    this.backlog += Buffer.byteLength(text);
    if (this.backlog > this.maxBacklogBytes) {
      this.ex.finished = true;
      this.ex.res.close(); // cut the connection: no more writes will happen on it
      this.onSlowReader();
      return;
    }
    if (!this.waiting) {
      this.waiting = true;
      this.ex.res.onWritable(() => {
        // uWS drained what it held: the reader keeps up again.
        this.waiting = false;
        this.backlog = 0;
        return true;
      });
    }
  }
}

/** One SSE event: `event:` line when named; data as given when a string, else its JSON. */
function frame(name: string | null, data: unknown): string {
  return `${name ? `event: ${name}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}
