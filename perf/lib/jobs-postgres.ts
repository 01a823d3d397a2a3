/**
 * `perf/jobs-load.ts --store postgres`: acknowledged SubmitJob (gRPC, keyed) on one MOC host, then on three hosts at
 * once sharing one database, against the limit measured in the same run on the same cluster: bare `pg` writing the
 * same rows (the job row and its event row, one transaction each — one statement in autocommit, the fewest round
 * trips there are — synchronous_commit on) with the same requests in flight and as many connections as the hosts
 * have (bare_1: one host's pool; bare_3: three hosts' pools). three_hosts_one_target: the three-host fleet with every
 * submit sent to one host (the others follow and claim as ever): the cost of spreading the requests over processes. store_1: PgWorkStore.submitJob called in this process
 * (no transport, no actors), same pool and concurrency: the store's own share of the gap.
 *
 * The submits are sent by a lean HTTP/2 gRPC client (h2-unary.ts: ~half the CPU per call of grpc-js's client, which
 * shares the two cores with the servers it measures), and each arm says where the CPU went: `cpu_ms_per_submit` of
 * the hosts, PostgreSQL (postmaster and backends) and the load generator; `cpu_ms_per_insert` for bare.
 *
 * Nothing runs during the measurement: the submits are fine-tunes whose (demo) trainer is slow, parallelism 1, so each
 * host claims one and the rest stay queued behind it, as on a busy fleet (the LMDB arm does the same). Each phase has
 * a fresh database. The cluster is started here (test/helpers/postgres-cluster.ts) and destroyed whatever happens.
 *
 * Then an idle fleet, on a cluster of its own (perf/lib/fleet-idle.ts): at_rest_per_host, the statements each of three
 * idle hosts sends PostgreSQL per second and the rows its registry writes to moc_hosts (pg_stat_statements, exact);
 * claim_latency_ms, submit sent → job seen running, one cheap `evaluate` at a time round-robin over the three hosts,
 * with which host claimed each.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Job } from '../../schemas/jobs.js';
import { PgWorkStore } from '../../src/store/postgres/pg-work-store.js';
import { DDL } from '../../src/store/postgres/schema.js';
import { launchPostgres, type PostgresCluster } from '../../test/helpers/postgres-cluster.js';
import { closedLoop, type LoadResult } from './closed-loop.js';
import { fleetHostYaml, idleFleet } from './fleet-idle.js';
import { encodeStrings, unaryClient } from './h2-unary.js';
import { cpuMs } from './proc.js';
import { spawnServer, type SpawnedServer } from './spawn-server.js';

const POOL = 10; // a host's store.poolSize (the default)

export async function postgresArm(o: { concurrency: number; durationMs: number }): Promise<Record<string, unknown>> {
  const loop = {
    concurrency: o.concurrency,
    durationMs: o.durationMs,
    warmupMs: 1000,
    codeOf: (e: unknown) => String((e as { code?: unknown }).code ?? e),
  };
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'moc-jobs-pg-perf-'));
  let cluster: PostgresCluster | undefined;
  const servers: SpawnedServer[] = [];
  try {
    cluster = await launchPostgres({ settings: { max_connections: 200 } });
    const c = cluster;
    const datasets = path.join(tmp, 'datasets');
    mkdirSync(datasets, { recursive: true });
    writeFileSync(path.join(datasets, 'train.jsonl'), '{"text":"one example"}\n');
    const urlOf = async (db: string) => {
      await c.psql(`CREATE DATABASE ${db}`);
      const u = new URL(c.url);
      u.pathname = `/${db}`;
      return u.toString();
    };

    let m = 0;
    const spec = JSON.stringify({
      base_model: 'moc-demo',
      dataset: 'train.jsonl',
      output_name: 'perf:out',
      params: { step_ms: 600_000 },
    });
    /** CPU ms per acknowledged submit, by who spent it, over the closed loop's measured window (after its warm-up). */
    type Cpu = Record<string, number>;
    const measured = async (
      pids: Record<string, number[]>,
      run: (onWindow: (edge: 'start' | 'end') => void) => Promise<LoadResult>,
    ) => {
      const read = () => Object.fromEntries(Object.entries(pids).map(([k, ps]) => [k, sum(ps.map(cpuMs))]));
      let before: Record<string, number> = {};
      let after: Record<string, number> = {};
      let self = process.cpuUsage();
      let own = { user: 0, system: 0 };
      const r = await run((edge) => {
        if (edge === 'start') {
          before = read();
          self = process.cpuUsage();
        } else {
          own = process.cpuUsage(self);
          after = read();
        }
      });
      const per = (ms: number) => Number((ms / Math.max(1, r.ok)).toFixed(3));
      const cpu: Cpu = Object.fromEntries(Object.keys(pids).map((k) => [k, per(after[k]! - before[k]!)]));
      cpu.load_generator = per((own.user + own.system) / 1000);
      return { r, cpu };
    };
    /** n hosts on one database; the submits go to the first `targets` of them (all, unless said). */
    const hosts = async (n: number, url: string, targets = n) => {
      const yaml = (i: number) =>
        fleetHostYaml(
          url,
          `perf-${n}-${i}`,
          `parallelism: 1, pollMs: 1000, datasetsRoot: ${datasets}`,
          `, poolSize: ${POOL}`,
        );
      const started = await Promise.all(
        Array.from({ length: n }, (_, i) => spawnServer({ yaml: yaml(i), logFile: true })),
      );
      servers.push(...started);
      const clients = started.map((s) => unaryClient(s.grpcAddress));
      let k = 0;
      const { r, cpu } = await measured({ hosts: started.map((s) => s.proc.pid!), postgres: [c.pid!] }, (onWindow) =>
        closedLoop(
          async () => {
            const client = clients[k++ % targets]!;
            await client.call('/moc.v1.ModelOps/SubmitJob', encodeStrings({ 1: 'fine-tune', 2: spec, 6: `c-${m++}` }));
            return { tokens: 0 };
          },
          { ...loop, onWindow },
        ),
      );
      for (const cl of clients) cl.close();
      const counts = await queryOne(
        url,
        `SELECT count(*)::int AS stored, count(*) FILTER (WHERE body->>'state' = 'running')::int AS running FROM moc_jobs`,
      );
      await Promise.all(started.map((s) => stopServer(s)));
      servers.length = 0;
      return { r, cpu, stored: Number(counts.stored), running: Number(counts.running) };
    };

    const oneUrl = await urlOf('moc_one');
    const one = await hosts(1, oneUrl);
    // The rows bare writes are the rows MOC wrote: a submitted job's body, as stored.
    const sample = (await queryOne(oneUrl, 'SELECT body FROM moc_jobs LIMIT 1')).body as Record<string, unknown>;
    const bare = async (pool: number, url: string) => {
      const p = new pg.Pool({ connectionString: url, max: pool, options: '-c synchronous_commit=on' });
      try {
        await p.query(DDL);
        let b = 0;
        return await measured({ postgres: [c.pid!] }, (onWindow) =>
          closedLoop(
            async () => {
              const id = `bare-${b++}`;
              const now = Date.now();
              const body = { ...sample, id, requestId: id, createdAt: now, queuedAt: now, updatedAt: now };
              await p.query(
                `WITH j AS (INSERT INTO moc_jobs (id, owner, request_id, rev, body) VALUES ($1, $2, $3, 1, $4) RETURNING id)
             INSERT INTO moc_events (kind, id, rev, body) SELECT 'job', id, 1, $4 FROM j`,
                [id, 'open', id, body],
              );
              return { tokens: 0 };
            },
            { ...loop, onWindow },
          ),
        );
      } finally {
        await p.end();
      }
    };
    // The store alone, in this process: what submitJob costs without the transport and the actors in front of it.
    const store = async (url: string): Promise<LoadResult> => {
      const ws = await PgWorkStore.open({ url, poolSize: POOL });
      try {
        let b = 0;
        return await closedLoop(async () => {
          const id = `store-${b++}`;
          const now = Date.now();
          await ws.submitJob({ ...sample, id, requestId: id, createdAt: now, queuedAt: now, updatedAt: now } as Job);
          return { tokens: 0 };
        }, loop);
      } finally {
        await ws.close();
      }
    };
    const store1 = await store(await urlOf('store_one'));
    const bare1 = await bare(POOL, await urlOf('bare_one'));
    const bare3 = await bare(3 * POOL, await urlOf('bare_three'));
    const three = await hosts(3, await urlOf('moc_three'));
    // The same three-host fleet with every submit sent to one of them: what spreading the load over three processes
    // (on the machine's cores) costs, against a fleet that follows and claims all the same.
    const threeOne = await hosts(3, await urlOf('moc_three_one'), 1);
    await cluster.destroy(); // the idle fleet's cluster is its own (pg_stat_statements loaded)
    cluster = undefined;
    const idle = await idleFleet({ datasets });
    const pick = (r: LoadResult) => ({ rps: r.rps, p50: r.p50, p99: r.p99, ok: r.ok, errors: r.errors });
    const ratio = (a: LoadResult, b: LoadResult) => Number((a.rps / b.rps).toFixed(3));
    return {
      script: 'perf/jobs-load',
      store: 'postgres',
      concurrency: o.concurrency,
      durationMs: o.durationMs,
      pool_per_host: POOL,
      load_generator: 'h2-unary (perf/lib/h2-unary.ts)',
      one_host: { ...pick(one.r), stored: one.stored, running: one.running, cpu_ms_per_submit: one.cpu },
      three_hosts: { ...pick(three.r), stored: three.stored, running: three.running, cpu_ms_per_submit: three.cpu },
      three_hosts_one_target: { ...pick(threeOne.r), cpu_ms_per_submit: threeOne.cpu },
      store_1: pick(store1),
      bare_1: { ...pick(bare1.r), cpu_ms_per_insert: bare1.cpu },
      bare_3: { ...pick(bare3.r), cpu_ms_per_insert: bare3.cpu },
      ratio_one_vs_bare: ratio(one.r, bare1.r),
      ratio_three_vs_bare: ratio(three.r, bare3.r),
      ratio_store_vs_bare: ratio(store1, bare1.r),
      ...idle,
    };
  } finally {
    await Promise.all(servers.map((s) => stopServer(s)));
    await cluster?.destroy();
    await rm(tmp, { recursive: true, force: true });
  }
}

/** SIGTERM (the server stops its trainer), SIGKILL if it is not gone within 15 s. */
async function stopServer(s: SpawnedServer): Promise<void> {
  const kill = setTimeout(() => s.proc.kill('SIGKILL'), 15_000);
  try {
    await s.stop('SIGTERM');
  } finally {
    clearTimeout(kill);
  }
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

async function queryOne(url: string, sql: string): Promise<Record<string, unknown>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows[0] as Record<string, unknown>;
  } finally {
    await client.end();
  }
}
