/**
 * Dataset files live in one folder (jobs.datasetsRoot), as models live in the models root: a client names them by a
 * relative path, which must stay inside the root after symlinks resolve. JSONL is read line by line (a dataset may be
 * larger than memory), with each line's size bounded.
 */
import { createReadStream } from 'node:fs';
import { mkdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { errors } from '../../src/errors.js';
import { jsonObject } from '../../src/json-object.js';

/** A dataset line longer than this is refused (a text for evaluation must fit a context anyway). */
export const MAX_LINE_BYTES = 1024 * 1024;

/** The shape of a dataset path (relative, no '..'): checked at submit; the file itself when the job runs. */
export function checkRelative(field: string, relative: string): void {
  if (path.isAbsolute(relative))
    throw errors.datasetPath(
      field,
      `'${relative}' is absolute; give a path relative to the datasets root (jobs.datasetsRoot)`,
    );
  if (relative.split(/[\\/]/).includes('..'))
    throw errors.datasetPath(field, `'${relative}' contains '..'; give a path inside the datasets root`);
  if (relative.includes('\0')) throw errors.datasetPath(field, 'contains a NUL byte');
  // '.', './', '': the root itself, which no file is (realpath would find it, and call it "outside").
  if (path.normalize(relative || '.').replace(/[\\/]+$/, '') === '.')
    throw errors.datasetPath(
      field,
      `'${relative}' names the datasets root itself; name a file under it (jobs.datasetsRoot), e.g. data/train.jsonl`,
    );
}

async function realRoot(root: string): Promise<string> {
  await mkdir(root, { recursive: true });
  return realpath(root);
}

/** An existing dataset file: its real path, checked to be a regular file inside the root. */
export async function resolveDataset(root: string, relative: string, field = 'spec.dataset'): Promise<string> {
  checkRelative(field, relative);
  const base = await realRoot(root);
  const real = await realpath(path.join(base, relative)).catch(() => {
    throw errors.datasetPath(
      field,
      `'${relative}' does not exist in the datasets root (jobs.datasetsRoot); upload it there first`,
    );
  });
  if (!real.startsWith(base + path.sep))
    throw errors.datasetPath(
      field,
      `'${relative}' resolves ${real === base ? 'to the datasets root itself' : 'outside the datasets root (a symlink?)'}; name a file under the root (jobs.datasetsRoot)`,
    );
  if (!(await stat(real)).isFile()) throw errors.datasetPath(field, `'${relative}' is not a regular file`);
  return real;
}

/** Where a job may write a new dataset file: inside the root, its folder created. */
export async function datasetOutput(root: string, relative: string, field = 'spec.output'): Promise<string> {
  checkRelative(field, relative);
  const base = await realRoot(root);
  const file = path.join(base, relative);
  await mkdir(path.dirname(file), { recursive: true });
  const dir = await realpath(path.dirname(file));
  if (dir !== base && !dir.startsWith(base + path.sep))
    throw errors.datasetPath(field, `'${relative}' resolves outside the datasets root (symlink?)`);
  return path.join(dir, path.basename(file));
}

/** The JSONL lines of a file, parsed, with their 1-based line numbers; blank lines skipped; a bad line is refused. */
export async function* jsonLines(
  file: string,
  signal?: AbortSignal,
): AsyncGenerator<{ line: number; value: Record<string, unknown> }> {
  const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const text of rl) {
      n++;
      signal?.throwIfAborted();
      if (text.trim() === '') continue;
      if (Buffer.byteLength(text) > MAX_LINE_BYTES)
        throw errors.jobFailed(`dataset line ${n} is over ${MAX_LINE_BYTES} bytes`);
      const value = jsonObject(text);
      if (typeof value === 'string') throw errors.jobFailed(`dataset line ${n} is ${value}`);
      yield { line: n, value };
    }
  } finally {
    rl.close();
  }
}
