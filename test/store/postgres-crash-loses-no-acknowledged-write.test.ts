/**
 * kill -9 of PostgreSQL under load (docs/fleet.md, "Acknowledged means committed"): two hosts on one PostgreSQL,
 * four clients (REST and gRPC, against either host) writing job submits, goals and feedback as fast as they are
 * answered. PostgreSQL is stopped in immediate mode (no checkpoint: what kill -9 of the postmaster leaves) in the
 * middle, and started again. Every write a client saw acknowledged (201 / OK) is in the database afterwards, by id
 * and content; every write refused meanwhile said MOC_ERR_UNAVAILABLE (REST: 503 with Retry-After); both hosts take
 * writes again without a restart, and each has every acknowledged write in its own replica (its follower went on from
 * its cursor).
 */
import t from 'tap';
import type * as grpc from '@grpc/grpc-js';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { errorCode, type Harness, startHarness, until } from '../helpers/coordinator.js';
import { postgresSkip, startPostgres } from '../helpers/postgres.js';

type Kind = 'job' | 'goal' | 'feedback';
const KINDS: Kind[] = ['job', 'goal', 'feedback'];

/** A write's outcome as the client saw it. */
type Outcome = { ok: true; id: string } | { ok: false; refusal: string };

/** One write of `kind` over REST, its content tagged with `tag` (to find it again). */
async function overRest(h: Harness, kind: Kind, tag: string): Promise<Outcome> {
  const [url, body] =
    kind === 'job'
      ? // A model no host has: it stays queued (nothing runs; the drill is about the writes).
        ['/v1/jobs', { type: 'evaluate', spec: { model: 'nowhere', dataset: `${tag}.jsonl` }, request_id: tag }]
      : kind === 'goal'
        ? ['/v1/goals', { title: tag }]
        : ['/v1/feedback', { prompt: tag, chosen: 'yes', rejected: 'no' }];
  const res = await fetch(`${h.restUrl}${url}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as { id?: string; error?: { code: string } };
  if ((res.status === 201 || res.status === 200) && typeof json.id === 'string') return { ok: true, id: json.id };
  // What a refusal must be: 503, Retry-After in seconds, MOC_ERR_UNAVAILABLE. Anything else is kept as it came.
  const retry = Number(res.headers.get('retry-after'));
  return {
    ok: false,
    refusal:
      res.status === 503 && retry >= 1 && json.error?.code === 'MOC_ERR_UNAVAILABLE'
        ? 'unavailable'
        : `${res.status} retry-after=${res.headers.get('retry-after')} ${JSON.stringify(json).slice(0, 300)}`,
  };
}

/** The same over gRPC. */
async function overGrpc(h: Harness, kind: Kind, tag: string): Promise<Outcome> {
  const [method, req] =
    kind === 'job'
      ? [
          'SubmitJob',
          {
            type: 'evaluate',
            spec_json: JSON.stringify({ model: 'nowhere', dataset: `${tag}.jsonl` }),
            request_id: tag,
          },
        ]
      : kind === 'goal'
        ? ['CreateGoal', { title: tag }]
        : ['RecordFeedback', { prompt: tag, chosen: 'yes', rejected: 'no' }];
  try {
    const res = await h.unary<{ id: string }>(method, req, { deadlineMs: 20_000 });
    return { ok: true, id: res.id };
  } catch (err) {
    const e = err as grpc.ServiceError;
    return {
      ok: false,
      refusal:
        e.code === 14 && errorCode(e) === 'MOC_ERR_UNAVAILABLE'
          ? 'unavailable'
          : `grpc ${e.code} ${errorCode(e)} ${e.message}`.slice(0, 300),
    };
  }
}

t.test(
  'kill -9 of PostgreSQL under 1,000 writes: every acknowledged one is there, the refused ones said retry',
  { skip: postgresSkip },
  async (t) => {
    const cluster = await startPostgres(t);
    const host = (name: string) => {
      const dir = path.join(t.testdir(), name);
      mkdirSync(dir, { recursive: true });
      return startHarness(
        t,
        { store: { kind: 'postgres', url: cluster.url, pollMs: 200 }, jobs: { pollMs: 500 } },
        { dir },
      );
    };
    const t0 = Date.now();
    const a = await host('a');
    const b = await host('b');

    // Four clients: REST and gRPC, against each host.
    const acked: { kind: Kind; tag: string; id: string; at: number }[] = [];
    const refused: { client: string; kind: Kind; tag: string; refusal: string; at: number }[] = [];
    const clients = [
      { name: 'rest→a', write: (k: Kind, tag: string) => overRest(a, k, tag) },
      { name: 'grpc→b', write: (k: Kind, tag: string) => overGrpc(b, k, tag) },
      { name: 'rest→b', write: (k: Kind, tag: string) => overRest(b, k, tag) },
      { name: 'grpc→a', write: (k: Kind, tag: string) => overGrpc(a, k, tag) },
    ];
    let stop = false;
    const TARGET = 1000;
    const loops = clients.map(async (c) => {
      // Bounded: at most this many writes each, whatever happens.
      for (let n = 0; n < 2 * TARGET && !stop; n++) {
        const kind = KINDS[n % 3]!;
        const tag = `${c.name}#${n}`;
        const out = await c
          .write(kind, tag)
          .catch((err: Error): Outcome => ({ ok: false, refusal: `no answer: ${err.message}` }));
        if (out.ok) acked.push({ kind, tag, id: out.id, at: Date.now() });
        else {
          refused.push({ client: c.name, kind, tag, refusal: out.refusal, at: Date.now() });
          await new Promise((r) => setTimeout(r, 20)); // a client that was told to retry waits a little
        }
      }
    });
    t.teardown(() => {
      stop = true;
    });

    t.comment(`two hosts up: ${Date.now() - t0} ms`);
    await until('400 writes acknowledged', async () => acked.length >= 400, 60_000, 20);
    const crashAt = acked.length;
    await cluster.crash();
    const down = Date.now();
    await until(
      'every client refused at least once',
      async () => clients.every((c) => refused.some((r) => r.client === c.name)),
      20_000,
      20,
    );
    const refusedInOutage = refused.length;
    await cluster.start();
    const up = Date.now();
    const firstAfter = await until(
      'a write acknowledged after the restart',
      async () => acked.find((w) => w.at > up),
      30_000,
      20,
    );
    await until(`${TARGET} writes acknowledged`, async () => acked.length >= TARGET, 60_000, 20);
    stop = true;
    await Promise.all(loops);
    t.comment(
      `${acked.length} acknowledged (${crashAt} before the crash), ${refused.length} refused ` +
        `(${refusedInOutage} before the restart began, ${refused.filter((r) => r.at > up).length} after it was up; ` +
        `down ${up - down} ms); first acknowledged ${firstAfter.at - up} ms after the restart; ${Date.now() - t0} ms in all`,
    );

    t.same(
      refused.filter((r) => r.refusal !== 'unavailable'),
      [],
      'every refusal was MOC_ERR_UNAVAILABLE (REST: 503 with Retry-After; gRPC: UNAVAILABLE)',
    );
    t.ok(refused.length > 0, 'writes were refused during the outage');
    t.ok(
      clients.every((c) => acked.some((w) => w.at > up && w.tag.startsWith(`${c.name}#`))),
      'every client was acknowledged again after the restart: both hosts recovered without a restart',
    );

    // Every acknowledged write is in PostgreSQL, with what was sent.
    const byKind = (k: Kind) => acked.filter((w) => w.kind === k);
    const rows = {
      job: await cluster.psql<{ id: string; tag: string }>(`SELECT id, body->'spec'->>'dataset' AS tag FROM moc_jobs`),
      goal: await cluster.psql<{ id: string; tag: string }>(`SELECT id, body->>'title' AS tag FROM moc_goals`),
      feedback: await cluster.psql<{ id: string; tag: string }>(`SELECT id, body->>'prompt' AS tag FROM moc_feedback`),
    };
    for (const k of KINDS) {
      const stored = new Map(rows[k].map((r) => [r.id, r.tag]));
      const missing = byKind(k).filter((w) => stored.get(w.id) !== (k === 'job' ? `${w.tag}.jsonl` : w.tag));
      t.same(
        missing,
        [],
        `every acknowledged ${k} is in the database (${byKind(k).length} acknowledged, ${stored.size} stored)`,
      );
      // A refused write may still have committed (its COMMIT's answer lost in the crash): allowed, and told.
      const tags = new Set(stored.values());
      const committedAnyway = refused.filter((r) => r.kind === k && tags.has(k === 'job' ? `${r.tag}.jsonl` : r.tag));
      if (committedAnyway.length > 0) t.comment(`refused but committed: ${JSON.stringify(committedAnyway)}`);
    }

    // A refused submit may have committed: retried with its key, it answers that job, never a second one.
    const retried = refused.filter((r) => r.kind === 'job');
    const storedJob = new Map(rows.job.map((r) => [r.tag, r.id]));
    const wrong: string[] = [];
    for (const r of retried) {
      const again = await clients.find((x) => x.name === r.client)!.write('job', r.tag);
      const before = storedJob.get(`${r.tag}.jsonl`);
      if (!again.ok) wrong.push(`${r.tag}: refused again (${again.refusal})`);
      else if (before !== undefined && again.id !== before) wrong.push(`${r.tag}: ${again.id}, not ${before}`);
    }
    t.same(wrong, [], 'every refused submit, retried with its key, is acknowledged: the job committed, if it was');
    const keys = await cluster.psql<{ key: string; n: string }>(
      `SELECT request_id AS key, count(*)::text AS n FROM moc_jobs GROUP BY 1 HAVING request_id IS NULL OR count(*) > 1`,
    );
    t.same(keys, [], `one job per key (${retried.length} refused submits retried)`);

    // Each host's replica converges on the database: every row, acknowledged or not (a refused write whose COMMIT
    // went through), through its follower, which went on from its cursor after the outage.
    const inDb = {
      job: rows.job.map((r) => r.id),
      goal: rows.goal.map((r) => r.id),
      feedback: rows.feedback.map((r) => r.id),
    };
    for (const [name, h] of [
      ['a', a],
      ['b', b],
    ] as const) {
      const w = h.coordinator.work;
      const missing = () => {
        const feedback = new Set(w.listFeedback().map((f) => f.id));
        return [
          ...inDb.job.filter((id) => w.getJob(id) === undefined),
          ...inDb.goal.filter((id) => w.getGoal(id) === undefined),
          ...inDb.feedback.filter((id) => !feedback.has(id)),
        ];
      };
      await until(
        `host ${name}'s replica has every row of the database`,
        async () => missing().length === 0,
        20_000,
        100,
      ).catch(() => undefined);
      t.same(missing(), [], `host ${name} has every stored write in its replica`);
    }
  },
);
