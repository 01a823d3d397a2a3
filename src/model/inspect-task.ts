/**
 * piscina task: the validated GGUF header of a file and the sha256 of all of it (streamed, 1 MiB chunks). Runs on
 * the inspector's worker pool so hashing a multi-gigabyte file never blocks an actor thread.
 *
 * It never throws: errors come back as `{ error: ErrorData }`, because a MocError thrown across the thread would
 * arrive as a plain Error without its code. ModelInspector turns them back into MocErrors.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { MocError, toMocError, type ErrorData } from '../errors.js';
import { parseGgufHeader, type GgufHeader } from './gguf-header.js';

export type InspectResult = { sha256: string; bytes: number; header: GgufHeader } | { error: ErrorData };

export default async function inspect({ path }: { path: string }): Promise<InspectResult> {
  try {
    const header = parseGgufHeader(path); // first: it is cheap and refuses garbage before gigabytes of it are hashed
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.length;
    }
    return { sha256: hash.digest('hex'), bytes, header };
  } catch (err) {
    // An I/O error while hashing (file deleted or unreadable mid-way) is the file's fault, not a bug of ours.
    const io = err instanceof Error && typeof (err as NodeJS.ErrnoException).syscall === 'string';
    const moc = io ? new MocError('MOC_ERR_LOAD_FAILED', `cannot read ${path}: ${err.message}`, { path }) : toMocError(err);
    return { error: moc.toData() };
  }
}
