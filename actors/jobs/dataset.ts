/**
 * Dataset files live in one folder (jobs.datasetsRoot), as models live in the models root: a client names them by a
 * relative path, which must stay inside the root after symlinks resolve. JSONL is read line by line (a dataset may be
 * larger than memory), with each line's size bounded.
 */
import { randomUUID } from 'node:crypto';
import { link, lstat, mkdir, open, realpath, rename, rm, stat } from 'node:fs/promises';
import { lstatSync } from 'node:fs';
import path from 'node:path';
import { errors } from '../../src/errors.js';
import { boundedLines, isBlank, lineObject } from '../../src/dataset-lines.js';

export { MAX_LINE_BYTES } from '../../src/dataset-lines.js';

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
  await mkdir(path.dirname(file), { recursive: true }).catch((err: NodeJS.ErrnoException) => {
    // A part of the path is a file (ENOTDIR, EEXIST) or the root is not writable: the client's to fix, by name.
    throw err.code === 'ENOTDIR' || err.code === 'EEXIST'
      ? errors.datasetPath(field, `'${relative}': a folder on its path is a file; name a path of folders`)
      : unwritable(field, relative, err);
  });
  const dir = await realpath(path.dirname(file));
  if (dir !== base && !dir.startsWith(base + path.sep))
    throw errors.datasetPath(field, `'${relative}' resolves outside the datasets root (symlink?)`);
  return path.join(dir, path.basename(file));
}

/**
 * At submit, a quick look at where a job will write (the run checks again, race-free): a directory, a path through a
 * file, or an existing file without `overwrite` is refused before the job is queued. Anything else is left to the run.
 */
export function checkOutputFree(root: string, relative: string, overwrite: boolean, field = 'spec.output'): void {
  let st: ReturnType<typeof lstatSync> | undefined;
  try {
    st = lstatSync(path.join(root, relative));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR')
      throw errors.datasetPath(field, `'${relative}': a folder on its path is a file; name a path of folders`);
    return;
  }
  if (st?.isDirectory())
    throw errors.datasetPath(field, `'${relative}' is a directory; name a file (e.g. '${relative}/data.jsonl')`);
  if (st && !overwrite) throw errors.outputExists(field, relative);
}

/**
 * Writes a job's output file whole or not at all: to a `.partial` beside it (a new name, never someone's file),
 * synced, then moved into place — by link(), which refuses an existing file, unless `overwrite`. Whatever fails, the
 * partial is removed; an existing output is left as it was. `shown` is the name messages give (relative to the root).
 */
export async function writeOutput(
  file: string,
  shown: string,
  data: string,
  opts: { overwrite: boolean; field?: string },
): Promise<void> {
  const field = opts.field ?? 'spec.output';
  const existing = await lstat(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw unwritable(field, shown, err);
  });
  if (existing?.isDirectory())
    throw errors.datasetPath(field, `'${shown}' is a directory; name a file (e.g. '${shown}/data.jsonl')`);
  if (existing && !opts.overwrite) throw errors.outputExists(field, shown);
  const partial = path.join(path.dirname(file), `.${path.basename(file)}.${randomUUID().slice(0, 8)}.partial`);
  try {
    const fh = await open(partial, 'wx');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (opts.overwrite) await rename(partial, file);
    else await link(partial, file); // EEXIST if the output appeared meanwhile: never replaced
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EEXIST' && !opts.overwrite) throw errors.outputExists(field, shown);
    if (e.code === 'EISDIR') throw errors.datasetPath(field, `'${shown}' is a directory; name a file in it`);
    throw typeof e.code === 'string' ? unwritable(field, shown, e) : err;
  } finally {
    await rm(partial, { force: true });
  }
}

function unwritable(field: string, shown: string, err: NodeJS.ErrnoException) {
  return errors.jobFailed(
    `${field}: cannot write '${shown}' (${err.code}${err.syscall ? `, ${err.syscall}` : ''}); check the datasets root's permissions and free space`,
  );
}

/**
 * The JSONL lines of a file, parsed, with their 1-based line numbers; blank lines skipped; a bad line (too long, not
 * UTF-8, not a JSON object) is refused. The reader and its rules are prepare-dataset's (src/dataset-lines.ts).
 */
export async function* jsonLines(
  file: string,
  signal?: AbortSignal,
): AsyncGenerator<{ line: number; value: Record<string, unknown> }> {
  for await (const { line, data } of boundedLines(file)) {
    signal?.throwIfAborted();
    if (isBlank(data)) continue;
    const value = lineObject(data);
    if (typeof value === 'string') throw errors.jobFailed(`dataset line ${line} is ${value}`);
    yield { line, value };
  }
}
