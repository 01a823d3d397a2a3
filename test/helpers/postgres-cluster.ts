/**
 * A throwaway PostgreSQL cluster for one test: a copy of an initdb'd template in a fresh temp dir, the postmaster as a
 * direct child of the test process, a free port on 127.0.0.1, the Unix socket in the same temp dir. No tap here
 * (test/helpers/postgres.ts ties it to a test's teardown), so a plain script can start one too.
 *
 *   test process ──spawn──▶ setpriv [--reuid postgres] --pdeathsig KILL ──exec──▶ postgres -D <tmp>/data
 *                                                                                 └─▶ checkpointer, walwriter, backends…
 *
 * Why not `pg_ctl start`: pg_ctl detaches the postmaster, so a test process that dies without its teardown (SIGKILL,
 * an OOM kill) would leave it running forever. Run as our child under `setpriv --pdeathsig KILL`, the kernel kills
 * the postmaster when the test process dies in any way, and its children exit on their own once they see the
 * postmaster gone (each backend watches a pipe from it). process.on('exit') also kills it, for a machine without
 * setpriv. Residual risk of a SIGKILLed test process: the temp dir (<tmpdir>/moc-pg-*) stays behind, and so does the
 * postmaster's small System V shared-memory segment; no process does. crash()/stop() send the postmaster the signal
 * `pg_ctl stop -m immediate` / `-m fast` would send (pg_ctl refuses to run as root; we are root in CI).
 *
 * initdb and the postmaster refuse to run as root: as root they run as the `postgres` OS user (Debian's package
 * creates it), and the temp dir is chowned to it.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  chownSync,
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './free-port.js';

const SETPRIV = '/usr/bin/setpriv';
const PG_LIB = '/usr/lib/postgresql';
const READY_TIMEOUT_MS = 30_000; // crash recovery of a test-sized cluster takes well under a second
const EXIT_TIMEOUT_MS = 10_000;

/** Debian's PostgreSQL bin dir, highest major version first (`/usr/lib/postgresql/<major>/bin`); undefined if none. */
export function postgresBinDir(): string | undefined {
  if (!existsSync(PG_LIB)) return undefined;
  const majors = readdirSync(PG_LIB)
    .filter(
      (v) => existsSync(path.join(PG_LIB, v, 'bin', 'initdb')) && existsSync(path.join(PG_LIB, v, 'bin', 'postgres')),
    )
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] === undefined ? undefined : path.join(PG_LIB, majors[0], 'bin');
}

export interface PostgresOptions {
  /** Extra `-c name=value` server settings, after (so overriding) the defaults below. */
  settings?: Record<string, string | number>;
}

export interface PostgresCluster {
  /** postgres://postgres@127.0.0.1:<port>/postgres (trust auth, superuser). */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** The running postmaster's pid; undefined while stopped. */
  readonly pid: number | undefined;
  /** Crash: SIGQUIT, what `pg_ctl stop -m immediate` sends (no checkpoint; the next start runs crash recovery). */
  crash(): Promise<void>;
  /** Clean stop: SIGINT, what `pg_ctl stop -m fast` sends (shutdown checkpoint). */
  stop(): Promise<void>;
  /** Starts it again on the same data dir and port; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Runs one statement as the superuser on a fresh connection (closed after); its rows. */
  psql<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  /** Immediate stop if running, then removes the temp dir. Idempotent. */
  destroy(): Promise<void>;
}

// Postmasters of this process still running: killed synchronously if the process exits without destroy().
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** A copy of an initdb'd template, started. Throws (with initdb's or the server log's words) if either fails. */
export async function launchPostgres(opts: PostgresOptions = {}): Promise<PostgresCluster> {
  const bin = postgresBinDir();
  if (bin === undefined) {
    throw new Error(`no PostgreSQL under ${PG_LIB}/*/bin: apt-get install postgresql (.ci/run installs it)`);
  }
  const asPostgres = process.getuid?.() === 0 ? dropToPostgres() : [];
  const root = mkdtempSync(path.join(os.tmpdir(), 'moc-pg-'));
  const dataDir = path.join(root, 'data');
  const logPath = path.join(root, 'postgres.log');
  let destroyed = false;
  let child: ChildProcess | undefined;
  try {
    if (asPostgres.length > 0) chownSync(root, postgresId('-u'), postgresId('-g'));
    // cp -a keeps the owner (postgres) and the 0700 mode the server insists on.
    execFileSync('cp', ['-a', template(bin, asPostgres), dataDir], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw err;
  }

  const settings: Record<string, string | number> = {
    listen_addresses: '127.0.0.1',
    // Acknowledged means durable: a commit returns only after its WAL record is flushed to disk (fsync) — the
    // guarantee the store's tests rely on when they crash the server and count the rows. Both are the defaults;
    // stated so a faster "test" setting can never slip in unnoticed.
    fsync: 'on',
    synchronous_commit: 'on',
    full_page_writes: 'on',
    shared_buffers: '16MB', // several clusters may run at once on a 2-core CI machine
    max_connections: 100,
    // DSM segments as files in the data dir instead of /dev/shm: a killed test leaves nothing outside its temp dir.
    dynamic_shared_memory_type: 'mmap',
    ...opts.settings,
  };
  const args = (port: number) => [
    '-D',
    dataDir,
    '-p',
    String(port),
    '-k',
    root,
    ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
  ];

  const startOn = async (port: number): Promise<void> => {
    const log = openSync(logPath, 'a'); // the server writes its log here, not into a pipe we would have to drain
    try {
      child = spawn(
        existsSync(SETPRIV) ? SETPRIV : path.join(bin, 'postgres'),
        existsSync(SETPRIV)
          ? [...asPostgres, '--pdeathsig', 'KILL', '--', path.join(bin, 'postgres'), ...args(port)]
          : args(port),
        { cwd: root, stdio: ['ignore', log, log] },
      );
    } finally {
      closeSync(log);
    }
    const started = child;
    live.add(started);
    started.once('exit', () => live.delete(started));
    await waitReady(started, dataDir, logPath);
  };

  const stopWith = async (signal: NodeJS.Signals): Promise<void> => {
    const c = child;
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill(signal);
    if (!(await within(exited, EXIT_TIMEOUT_MS))) {
      c.kill('SIGKILL');
      await within(exited, EXIT_TIMEOUT_MS);
    }
  };

  // A free port can be taken between our probe and the postmaster's bind: probe again (first start only; a restart
  // must keep its port).
  let port = 0;
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await startOn(port);
      break;
    } catch (err) {
      await stopWith('SIGKILL');
      const inUse = /could not bind|Address already in use/.test(logTail(logPath));
      if (!inUse || attempt >= 3) {
        rmSync(root, { recursive: true, force: true });
        throw err;
      }
    }
  }

  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    dataDir,
    get pid() {
      return child?.exitCode === null && child.signalCode === null ? child.pid : undefined;
    },
    crash: () => stopWith('SIGQUIT'),
    stop: () => stopWith('SIGINT'),
    start: async () => {
      if (destroyed) throw new Error('postgres cluster already destroyed');
      if (child?.exitCode === null && child.signalCode === null) throw new Error('postgres is already running');
      await startOn(port);
    },
    psql: async <R extends Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]> => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query<R>(sql, params)).rows;
      } finally {
        await client.end();
      }
    },
    destroy: async () => {
      if (destroyed) return;
      destroyed = true;
      await stopWith('SIGQUIT');
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * A freshly initdb'd data dir to copy from, made once per machine, PostgreSQL major and user, and kept in <tmpdir>:
 * initdb takes 0.7–5 s on a busy 2-core machine, a copy ~0.1 s. Made in a staging dir and renamed into place, so a
 * concurrent test process or an initdb killed halfway never leaves a half-made template. initdb runs with --no-sync:
 * its files are fsynced by nobody until the server's first checkpoint, which matters only for a power loss, which no
 * test makes; every commit of the running server is fsynced (settings below).
 */
function template(bin: string, asPostgres: string[]): string {
  const major = path.basename(path.dirname(bin));
  const dir = path.join(os.tmpdir(), `moc-pg-template-${major}-uid${process.getuid?.() ?? 'x'}-v1`);
  const data = path.join(dir, 'data');
  const complete = () =>
    existsSync(path.join(data, 'PG_VERSION')) && existsSync(path.join(data, 'global', 'pg_control'));
  if (complete()) return data;
  const staging = mkdtempSync(path.join(os.tmpdir(), 'moc-pg-staging-'));
  try {
    if (asPostgres.length > 0) chownSync(staging, postgresId('-u'), postgresId('-g'));
    const initdb = path.join(bin, 'initdb');
    const args = [
      '-D',
      path.join(staging, 'data'),
      '-A',
      'trust',
      '-U',
      'postgres',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
    ];
    runAs(asPostgres, initdb, args, staging);
    if (existsSync(dir) && !complete()) rmSync(dir, { recursive: true, force: true }); // emptied by a tmp cleaner
    try {
      renameSync(staging, dir);
    } catch (err) {
      if (!complete()) throw err; // else another process made it first: use theirs
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return data;
}

/** setpriv arguments that make the command run as the `postgres` OS user (initdb and postgres refuse root). */
function dropToPostgres(): string[] {
  if (!existsSync(SETPRIV))
    throw new Error(`running as root needs ${SETPRIV} (util-linux) to run PostgreSQL as postgres`);
  postgresId('-u'); // fails with a clear message when the user is missing
  return ['--reuid', 'postgres', '--regid', 'postgres', '--init-groups'];
}

function postgresId(flag: '-u' | '-g'): number {
  try {
    return Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  } catch {
    throw new Error("no `postgres` OS user: initdb refuses root; Debian's postgresql package creates the user");
  }
}

function runAs(asPostgres: string[], command: string, args: string[], cwd: string): void {
  const [file, argv] = asPostgres.length > 0 ? [SETPRIV, [...asPostgres, '--', command, ...args]] : [command, args];
  try {
    execFileSync(file, argv, { cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`${path.basename(command)} failed: ${e.stderr?.toString().trim() || e.message}`);
  }
}

/**
 * Resolves when the postmaster says "ready" in postmaster.pid (what `pg_ctl -w` waits for); rejects with the log's
 * tail if it exits first or is not ready within READY_TIMEOUT_MS.
 */
async function waitReady(child: ChildProcess, dataDir: string, logPath: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (let polls = 0; polls < READY_TIMEOUT_MS / 20 + 1; polls++) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`postgres exited (${child.exitCode ?? child.signalCode}) before ready:\n${logTail(logPath)}`);
    }
    // Line 8 of postmaster.pid is the postmaster's status; its pid (line 1) tells our server from a stale file.
    const lines = readIfExists(path.join(dataDir, 'postmaster.pid')).split('\n');
    if (lines[7]?.trim() === 'ready' && Number(lines[0]) === child.pid) return;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`postgres not ready within ${READY_TIMEOUT_MS} ms:\n${logTail(logPath)}`);
}

function readIfExists(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

const logTail = (logPath: string) => readIfExists(logPath).slice(-2000);

/** true if `p` settled within `ms`. */
async function within(p: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
  const done = await Promise.race([p.then(() => true), timeout]);
  clearTimeout(timer);
  return done;
}
