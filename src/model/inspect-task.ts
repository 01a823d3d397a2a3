/**
 * piscina task: the validated GGUF header of a file and the sha256 of all of it (streamed, 1 MiB chunks). Runs on
 * the inspector's worker pool so hashing a multi-gigabyte file never blocks an actor thread.
 *
 * It never throws: errors come back as `{ error: ErrorData }`, because a MocError thrown across the thread would
 * arrive as a plain Error without its code. ModelInspector turns them back into MocErrors.
 */
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import path from 'node:path';
import { errors, toMocError, type ErrorData } from '../errors.js';
import { ioProblem, parseGgufHeader, type GgufHeader } from './gguf-header.js';

export type InspectResult = { sha256: string; bytes: number; header: GgufHeader } | { error: ErrorData };

export interface InspectTask {
  path: string;
  /** Messages name the file relative to this directory (the models root), not by its absolute path. */
  root?: string;
  /** Validate the header only: no sha256 (''), bytes from stat. For a re-check at load, where hashing costs too much. */
  headerOnly?: boolean;
}

export default async function inspect({ path: file, root, headerOnly }: InspectTask): Promise<InspectResult> {
  const shown = root ? path.relative(root, file) : file;
  try {
    const header = parseGgufHeader(file, shown); // first: it is cheap and refuses garbage before gigabytes of it are hashed
    if (headerOnly) return { sha256: '', bytes: statSync(file).size, header };
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.length;
    }
    return { sha256: hash.digest('hex'), bytes, header };
  } catch (err) {
    // An I/O error while hashing (file deleted or unreadable mid-way) is the file's fault, not a bug of ours.
    const io = err instanceof Error && typeof (err as NodeJS.ErrnoException).syscall === 'string';
    const moc = io ? errors.fileUnreadable('read', shown, ioProblem(err)) : toMocError(err);
    return { error: moc.toData() };
  }
}
