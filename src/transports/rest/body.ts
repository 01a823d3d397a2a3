/**
 * Request bodies on uWS, capped. uWS has no body limit of its own, and hands out chunks whose ArrayBuffer is only
 * valid during the callback, so each chunk is copied. onData must be attached in the handler's synchronous part
 * (later, the data is gone): readBody is called before any await.
 */
import { errors, type MocError } from '../../errors.js';
import type { Exchange } from './exchange.js';

export interface BodyResult {
  ok: true;
  body: Buffer;
}
export interface BodyRefused {
  ok: false;
  error: MocError;
}

/**
 * uWS closes a connection whose body brings less than 16 KiB a second — 160 KiB within its 10 s idle timeout, which
 * its timer granularity (4 s ticks) fires 8 to 12 s after it was set — without a word to the client or to us
 * (HTTP_RECEIVE_THROUGHPUT_BYTES and HTTP_IDLE_TIMEOUT_S in uWS's HttpContext.h). So we keep the same window, a
 * little shorter: a body that has not brought BODY_WINDOW_BYTES within BODY_WAIT_MS of the headers (or of the last
 * window) is answered 408 MOC_ERR_BODY_TIMEOUT and the connection closed, before uWS cuts it silently.
 */
export const BODY_WAIT_MS = 7000;
export const BODY_WINDOW_BYTES = 16 * 1024 * 10;

/**
 * Resolves with the whole body, or with a refusal as soon as it passes `limit` bytes (the rest is not buffered),
 * or with MOC_ERR_CANCELLED when the client hangs up mid-body: a promise left pending would keep the request
 * in flight forever and hold graceful shutdown for its whole grace. A body that comes too slowly (above) resolves
 * with MOC_ERR_BODY_TIMEOUT. `declared`: its Content-Length, for the message.
 */
export function readBody(ex: Exchange, limit: number, declared = 0): Promise<BodyResult | BodyRefused> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let windowBytes = 0;
    let settled = false; // resolved (whole body, refusal or hang-up): later chunks are dropped
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      chunks.length = 0;
      resolve({ ok: false, error: errors.bodyTimeout(size, declared, BODY_WAIT_MS, BODY_WINDOW_BYTES) });
    }, BODY_WAIT_MS).unref();
    ex.onAbort(() => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      chunks.length = 0;
      resolve({
        ok: false,
        error: errors.cancelled('the request (the client closed the connection during the upload)'),
      });
    });
    ex.res.onData((chunk, isLast) => {
      if (settled) return;
      size += chunk.byteLength;
      windowBytes += chunk.byteLength;
      if (windowBytes >= BODY_WINDOW_BYTES) {
        windowBytes = 0; // as uWS resets its idle timeout
        timer.refresh();
      }
      if (size > limit) {
        clearTimeout(timer);
        settled = true;
        chunks.length = 0;
        resolve({ ok: false, error: errors.tooLarge('the request body', `over ${limit}`, limit, 'rest.maxBodyBytes') });
        return;
      }
      // Copy: uWS reuses the chunk's memory once this callback returns.
      chunks.push(Buffer.from(chunk.slice(0)));
      if (isLast) {
        clearTimeout(timer);
        settled = true;
        resolve({ ok: true, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) });
      }
    });
  });
}

/** JSON body → value; an empty body is `{}` (routes whose fields are all optional accept no body). */
export function parseJson(body: Buffer): unknown {
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw errors.invalidArgument(
      'body',
      `is not valid JSON (${(err as Error).message}); send a JSON object with content-type application/json`,
    );
  }
}
