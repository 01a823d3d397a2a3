/**
 * Two figures of an idle fleet for `perf/jobs-load.ts --store postgres` (perf/lib/jobs-postgres.ts calls idleFleet):
 * three hosts on one fresh database of their own cluster, default fleet and poll settings, nothing queued.
 *
 * at_rest_per_host: what an idle host costs the database, over AT_REST_MS once start-up has settled, read from
 * pg_stat_statements (loaded in this cluster only, not in the throughput arms'): every statement the hosts sent, as
 * it ends, per statement text. Not pg_stat_database's xact_commit: a backend publishes its counters at most once a
 * second and, idle with some unpublished, up to 10 s later (PGSTAT_MIN_INTERVAL, PGSTAT_IDLE_INTERVAL), and
 * pg_stat_force_next_flush() (PG 15) reaches only the backend calling it, so a 10 s window of xact_commit is off by
 * what the hosts' backends had not published at either end. statements_per_s: all their statements (BEGIN and COMMIT
 * included, the reader's left out: it reads from another database), divided by the hosts; registry_writes_per_s: rows
 * the registry inserted or updated in moc_hosts (src/fleet/registry.ts), likewise; by_statement: the most frequent.
 *
 * claim_latency_ms: from sending SubmitJob (an `evaluate` of the demo model on one line: no child process, no torch)
 * to seeing the job running, one job at a time, round-robin over the hosts, each submitted after the previous one
 * ended (parallelism 4: every host is idle when a job arrives). Seen by GetJob on the submitting host every
 * POLL_EVERY_MS (that host's replica takes its own claim at once and another host's through NOTIFY and its follower).
 * `watch` is the same seen by WatchJob on that host, opened as the submit is answered (the job now, then its first
 * change at once; src/transports/job-follow.ts paces only changes that follow a sent one within 100 ms). per_host:
 * who claimed (the running version's lease owner, a pid); claimed_by_submitter: how many the host that took the
 * submit claimed itself. The submitting host claims at once; the others' Jobs actors read the store's changes on their
 * jobs.pollMs (1 s), even though their replicas have them by NOTIFY sooner, so on an idle fleet the submitter wins.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type * as grpc from '@grpc/grpc-js';
import pg from 'pg';
import { modelOpsClient } from '../../src/transports/grpc/proto.js';
import { launchPostgres } from '../../test/helpers/postgres-cluster.js';
import { percentile } from './closed-loop.js';
import { spawnServer, type SpawnedServer } from './spawn-server.js';

const HOSTS = 3;
const SETTLE_MS = 5000; // start-up's writes (the demo model's preload changes the host record) are over by then
const AT_REST_MS = 10_000;
const DB = 'moc_idle';
const JOBS = 150;
const POLL_EVERY_MS = 2;
const JOB_TIMEOUT_MS = 30_000;

type Client = grpc.Client & Record<string, any>;
interface ProtoJob {
  id: string;
  state: string;
}

export interface IdleFleetResult {
  at_rest_per_host: {
    window_ms: number;
    statements_per_s: number;
    registry_writes_per_s: number;
    /** The most frequent statements (their first 48 characters), per host per second. */
    by_statement: Record<string, number>;
  };
  claim_latency_ms: {
    n: number;
    p50: number;
    p99: number;
    max: number;
    seen_by: string;
    /** SubmitJob's answer (the job committed): the part of the latency that is the submit. */
    submit_answered: { p50: number; p99: number };
    watch: { p50: number; p99: number };
    per_host: Record<string, number>;
    claimed_by_submitter: number;
    failed: number;
  };
}

/** Starts its own cluster (pg_stat_statements loaded: not in the throughput arms' cluster) and destroys it. */
export async function idleFleet(o: { datasets: string }): Promise<IdleFleetResult> {
  writeFileSync(path.join(o.datasets, 'eval.jsonl'), '{"text":"one example"}\n');
  const hosts: SpawnedServer[] = [];
  const clients: Client[] = [];
  const cluster = await launchPostgres({ settings: { shared_preload_libraries: 'pg_stat_statements' } });
  try {
    await cluster.psql('CREATE EXTENSION pg_stat_statements'); // in the database `postgres`, where the reader is
    await cluster.psql(`CREATE DATABASE ${DB}`);
    const u = new URL(cluster.url);
    u.pathname = `/${DB}`;
    const url = u.toString();
    const yaml = (i: number) => fleetHostYaml(url, `idle-${i}`, `parallelism: 4, datasetsRoot: ${o.datasets}`);
    const started = await Promise.allSettled(
      Array.from({ length: HOSTS }, (_, i) => spawnServer({ yaml: yaml(i), logFile: true })),
    );
    for (const r of started) if (r.status === 'fulfilled') hosts.push(r.value);
    for (const r of started) if (r.status === 'rejected') throw r.reason;
    await delay(SETTLE_MS);
    const atRest = await measureAtRest(cluster.url, DB);
    for (const s of hosts) clients.push(modelOpsClient(s.grpcAddress) as Client);
    return { at_rest_per_host: atRest, claim_latency_ms: await measureClaims(url, hosts, clients) };
  } finally {
    for (const c of clients) c.close();
    await Promise.all(hosts.map((s) => stopServer(s)));
    await cluster.destroy();
  }
}

/** SIGTERM, SIGKILL if it is not gone within 15 s. */
async function stopServer(s: SpawnedServer): Promise<void> {
  const kill = setTimeout(() => s.proc.kill('SIGKILL'), 15_000);
  try {
    await s.stop('SIGTERM');
  } finally {
    clearTimeout(kill);
  }
}

async function measureAtRest(adminUrl: string, db: string): Promise<IdleFleetResult['at_rest_per_host']> {
  // On another database than the hosts': this reader's statements are not counted with theirs.
  const reader = new pg.Client({ connectionString: adminUrl });
  await reader.connect();
  const read = async () => {
    const r = await reader.query(
      `SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 48) AS query, calls::text AS calls, rows::text AS rows
       FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1`,
      [db],
    );
    return r.rows.map((row) => ({ query: String(row.query), calls: Number(row.calls), rows: Number(row.rows) }));
  };
  try {
    const before = await read();
    const start = performance.now();
    await delay(AT_REST_MS);
    const after = await read();
    const windowMs = performance.now() - start;
    const perHostPerS = (n: number) => Number((n / HOSTS / (windowMs / 1000)).toFixed(3));
    // The same statement text may have several entries (one per user and query id): summed per text.
    const calls = new Map<string, number>();
    let registryRows = 0;
    const add = (rows: typeof before, sign: number) => {
      for (const r of rows) {
        calls.set(r.query, (calls.get(r.query) ?? 0) + sign * r.calls);
        if (/^(INSERT INTO|UPDATE) moc_hosts/.test(r.query)) registryRows += sign * r.rows;
      }
    };
    add(after, 1);
    add(before, -1);
    const by = [...calls].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
    return {
      window_ms: Math.round(windowMs),
      statements_per_s: perHostPerS(by.reduce((sum, [, n]) => sum + n, 0)),
      registry_writes_per_s: perHostPerS(registryRows),
      by_statement: Object.fromEntries(by.slice(0, 6).map(([q, n]) => [q, perHostPerS(n)])),
    };
  } finally {
    await reader.end();
  }
}

async function measureClaims(
  url: string,
  hosts: SpawnedServer[],
  clients: Client[],
): Promise<IdleFleetResult['claim_latency_ms']> {
  const acked: number[] = [];
  const polled: number[] = [];
  const watched: number[] = [];
  const submitter = new Map<string, number>();
  let failed = 0;
  const spec = JSON.stringify({ model: 'moc-demo', dataset: 'eval.jsonl' });
  for (let i = 0; i < JOBS; i++) {
    const h = i % HOSTS;
    const client = clients[h]!;
    const t0 = performance.now();
    const job = await unary<ProtoJob>(client, 'SubmitJob', {
      type: 'evaluate',
      spec_json: spec,
      request_id: `claim-${i}`,
    });
    acked.push(performance.now() - t0);
    submitter.set(job.id, h);
    const watch = watchUntilEnd(client, job.id, t0);
    for (let seen = job.state; ; ) {
      if (seen !== 'JOB_STATE_QUEUED') {
        polled.push(performance.now() - t0);
        break;
      }
      if (performance.now() - t0 > JOB_TIMEOUT_MS) throw new Error(`job ${job.id} not claimed in ${JOB_TIMEOUT_MS} ms`);
      await delay(POLL_EVERY_MS);
      seen = (await unary<ProtoJob>(client, 'GetJob', { id: job.id })).state;
    }
    const w = await watch;
    watched.push(w.claimedMs);
    if (w.final !== 'JOB_STATE_SUCCEEDED') failed++;
  }

  // Who claimed: the lease owner of each job's running version is `<pid>-<hex>` (actors/jobs/jobs.ts).
  const pids = new Map(hosts.map((s, i) => [String(s.proc.pid), i]));
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const per_host: Record<string, number> = {};
  let claimedBySubmitter = 0;
  try {
    const r = await c.query(
      `SELECT DISTINCT ON (id) id, body->'lease'->>'owner' AS owner FROM moc_events
       WHERE kind = 'job' AND body->>'state' = 'running' ORDER BY id, rev`,
    );
    for (const row of r.rows) {
      const host = pids.get(String(row.owner).split('-')[0]!);
      const name = host === undefined ? 'unknown' : `idle-${host}`;
      per_host[name] = (per_host[name] ?? 0) + 1;
      if (host !== undefined && host === submitter.get(row.id)) claimedBySubmitter++;
    }
  } finally {
    await c.end();
  }
  const ms = (v: number) => Number(v.toFixed(1));
  polled.sort((a, b) => a - b);
  watched.sort((a, b) => a - b);
  acked.sort((a, b) => a - b);
  return {
    n: polled.length,
    p50: ms(percentile(polled, 50)),
    p99: ms(percentile(polled, 99)),
    max: ms(polled.at(-1) ?? 0),
    seen_by: `GetJob every ${POLL_EVERY_MS} ms on the submitting host`,
    submit_answered: { p50: ms(percentile(acked, 50)), p99: ms(percentile(acked, 99)) },
    watch: { p50: ms(percentile(watched, 50)), p99: ms(percentile(watched, 99)) },
    per_host,
    claimed_by_submitter: claimedBySubmitter,
    failed,
  };
}

function unary<T>(client: Client, method: string, req: object): Promise<T> {
  return new Promise((resolve, reject) =>
    client[method](req, { deadline: Date.now() + JOB_TIMEOUT_MS }, (err: grpc.ServiceError | null, res: T) =>
      err ? reject(err) : resolve(res),
    ),
  );
}

/** WatchJob until the job ends: when it was first seen past queued (ms after t0), and its final state. */
function watchUntilEnd(client: Client, id: string, t0: number): Promise<{ claimedMs: number; final: string }> {
  return new Promise((resolve, reject) => {
    const call = client.WatchJob(
      { id },
      { deadline: Date.now() + JOB_TIMEOUT_MS },
    ) as grpc.ClientReadableStream<ProtoJob>;
    let claimedMs = Number.NaN;
    let last = '';
    call.on('data', (j: ProtoJob) => {
      if (Number.isNaN(claimedMs) && j.state !== 'JOB_STATE_QUEUED') claimedMs = performance.now() - t0;
      last = j.state;
    });
    call.on('error', reject);
    call.on('end', () => resolve({ claimedMs, final: last }));
  });
}

/** A perf fleet host's config: gRPC only, its own data dir, the shared database, `jobs` as given. */
export function fleetHostYaml(url: string, hostId: string, jobs: string, store = ''): string {
  return [
    'server: { grpcPort: 0 }',
    'rest: { enabled: false }',
    'zmq: { enabled: false }',
    'dataDir: ${DIR}/data',
    'modelsRoot: ${DIR}/models',
    `store: { kind: postgres, url: "${url}"${store} }`,
    `fleet: { hostId: ${hostId} }`,
    `jobs: { ${jobs} }`,
  ].join('\n');
}
