/**
 * The three-host drill (docs/fleet.md): three coordinator processes — their own data dirs, models roots and devices —
 * on one PostgreSQL. 300 jobs submitted across them run each exactly once: in the event log, one claim and one
 * terminal event per job, and every host ran some. Then a host running slow fine-tunes is killed with SIGKILL: its
 * jobs are taken over by the others once its lease passes, as a new attempt whose lease starts after the dead one's
 * last lease ended (never two holders at once), its trainers do not outlive the takeover, and each job ends once.
 *
 * Everything is read from PostgreSQL itself (moc_jobs, moc_events), not from any host's view of it.
 */
import t from 'tap';
import type * as grpc from '@grpc/grpc-js';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnServer, type SpawnedServer } from '../../perf/lib/spawn-server.js';
import type { Job } from '../../schemas/jobs.js';
import { modelOpsClient } from '../../src/transports/grpc/proto.js';
import { until } from '../helpers/coordinator.js';
import { postgresSkip, startPostgres, type PostgresCluster } from '../helpers/postgres.js';
import { untrackChildren } from '../helpers/untracked-children.js';
import { TEXTS } from '../jobs/helpers.js';

untrackChildren(); // three servers, their engines and the trainers: each would load every module through tap's hook

const call = (client: any, method: string, req: object) =>
  new Promise<any>((resolve, reject) =>
    client[method](req, { deadline: Date.now() + 30_000 }, (err: grpc.ServiceError | null, res: any) =>
      err ? reject(err) : resolve(res),
    ),
  );

/** One attempt of a job as the event log tells it: who claimed it, when, and the last instant its lease covered. */
interface Attempt {
  epoch: number;
  owner: string;
  start: number;
  until: number;
  /** The rev of its claim, and of its last write. */
  claimRev: number;
  lastRev: number;
}

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

/** Every job's attempts and terminal events, from moc_events (rev order). */
async function history(
  cluster: PostgresCluster,
  ids: string[],
): Promise<Map<string, { attempts: Attempt[]; terminal: number }>> {
  const rows = await cluster.psql<{ id: string; rev: string; body: Job }>(
    `SELECT id, rev::text, body FROM moc_events WHERE kind = 'job' AND id = ANY($1) ORDER BY id, rev`,
    [ids],
  );
  const out = new Map<string, { attempts: Attempt[]; terminal: number }>();
  for (const r of rows) {
    const h = out.get(r.id) ?? { attempts: [], terminal: 0 };
    out.set(r.id, h);
    const j = r.body;
    const rev = Number(r.rev);
    if (TERMINAL.has(j.state)) h.terminal++;
    const epoch = j.lease?.epoch;
    if (epoch !== undefined && !h.attempts.some((a) => a.epoch === epoch)) {
      // A claim: the first write of a new epoch.
      h.attempts.push({
        epoch,
        owner: j.lease!.owner,
        start: j.startedAt,
        until: j.lease!.expiresAt,
        claimRev: rev,
        lastRev: rev,
      });
      continue;
    }
    // A renewal (its lease) or the run's end (no lease: it held the job until it wrote that).
    const a = epoch === undefined ? h.attempts.at(-1) : h.attempts.find((x) => x.epoch === epoch);
    if (!a) continue; // the submit
    a.until = Math.max(a.until, j.lease?.expiresAt ?? j.updatedAt);
    a.lastRev = rev;
  }
  return out;
}

/** Whether a process is gone (or a zombie nobody reaped yet: it runs nothing). */
function gone(pid: number): boolean {
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return true;
  try {
    return readFileSync(stat, 'utf8').split(') ')[1]?.startsWith('Z') ?? true;
  } catch {
    return true;
  }
}

t.test(
  'three hosts on one PostgreSQL: 300 jobs run once each; a host killed mid-run is taken over',
  { skip: postgresSkip },
  async (t) => {
    const cluster = await startPostgres(t);
    const datasets = path.join(t.testdir(), 'datasets');
    mkdirSync(datasets, { recursive: true });
    for (const f of ['eval.jsonl', 'train.jsonl'])
      writeFileSync(path.join(datasets, f), TEXTS.map((x) => JSON.stringify(x)).join('\n'));

    /**
     * A host: its own devices (id and memory differ) and dirs. leaseMs: long where no lease may pass under a process
     * that is alive (exactly once: on a loaded 2-core machine a 2 s lease once passed under a live LMDB host), shorter
     * on the host that is killed, so its jobs are taken over soon; the lease a claim writes is its claimer's.
     */
    const yaml = (name: string, memory: string, leaseMs: number) =>
      [
        'server: { grpcPort: 0 }',
        'rest: { enabled: false }',
        'zmq: { enabled: false }',
        'dataDir: ${DIR}/data',
        'modelsRoot: ${DIR}/models',
        `devices: [{ id: cpu-${name}, kind: cpu, memory: ${memory} }]`,
        `fleet: { hostId: host-${name} }`,
        `store: { kind: postgres, url: "${cluster.url}", pollMs: 100 }`,
        `jobs: { parallelism: 2, pollMs: 50, leaseMs: ${leaseMs}, datasetsRoot: ${datasets} }`,
      ].join('\n');
    const servers: SpawnedServer[] = [];
    const clients: any[] = [];
    t.teardown(async () => {
      for (const c of clients) c.close();
      await Promise.all(servers.map((s) => s.stop('SIGKILL')));
    });
    const start = async (name: string, memory: string, leaseMs: number) => {
      const s = await spawnServer({ yaml: yaml(name, memory, leaseMs) });
      servers.push(s);
      const c = modelOpsClient(s.grpcAddress);
      clients.push(c);
      return { s, c, owner: (o: string) => o.startsWith(`${s.proc.pid}-`) };
    };
    const up = Date.now();
    const [a, b, c] = await Promise.all([
      start('a', '1GiB', 20_000),
      start('b', '1536MiB', 20_000),
      start('c', '2GiB', 4000),
    ]);
    const hosts = [a, b, c];
    const lap = (what: string) => t.comment(`${what}: ${Date.now() - up} ms`);
    lap('three hosts up');

    // ---- 300 jobs, exactly once ----
    const submitted = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        call(hosts[i % 3]!.c, 'SubmitJob', {
          type: 'evaluate',
          spec_json: JSON.stringify({ model: 'moc-demo', dataset: 'eval.jsonl', max_lines: 1 }),
        }),
      ),
    );
    const ids = submitted.map((r) => r.id as string);
    t.equal(new Set(ids).size, 300, '300 jobs submitted');
    lap('submitted');
    await until(
      'the 300 jobs ended',
      async () => {
        const r = await cluster.psql<{ n: string }>(
          `SELECT count(*)::text AS n FROM moc_jobs WHERE id = ANY($1) AND body->>'state' IN ('succeeded', 'failed', 'cancelled')`,
          [ids],
        );
        return Number(r[0]!.n) === 300;
      },
      45_000,
      100,
    );
    lap('300 ended');
    const states = await cluster.psql<{ state: string; attempts: number; n: string }>(
      `SELECT body->>'state' AS state, (body->>'attempts')::int AS attempts, count(*)::text AS n FROM moc_jobs
     WHERE id = ANY($1) GROUP BY 1, 2`,
      [ids],
    );
    t.same(
      states.map((s) => [s.state, s.attempts, Number(s.n)]),
      [['succeeded', 1, 300]],
      'every job succeeded in its first attempt',
    );
    const once = await history(cluster, ids);
    t.equal(once.size, 300);
    const claims = [...once.values()].map((h) => h.attempts.length);
    const terminals = [...once.values()].map((h) => h.terminal);
    t.same(
      [Math.min(...claims), Math.max(...claims), Math.min(...terminals), Math.max(...terminals)],
      [1, 1, 1, 1],
      'each job claimed once and ended once (event log)',
    );
    const ranBy = hosts.map((h) => [...once.values()].filter((x) => h.owner(x.attempts[0]!.owner)).length);
    t.equal(
      ranBy.reduce((x, y) => x + y),
      300,
      `every claim by one of the three hosts (a, b, c ran ${ranBy.join(', ')})`,
    );
    t.ok(
      ranBy.every((n) => n > 0),
      'every host ran jobs',
    );
    t.comment(`300 jobs: a ran ${ranBy[0]}, b ${ranBy[1]}, c ${ranBy[2]}`);

    // ---- kill -9 of a host mid-run ----
    const victim = c; // its leases are the short ones
    // A base model only the victim has at first, so the fine-tunes start there (jobs run where they fit).
    const register = async (h: typeof victim) => {
      copyFileSync(path.join(h.s.dir, 'models', 'moc-demo.gguf'), path.join(h.s.dir, 'models', 'ft-base.gguf'));
      await call(h.c, 'RegisterModel', { name: 'ft-base', path: 'ft-base.gguf' });
    };
    await register(victim);
    // Three fine-tunes, 4 texts × 3 epochs × 100 ms each (the trainer's start takes longer: still running at the kill):
    // two run on the victim (parallelism 2), one waits.
    const fts = await Promise.all(
      [0, 1, 2].map((i) =>
        call(victim.c, 'SubmitJob', {
          type: 'fine-tune',
          spec_json: JSON.stringify({
            base_model: 'ft-base',
            dataset: 'train.jsonl',
            output_name: `drill-${i}`,
            trainer: 'demo',
            params: { epochs: 3, step_ms: 100 },
          }),
          max_attempts: 3,
        }),
      ),
    );
    const ftIds = fts.map((r) => r.id as string);
    const jobs = async () =>
      (await cluster.psql<{ body: Job }>('SELECT body FROM moc_jobs WHERE id = ANY($1)', [ftIds])).map((r) => r.body);
    const running = await until(
      'the victim runs two fine-tunes, their trainers recorded',
      async () => {
        const js = (await jobs()).filter((j) => j.state === 'running' && j.process && victim.owner(j.lease!.owner));
        return js.length === 2 && js;
      },
      30_000,
      100,
    );
    lap('victim running');
    victim.s.proc.kill('SIGKILL');
    await victim.s.exited;
    // The others can now run them too.
    await Promise.all([a, b].map(register));

    const done = await until(
      'the three fine-tunes ended',
      async () => {
        const js = await jobs();
        return js.every((j) => TERMINAL.has(j.state)) && js;
      },
      45_000,
      100,
    );
    lap('fine-tunes ended');
    t.same(
      done.map((j) => [j.state, j.error]),
      done.map(() => ['succeeded', undefined]),
      'the three fine-tunes succeeded',
    );
    const taken = await history(cluster, ftIds);
    for (const j of running) {
      const h = taken.get(j.id)!;
      const [first, second] = h.attempts;
      t.equal(h.attempts.length, 2, `${j.id}: two attempts`);
      t.ok(victim.owner(first!.owner), 'the first by the killed host');
      t.ok(
        [a, b].some((x) => x.owner(second!.owner)),
        'the second by another host',
      );
      t.ok(gone(j.process!.pid), "the dead host's trainer does not outlive the takeover");
      t.equal(done.find((d) => d.id === j.id)!.attempts, 2);
    }
    for (const [id, h] of taken) {
      t.equal(h.terminal, 1, `${id} ended once`);
      for (let k = 1; k < h.attempts.length; k++) {
        const prev = h.attempts[k - 1]!;
        const next = h.attempts[k]!;
        t.ok(
          next.start >= prev.until,
          `${id}: attempt ${next.epoch} claimed at ${next.start}, after attempt ${prev.epoch}'s lease ended (${prev.until})`,
        );
        t.ok(
          prev.lastRev < next.claimRev,
          `${id}: no write of attempt ${prev.epoch} after attempt ${next.epoch} began`,
        );
      }
    }
    const waited = running.map((j) => taken.get(j.id)!.attempts[1]!.start - taken.get(j.id)!.attempts[0]!.until);
    t.comment(`takeover after the lease ended: +${waited.join(' ms, +')} ms`);
  },
);
