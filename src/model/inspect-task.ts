/**
 * piscina task: sha256 of the whole file (streamed, 1 MiB chunks) and its validated GGUF header. Runs on the
 * inspector's worker pool so hashing a multi-gigabyte file never blocks an actor. Errors cross the thread as
 * plain data ({ error }) because class identity does not survive the structured clone; the pool rehydrates them.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { toMocError, type ErrorData } from '../errors.js';
import { parseGgufHeader, type GgufHeader } from './gguf-header.js';

export type InspectResult = { sha256: string; bytes: number; header: GgufHeader } | { error: ErrorData };

export default async function inspect({ path }: { path: string }): Promise<InspectResult> {
  try {
    const header = parseGgufHeader(path); // cheap, and refuses garbage before we hash gigabytes of it
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
    return { sha256: hash.digest('hex'), bytes, header };
  } catch (err) {
    return { error: toMocError(err).toData() };
  }
}
