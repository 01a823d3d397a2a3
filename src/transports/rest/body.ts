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
 * Resolves with the whole body, or with a refusal as soon as it passes `limit` bytes (the rest is not buffered),
 * or with MOC_ERR_CANCELLED when the client hangs up mid-body: a promise left pending would keep the request
 * in flight forever and hold graceful shutdown for its whole grace.
 */
export function readBody(ex: Exchange, limit: number): Promise<BodyResult | BodyRefused> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false; // resolved (whole body, refusal or hang-up): later chunks are dropped
    ex.onAbort(() => {
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
      if (size > limit) {
        settled = true;
        chunks.length = 0;
        resolve({ ok: false, error: errors.tooLarge('the request body', `over ${limit}`, limit, 'rest.maxBodyBytes') });
        return;
      }
      // Copy: uWS reuses the chunk's memory once this callback returns.
      chunks.push(Buffer.from(chunk.slice(0)));
      if (isLast) {
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
