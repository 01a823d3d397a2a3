/**
 * store.kind postgres with real coordinators: two hosts (their own data dirs and devices; one shared models root, as a
 * shared volume on a GPU cluster) on one PostgreSQL share one job queue, goals and feedback — jobs submitted on either
 * run once each, on either, and only where their model is in the catalog and their memory fits; a goal created on one follows a job the
 * other runs; feedback recorded on one is exported by the other; a fine-tune's output is registered and promoted on
 * both. The fleet registry: each sees both, an unload shows on the other within a heartbeat, a stopped host shows as
 * silent within two. PostgreSQL unreachable at start: a clear error naming the database without its password. Lost
 * while serving: inference goes on, store operations answer a retryable MOC_ERR_UNAVAILABLE (503 + Retry-After),
 * readiness says why, and the same server takes writes again once it is back.
 */
import t from 'tap';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startHarness, until, type Harness } from '../helpers/coordinator.js';
import { goalWhere } from '../helpers/goals.js';
import { postgresSkip, startPostgres } from '../helpers/postgres.js';
import { ended, jobWhere, rest, TEXTS, writeDataset } from '../jobs/helpers.js';

const fleetOf = async (h: Harness) => (await rest(h, 'GET', '/v1/fleet')).body.hosts as any[];

t.test(
  'two hosts on one PostgreSQL share jobs, goals, feedback, outputs and a registry',
  { skip: postgresSkip },
  async (t) => {
    const cluster = await startPostgres(t);
    const store = { kind: 'postgres', url: cluster.url, pollMs: 200 };
    const heartbeatMs = 300;
    const models = path.join(t.testdir(), 'shared-models');
    // Two hosts: their own data dirs (catalogs, datasets), one models root.
    // B polls the store once a minute: every job submitted on A that B runs below, B took when A's commit reached its
    // replica (NOTIFY), not at a poll.
    const host = (name: string, memory: string, pollMs: number) => {
      const dir = path.join(t.testdir(), name);
      mkdirSync(dir, { recursive: true });
      return startHarness(
        t,
        {
          store,
          jobs: { pollMs },
          modelsRoot: models,
          fleet: { hostId: `host-${name}`, heartbeatMs },
          devices: [{ id: 'cpu0', kind: 'cpu', memory }],
        },
        { dir },
      );
    };
    const a = await host('a', '1GiB', 200);
    const b = await host('b', '2GiB', 60_000);
    t.not(a.coordinator.config.dataDir, b.coordinator.config.dataDir);
    for (const h of [a, b]) writeDataset(h, 'eval.jsonl', TEXTS);

    const both = await until('A sees both hosts, each with the demo model loaded', async () => {
      const hosts = await fleetOf(a);
      return hosts.length === 2 && hosts.every((x) => x.alive && x.devices[0]?.models.length === 1) && hosts;
    });
    t.same(
      both.map((x) => x.host_id),
      ['host-a', 'host-b'],
    );
    t.match(both[1], {
      heartbeat_ms: heartbeatMs,
      catalog: ['moc-demo'],
      devices: [{ models: [{ name: 'moc-demo' }] }],
    });

    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await rest(i % 2 ? b : a, 'POST', '/v1/jobs', {
        type: 'evaluate',
        spec: { model: 'moc-demo', dataset: 'eval.jsonl', max_lines: 1 },
        request_id: `shared-${i}`,
      });
      t.equal(r.status, 201, JSON.stringify(r.body));
      ids.push(r.body.id);
    }
    const done = await Promise.all(ids.map((id) => jobWhere(a, id, ended, 'ended', 60_000)));
    t.same(
      done.map((j) => [j.state, j.attempts]),
      ids.map(() => ['succeeded', 1]),
      'every job ran once, wherever it was submitted',
    );
    const again = await rest(a, 'POST', '/v1/jobs', {
      type: 'evaluate',
      spec: { model: 'moc-demo', dataset: 'eval.jsonl', max_lines: 1 },
      request_id: 'shared-1',
    });
    t.equal(again.body.id, ids[1], "a key submitted on B answers B's job on A");

    // Jobs run where they fit: a model only B's catalog has (the file is on the shared root, A never registered it);
    // the job submitted on A runs on B, A never claims it.
    copyFileSync(path.join(models, 'moc-demo.gguf'), path.join(models, 'only-on-b.gguf'));
    t.equal((await rest(b, 'POST', '/v1/models', { name: 'only-on-b', path: 'only-on-b.gguf' })).status, 201);
    const onB = await rest(a, 'POST', '/v1/jobs', {
      type: 'evaluate',
      spec: { model: 'only-on-b', dataset: 'eval.jsonl', max_lines: 1 },
    });
    t.equal(onB.status, 201, JSON.stringify(onB.body));
    const ranOnB = await jobWhere(a, onB.body.id, ended, 'the job of a model only B has ended', 60_000);
    t.equal(ranOnB.state, 'succeeded', JSON.stringify(ranOnB.error));
    // Every host that ever held a job's lease, from the event log.
    const leaseOwners = async (id: string) =>
      (
        await cluster.psql<{ owner: string | null }>(
          `SELECT DISTINCT body->'lease'->>'owner' AS owner FROM moc_events WHERE id = $1 AND body ? 'lease'`,
          [id],
        )
      ).map((o) => o.owner);
    t.same(await leaseOwners(onB.body.id), [b.coordinator.jobsView!.owner], 'only B ever held its lease');

    // ... and whose memory fits: 1.5 GiB fits no device of A's (1 GiB), B's 2 GiB device holds it. A never claims it
    // (one host alone would fail it as too big for any device).
    const big = await rest(a, 'POST', '/v1/jobs', {
      type: 'evaluate',
      spec: { model: 'moc-demo', dataset: 'eval.jsonl', max_lines: 1 },
      memory_bytes: 1536 * 1024 * 1024,
      request_id: 'big-1',
    });
    t.equal(big.status, 201, JSON.stringify(big.body));
    const bigDone = await jobWhere(a, big.body.id, ended, 'the job too big for A ended', 60_000);
    t.equal(bigDone.state, 'succeeded', JSON.stringify(bigDone.error));
    t.equal(bigDone.attempts, 1);
    t.match(bigDone.logTail.join('\n'), /holding 1610612736 bytes on cpu0/);
    t.same(
      await leaseOwners(big.body.id),
      [b.coordinator.jobsView!.owner],
      'only B, where it fits, ever held its lease',
    );

    // More than any live host's device holds (B's 2 GiB is the largest): refused at submit, on either host, rather
    // than queued for a host that does not exist; nothing stored.
    const stored = a.coordinator.work.listJobs().length;
    for (const h of [a, b]) {
      const huge = await rest(h, 'POST', '/v1/jobs', {
        type: 'evaluate',
        spec: { model: 'moc-demo', dataset: 'eval.jsonl', max_lines: 1 },
        memory_bytes: 3 * 1024 * 1024 * 1024,
      });
      t.equal(huge.status, 507, JSON.stringify(huge.body));
      t.equal(huge.body.error?.code, 'MOC_ERR_NO_MEMORY');
      t.match(
        huge.body.error?.message,
        /more than any device of the fleet's live hosts can hold \(largest: cpu0 on host-b, 2048\.0 MiB\)/,
      );
    }
    t.equal(a.coordinator.work.listJobs().length, stored, 'nothing refused was stored');

    // A goal on A follows a job submitted on B.
    const job = await rest(b, 'POST', '/v1/jobs', {
      type: 'evaluate',
      spec: { model: 'moc-demo', dataset: 'eval.jsonl' },
    });
    await until('A sees the job B took', async () => a.coordinator.work.getJob(job.body.id) !== undefined, 10_000);
    const goal = await rest(a, 'POST', '/v1/goals', {
      title: 'followed across hosts',
      jobs: [job.body.id],
      criterion: { metric: 'perplexity', op: 'lte', value: 1e9 },
    });
    t.equal(goal.status, 201, JSON.stringify(goal.body));
    const g = await goalWhere(a, goal.body.id, (x) => x.state === 'achieved', 'achieved', 60_000);
    t.equal(g.achieved_by.job, job.body.id);

    // Feedback recorded on A, exported by B.
    for (const i of [1, 2, 3])
      t.equal((await rest(a, 'POST', '/v1/feedback', { prompt: `q${i}`, chosen: 'yes', rejected: 'no' })).status, 201);
    await until('B has the feedback', async () => b.coordinator.work.feedbackCount() >= 3, 10_000);
    const exp = await rest(b, 'POST', '/v1/jobs', {
      type: 'export-feedback',
      spec: { format: 'trl-preference', output: 'from-a.jsonl' },
    });
    const expDone = await jobWhere(b, exp.body.id, ended, 'export ended');
    t.equal(expDone.state, 'succeeded', JSON.stringify(expDone.error));
    // The export ran on whichever host claimed it: its file is in that host's datasets root.
    const lines = [a, b].flatMap((h) => {
      const f = path.join(h.coordinator.config.jobs.datasetsRoot, 'from-a.jsonl');
      return existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n') : [];
    });
    t.equal(lines.length, 3, 'the three preferences recorded on A');

    // A fine-tune's output on the shared models root: registered and promoted on both hosts, with no other call.
    const ft = await rest(a, 'POST', '/v1/jobs', {
      type: 'fine-tune',
      spec: {
        base_model: 'moc-demo',
        dataset: 'eval.jsonl',
        output_name: 'tuned-everywhere',
        trainer: 'demo',
        promote_to: 'assistant',
        eval_dataset: 'eval.jsonl',
      },
    });
    t.equal(ft.status, 201, JSON.stringify(ft.body));
    const tuned = await jobWhere(a, ft.body.id, ended, 'the fine-tune ended', 60_000);
    t.equal(tuned.state, 'succeeded', JSON.stringify(tuned.error ?? tuned.logTail));
    t.equal(tuned.outputs.metrics.promoted, 1);
    for (const [name, h] of [
      ['a', a],
      ['b', b],
    ] as const) {
      const alias = await until(
        `host ${name}: the adapter registered, the alias pointing at it`,
        async () => {
          const m = await rest(h, 'GET', '/v1/models/tuned-everywhere');
          const r = await rest(h, 'GET', '/v1/models/assistant');
          return m.status === 200 && m.body.base === 'moc-demo' && r.body.name === 'tuned-everywhere' && r.body;
        },
        15_000,
        100,
      );
      t.equal(alias.name, 'tuned-everywhere', `host ${name}: assistant → tuned-everywhere, an adapter of moc-demo`);
    }

    // The registry: an unload on B on A's view within a heartbeat; B stopped, silent on A within two.
    t.equal((await rest(b, 'POST', '/v1/models/moc-demo/unload', {})).status, 200);
    const unloadedAt = Date.now();
    await until(
      "B's unload on A's view",
      async () => {
        const x = (await fleetOf(a)).find((h) => h.host_id === 'host-b');
        return x && !x.devices[0].models.some((m: any) => m.name === 'moc-demo');
      },
      10_000,
      50,
    );
    t.comment(`an unload on B was on A's view after ${Date.now() - unloadedAt} ms (heartbeat ${heartbeatMs} ms)`);
    await b.close();
    const closedAt = Date.now();
    const silent = await until(
      'B silent on A',
      async () => {
        const x = (await fleetOf(a)).find((h) => h.host_id === 'host-b');
        return x && !x.alive && x;
      },
      10_000,
      50,
    );
    t.ok(silent.silent_ms >= 2 * heartbeatMs, `silent for ${silent.silent_ms} ms, two heartbeats or more`);
    t.comment(`B stopped; A saw it silent after ${Date.now() - closedAt} ms`);
    t.match(
      (await fleetOf(a)).find((x) => x.host_id === 'host-a'),
      { alive: true },
    );
    // B was the only host that could hold the 1.5 GiB job: a new submit of it is refused now, and a retry of the one
    // accepted earlier (its key and body) is answered with that job, not refused as if it were new.
    const bigAgain = {
      type: 'evaluate',
      spec: { model: 'moc-demo', dataset: 'eval.jsonl', max_lines: 1 },
      memory_bytes: 1536 * 1024 * 1024,
    };
    const held = await until(
      'a new 1.5 GiB job refused on A',
      async () => {
        const r = await rest(a, 'POST', '/v1/jobs', bigAgain);
        return r.status === 507 && r; // the registry read is up to a second old
      },
      10_000,
      100,
    );
    t.equal(held.body.error?.code, 'MOC_ERR_NO_MEMORY');
    const retry = await rest(a, 'POST', '/v1/jobs', { ...bigAgain, request_id: 'big-1' });
    t.equal(retry.status, 201, JSON.stringify(retry.body)); // as any keyed retry: the job submitted first
    t.equal(retry.body.id, big.body.id, 'a keyed retry answers the job accepted while B was there');
  },
);

t.test(
  'PostgreSQL unreachable at start: a clear error naming it, password hidden',
  { skip: postgresSkip },
  async (t) => {
    const err = await startHarness(t, {
      store: { kind: 'postgres', url: 'postgres://moc:s3cret@127.0.0.1:1/moc' },
    }).catch((e: Error) => e);
    t.ok(err instanceof Error, 'the start fails');
    t.match((err as Error).message, /PostgreSQL at postgres:\/\/moc:\*\*\*@127\.0\.0\.1:1\/moc\) did not answer/);
    t.notMatch((err as Error).message, /s3cret/, 'the password is never printed');
  },
);

t.test(
  'PostgreSQL lost while serving: inference goes on, store operations say retry, then work again',
  { skip: postgresSkip },
  async (t) => {
    const cluster = await startPostgres(t);
    const h = await startHarness(t, { store: { kind: 'postgres', url: cluster.url, pollMs: 200 } });
    writeDataset(h, 'eval.jsonl', TEXTS);
    const before = await rest(h, 'POST', '/v1/goals', { title: 'before the outage' });
    t.equal(before.status, 201);

    await cluster.crash();
    const refused = await fetch(`${h.restUrl}/v1/goals`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'during the outage' }),
    });
    t.equal(refused.status, 503);
    t.ok(Number(refused.headers.get('retry-after')) >= 1, 'with Retry-After');
    const body = (await refused.json()) as { error: { code: string; message: string } };
    t.equal(body.error.code, 'MOC_ERR_UNAVAILABLE');
    t.match(body.error.message, /PostgreSQL at postgres:\/\/.*\) did not answer/);
    const infer = await h.unary('Infer', { model: 'moc-demo', prompt: 'still serving', max_tokens: 2 });
    t.ok(infer.text !== undefined, 'inference does not need the store');
    t.equal((await rest(h, 'GET', `/v1/goals/${before.body.id}`)).status, 200, 'reads answer from what it has');
    const down = await fetch(`${h.restUrl}/health/ready`);
    const downBody = (await down.json()) as any;
    t.equal(downBody.status, 'ready', 'still ready: inference goes on');
    t.match(downBody.store, {
      kind: 'postgres',
      reachable: false,
      reason: /PostgreSQL at postgres:\/\/.* did not answer/,
    });

    await cluster.start();
    const after = await until(
      'a write is taken again',
      async () => {
        const r = await rest(h, 'POST', '/v1/goals', { title: 'after the outage' });
        return r.status === 201 && r;
      },
      20_000,
      250,
    );
    t.equal(after.status, 201, 'the pool recovered without a restart');
    t.match(((await (await fetch(`${h.restUrl}/health/ready`)).json()) as any).store, { reachable: true, reason: '' });
    const rows = await cluster.psql('SELECT id FROM moc_goals ORDER BY id');
    t.same(
      rows.map((r) => r.id).sort(),
      [before.body.id, after.body.id].sort(),
      'acknowledged writes are in the database; the refused one is not',
    );
  },
);
