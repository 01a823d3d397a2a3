/**
 * The PostgreSQL test harness (test/helpers/postgres.ts) does what the store's tests will lean on: a commit the client
 * saw acknowledged survives an immediate-mode crash and restart (synchronous_commit and fsync are on); teardown leaves
 * no process of the cluster and no temp dir; a test process killed with SIGKILL (no teardown) leaves no postgres
 * process either (the postmaster dies with its parent, its children follow).
 */
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { postgresSkip, startPostgres } from '../helpers/postgres.js';
import { sourceUrl } from '../helpers/source-url.js';

const HOLDER = fileURLToPath(sourceUrl('../fixtures/postgres-holder.ts', import.meta.url));
const ROWS = 200;

/** State letter of a process (R, S, Z, …); undefined when there is no such process. */
function state(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}
const alive = (pid: number) => state(pid) !== undefined && state(pid) !== 'Z'; // a zombie has already exited

/** The postmaster and its children (checkpointer, walwriter, backends…), found by parent pid in /proc. */
function clusterPids(postmaster: number): number[] {
  const pids = [postmaster];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === postmaster) pids.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

/** Processes whose command line names `dataDir` (the postmaster's `-D`). */
function namingDir(dataDir: string): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        return alive(Number(e)) && readFileSync(`/proc/${e}/cmdline`, 'latin1').includes(dataDir);
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function waitGone(pids: number[], ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  let left = pids.filter(alive);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    left = left.filter(alive);
  }
  return left;
}

t.test(
  'acknowledged rows survive an immediate-mode crash; teardown leaves nothing behind',
  { skip: postgresSkip },
  async (t) => {
    let seen: { pids: number[]; dataDir: string } | undefined;
    await t.test('the cluster', async (t) => {
      const db = await startPostgres(t);
      const settings = await db.psql<{ name: string; setting: string }>(
        `SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit') ORDER BY name`,
      );
      t.same(settings, [
        { name: 'fsync', setting: 'on' },
        { name: 'synchronous_commit', setting: 'on' },
      ]);
      await db.psql('CREATE TABLE acked (id integer PRIMARY KEY, body text NOT NULL)');

      // Each INSERT is its own transaction, awaited: the client saw every one acknowledged before the crash. With
      // synchronous_commit off, the last few hundred ms of them would still sit in WAL buffers when the crash comes.
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      client.on('error', () => {}); // the crash below terminates its connection: expected
      const writeStart = Date.now();
      for (let i = 1; i <= ROWS; i++) await client.query('INSERT INTO acked VALUES ($1, $2)', [i, `row ${i}`]);
      t.comment(`${ROWS} acknowledged commits in ${Date.now() - writeStart} ms`);
      const before = db.pid!;
      const runningPids = clusterPids(before);
      await db.crash();
      await client.end().catch(() => {}); // its server is gone: the error is expected
      t.equal(db.pid, undefined, 'not running after crash()');
      t.same(await waitGone(runningPids, 5000), [], 'the postmaster and its children exited on the crash');

      await db.start();
      t.not(db.pid, before, 'a new postmaster');
      const [count] = await db.psql<{ n: number; last: string }>(
        'SELECT count(*)::int AS n, (SELECT body FROM acked ORDER BY id DESC LIMIT 1) AS last FROM acked',
      );
      t.same(count, { n: ROWS, last: `row ${ROWS}` }, 'every acknowledged row is there after crash recovery');

      await db.stop();
      t.equal(db.pid, undefined, 'not running after stop()');
      await db.start();
      t.equal(
        (await db.psql<{ n: number }>('SELECT count(*)::int AS n FROM acked'))[0]?.n,
        ROWS,
        'and after a clean stop',
      );
      // Left running, with a connection open: teardown has to stop it.
      const open = new pg.Client({ connectionString: db.url });
      await open.connect();
      open.on('error', () => {}); // teardown's immediate stop terminates it
      seen = { pids: clusterPids(db.pid!), dataDir: db.dataDir };
      t.ok(seen.pids.length > 2, `postmaster and children running: ${seen.pids.join(' ')}`);
    });

    t.ok(seen, 'the cluster subtest ran');
    if (!seen) return;
    t.same(await waitGone(seen.pids, 5000), [], 'after teardown no process of the cluster runs');
    t.same(namingDir(seen.dataDir), [], 'no process names its data dir');
    t.notOk(existsSync(path.dirname(seen.dataDir)), 'its temp dir is removed');
  },
);

t.test('a SIGKILLed test process leaves no postgres process behind', { skip: postgresSkip }, async (t) => {
  const proc = spawn(process.execPath, ['--import=tsx', HOLDER], { stdio: ['ignore', 'pipe', 'inherit'] });
  let started: { pid: number; dataDir: string } | undefined;
  let pids: number[] = [];
  let shmid: string | undefined;
  // Whatever happens to the assertions: the holder, the cluster's processes, and what a SIGKILLed test process
  // leaves behind by design (no teardown ran): its temp dir and the postmaster's 56-byte System V segment.
  t.teardown(() => {
    proc.kill('SIGKILL');
    for (const pid of pids.filter(alive)) process.kill(pid, 'SIGKILL');
    if (started) rmSync(path.dirname(started.dataDir), { recursive: true, force: true });
    if (shmid) spawnSync('ipcrm', ['-m', shmid], { stdio: 'ignore', timeout: 10_000 });
  });
  started = await new Promise<{ pid: number; dataDir: string } | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), 30_000);
    createInterface({ input: proc.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line));
    });
    proc.once('exit', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
  t.ok(started, 'the holder started its cluster (within 30 s)');
  if (!started) return;
  pids = clusterPids(started.pid);
  // postmaster.pid, line 7: the shared memory key and id.
  shmid = readFileSync(path.join(started.dataDir, 'postmaster.pid'), 'utf8').split('\n')[6]?.trim().split(/\s+/)[1];
  t.ok(pids.length > 2, `postmaster and children running: ${pids.join(' ')}`);

  proc.kill('SIGKILL');
  t.same(await waitGone(pids, 15_000), [], 'the postmaster and every child exited by themselves within 15 s');
  t.same(namingDir(started.dataDir), [], 'no process names its data dir');
});
