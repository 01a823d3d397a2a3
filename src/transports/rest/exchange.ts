/**
 * One HTTP request/response on uWebSockets.js, made safe to answer from async code.
 *
 * uWS discipline (uNetworking/uWebSockets.js#1296, #273): touching a response after its client aborted crashes the
 * process where no JavaScript can catch it. So onAborted is attached in the constructor, before any await; every
 * write checks `aborted`/`finished` first; each batch of writes is one cork (one syscall, and uWS requires cork
 * outside the handler's synchronous part). The abort also fires `signal`, which cancels the router ask and with it
 * the generation holding a sequence.
 */
import { openAiErrorBody } from '../openai/errors.js';
import type { HttpResponse } from 'uWebSockets.js';
import { toMocError, type MocError } from '../../errors.js';

/** Headers every answer carries: an API that serves JSON to scripts, never to be framed, sniffed or cached. */
const SECURITY_HEADERS: [string, string][] = [
  ['x-content-type-options', 'nosniff'],
  ['x-frame-options', 'DENY'],
  ['content-security-policy', "default-src 'none'; frame-ancestors 'none'"],
  ['referrer-policy', 'no-referrer'],
  ['cache-control', 'no-store'],
];

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Content Too Large',
  414: 'URI Too Long',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  499: 'Client Closed Request',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  507: 'Insufficient Storage',
};
export const statusLine = (code: number) => `${code} ${STATUS_TEXT[code] ?? 'Status'}`;

export class Exchange {
  aborted = false;
  /** The last byte is written (or the connection closed by us). */
  finished = false;
  /** Headers are out (an SSE stream started): errors from now on go in-band. */
  started = false;
  /** Handed to the operation table, which counts its answer in the metrics; a refusal before that is counted here. */
  metered = false;
  private readonly ac = new AbortController();
  readonly signal = this.ac.signal;
  private readonly abortHandlers: (() => void)[] = [];
  /** The OpenAI-compatible routes answer errors in OpenAI's shape (src/transports/openai/errors.ts). */
  openai = false;
  /** Set while a streamed body (SSE) is going out: ends it with an in-band error, since the status line is gone. */
  streamFail: ((err: unknown) => void) | null = null;

  constructor(
    readonly res: HttpResponse,
    /** Extra headers for every answer (CORS for an allowed origin). */
    private readonly extraHeaders: [string, string][],
    /** Close the connection after answering (shutdown, or a body we refused to read). */
    public closeConnection = false,
  ) {
    res.onAborted(() => {
      this.aborted = true;
      this.cancel();
    });
  }

  /**
   * Stop the work behind this exchange (router ask, generation, body read), as a client abort does. The server
   * calls it itself at shutdown, after answering: the answer is out, so nothing will be written any more.
   */
  cancel(): void {
    if (this.ac.signal.aborted) return;
    this.ac.abort();
    for (const h of this.abortHandlers) h();
  }

  /** Answer now with `err` however far the answer got: an in-band SSE error once streaming, a JSON error before. */
  interrupt(err: unknown, retryAfterSeconds: number): void {
    if (!this.open) return;
    this.closeConnection = true;
    if (this.streamFail) this.streamFail(err);
    else if (!this.started) this.error(err, retryAfterSeconds);
    else {
      this.finished = true;
      this.res.close();
    } // headers out, no way to end in-band: only a cut is left
  }

  get open(): boolean {
    return !this.aborted && !this.finished;
  }

  onAbort(h: () => void): void {
    this.abortHandlers.push(h);
  }

  /** Status line + common headers; call inside a cork. */
  writeHead(status: number, contentType: string, headers: [string, string][] = []): void {
    this.res.writeStatus(statusLine(status));
    this.res.writeHeader('content-type', contentType);
    for (const [k, v] of SECURITY_HEADERS) this.res.writeHeader(k, v);
    for (const [k, v] of this.extraHeaders) this.res.writeHeader(k, v);
    for (const [k, v] of headers) this.res.writeHeader(k, v);
    this.started = true;
  }

  json(status: number, body: unknown, headers: [string, string][] = []): void {
    if (!this.open) return;
    const text = JSON.stringify(body);
    this.res.cork(() => {
      this.writeHead(status, 'application/json', headers);
      this.res.end(text, this.closeConnection);
    });
    this.finished = true;
  }

  /** A body that is not JSON (the Prometheus exposition). */
  text(status: number, contentType: string, body: string): void {
    if (!this.open) return;
    this.res.cork(() => {
      this.writeHead(status, contentType);
      this.res.end(body, this.closeConnection);
    });
    this.finished = true;
  }

  empty(status: number, headers: [string, string][] = []): void {
    if (!this.open) return;
    this.res.cork(() => {
      this.res.writeStatus(statusLine(status));
      for (const [k, v] of this.extraHeaders) this.res.writeHeader(k, v);
      for (const [k, v] of headers) this.res.writeHeader(k, v);
      this.res.endWithoutBody(0, this.closeConnection);
    });
    this.finished = true;
  }

  /** The one error shape on every route: `{ error: { code, message, details } }`, 429/503 with Retry-After. */
  error(err: unknown, retryAfterSeconds: number, headers: [string, string][] = []): MocError {
    const e = toMocError(err);
    if (!this.open) return e;
    const h = [...headers];
    if (e.httpStatus === 429 || e.httpStatus === 503) {
      const ms = typeof e.details.retryAfterMs === 'number' ? e.details.retryAfterMs : retryAfterSeconds * 1000;
      h.push(['retry-after', String(Math.max(1, Math.ceil(ms / 1000)))]);
    }
    this.json(e.httpStatus, this.errorBody(e), h);
    return e;
  }

  /** The error's body on this exchange's routes: ours, or OpenAI's shape on the OpenAI routes. */
  errorBody(e: MocError): unknown {
    return this.openai ? openAiErrorBody(e) : { error: { code: e.code, message: e.message, details: e.details } };
  }
}
