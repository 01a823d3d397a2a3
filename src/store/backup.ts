/**
 * `moc backup <data-dir> <out-dir>`: a consistent copy of a data directory while the server keeps serving.
 *
 * LMDB lets a second process open the same environment; lmdb-js `backup` is LMDB's mdb_env_copy2, which copies the
 * database as one read transaction sees it — every commit before that transaction began, none after, no torn page —
 * while writers go on (they never wait for readers). With `compact` only the pages in use are copied. The other
 * files of the data directory (datasets, job outputs) are copied after the database, so everything a copied job
 * refers to was already written when the copy began. Restoring is stopping the server and pointing `dataDir` at the
 * copy (or moving it into place): docs/operations.md.
 */
import { cp, mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { open } from 'lmdb';

export const STORE_FILE = 'moc.lmdb';

export interface BackupResult {
  from: string;
  to: string;
  storeBytes: number;
  files: number;
  ms: number;
}

export async function backup(dataDir: string, outDir: string): Promise<BackupResult> {
  const started = performance.now();
  const source = path.join(dataDir, STORE_FILE);
  if (!(await stat(source).catch(() => null)))
    throw new Error(`${source} does not exist: give the server's data directory (dataDir)`);
  await mkdir(outDir, { recursive: true });
  if ((await readdir(outDir)).length > 0)
    throw new Error(`${outDir} is not empty: back up into a new or empty directory`);
  const target = path.join(outDir, STORE_FILE);
  // Opened as any reader would be, beside the running server (LMDB's own locks arbitrate); never written.
  const env = open({ path: source, readOnly: true, maxDbs: 16 });
  try {
    await env.backup(target, true);
  } finally {
    await env.close();
  }
  let files = 0;
  for (const entry of await readdir(dataDir)) {
    if (entry === STORE_FILE || entry === `${STORE_FILE}-lock`) continue;
    await cp(path.join(dataDir, entry), path.join(outDir, entry), { recursive: true, errorOnExist: true });
    files++;
  }
  return {
    from: path.resolve(dataDir),
    to: path.resolve(outDir),
    storeBytes: (await stat(target)).size,
    files,
    ms: Math.round(performance.now() - started),
  };
}
