/**
 * The one reader of dataset lines (JSON lines), for every job that reads a dataset: evaluate and a fine-tune's
 * evaluation (actors/jobs/dataset.ts, `jsonLines`) and prepare-dataset (src/model/dataset-task.ts), so a line one of
 * them takes the other takes too. A line is the bytes up to '\n', at most MAX_LINE_BYTES (a longer one is reported
 * without being held whole); a blank line (ASCII whitespace only) is skipped; a line is strict UTF-8 (an invalid byte
 * is refused, never read as U+FFFD) holding one JSON object.
 */
import { createReadStream } from 'node:fs';
import { jsonObject } from './json-object.js';

/** A dataset line longer than this is refused (a text for evaluation must fit a context anyway). */
export const MAX_LINE_BYTES = 1024 * 1024;

/** Lines as Buffers with their 1-based numbers; a line over `max` bytes comes back as `null` without being held whole. */
export async function* boundedLines(
  file: string,
  max = MAX_LINE_BYTES,
  onBytes: (n: number) => void = () => undefined,
): AsyncGenerator<{ line: number; data: Buffer | null }> {
  let parts: Buffer[] = [];
  let held = 0;
  let tooLong = false;
  let n = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 16 }) as AsyncIterable<Buffer>) {
    let start = 0;
    for (let nl = chunk.indexOf(10, start); ; nl = chunk.indexOf(10, start)) {
      const end = nl === -1 ? chunk.length : nl;
      if (!tooLong) {
        if (held + end - start > max) {
          tooLong = true;
          parts = [];
          held = 0;
        } else if (end > start) {
          parts.push(chunk.subarray(start, end));
          held += end - start;
        }
      }
      if (nl === -1) break;
      n++;
      yield { line: n, data: tooLong ? null : Buffer.concat(parts, held) };
      parts = [];
      held = 0;
      tooLong = false;
      start = nl + 1;
    }
    onBytes(chunk.length);
  }
  if (held > 0 || tooLong) yield { line: n + 1, data: tooLong ? null : Buffer.concat(parts, held) };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A line's object, or why it is none ('over N bytes', 'not valid UTF-8', 'not JSON', 'not a JSON object'). */
export function lineObject(data: Buffer | null, max = MAX_LINE_BYTES): Record<string, unknown> | string {
  if (data === null) return `over ${max} bytes`;
  let text: string;
  try {
    text = utf8.decode(data);
  } catch {
    return 'not valid UTF-8';
  }
  return jsonObject(text);
}

const isWs = (b: number) => b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0a;
export function leadingWs(b: Buffer): number {
  let i = 0;
  while (i < b.length && isWs(b[i]!)) i++;
  return i;
}
export function trailingWs(b: Buffer): number {
  let i = 0;
  while (i < b.length && isWs(b[b.length - 1 - i]!)) i++;
  return i;
}
/** Whitespace only (or nothing): skipped by every reader, not counted as a line of data. */
export const isBlank = (data: Buffer | null) => data !== null && leadingWs(data) === data.length;
