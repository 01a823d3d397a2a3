/**
 * store.kind postgres with real coordinators: two hosts (their own data dirs, devices, models) on one PostgreSQL share
 * one job queue, goals and feedback — jobs submitted on either run once each, on either; a goal created on one follows
 * a job the other runs; feedback recorded on one is exported by the other. PostgreSQL unreachable at start: a clear
 * error naming the database without its password. Lost while serving: inference goes on, store operations answer a
 * retryable MOC_ERR_UNAVAILABLE (503 + Retry-After), and the same server takes writes again once it is back.
 */
import t from 'tap';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startHarness, until } from '../helpers/coordinator.js';
import { goalWhere } from '../helpers/goals.js';
import { postgresSkip, startPostgres } from '../helpers/postgres.js';
import { ended, jobWhere, rest, TEXTS, writeDataset } from '../jobs/helpers.js';

t.test('two hosts on one PostgreSQL share jobs, goals and feedback', { skip: postgresSkip }, async (t) => {
  const cluster = await startPostgres(t);
  const store = { kind: 'postgres', url: cluster.url, pollMs: 200 };
  // Two hosts: their own data dirs and models roots (only the work is shared).
  const host = (name: string) => {
    const dir = path.join(t.testdir(), name);
    mkdirSync(dir, { recursive: true });
    return startHarness(t, { store, jobs: { pollMs: 200 } }, { dir });
  };
  const a = await host('a');
  const b = await host('b');
  t.not(a.coordinator.config.dataDir, b.coordinator.config.dataDir);
  for (const h of [a, b]) writeDataset(h, 'eval.jsonl', TEXTS);

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

  // Jobs run where they fit: a model only B has; the job submitted on A runs on B, A never claims it.
  copyFileSync(path.join(b.modelsRoot, 'moc-demo.gguf'), path.join(b.modelsRoot, 'only-on-b.gguf'));
  t.equal((await rest(b, 'POST', '/v1/models', { name: 'only-on-b', path: 'only-on-b.gguf' })).status, 201);
  const onB = await rest(a, 'POST', '/v1/jobs', {
    type: 'evaluate',
    spec: { model: 'only-on-b', dataset: 'eval.jsonl', max_lines: 1 },
  });
  t.equal(onB.status, 201, JSON.stringify(onB.body));
  const ranOnB = await jobWhere(a, onB.body.id, ended, 'the job of a model only B has ended', 60_000);
  t.equal(ranOnB.state, 'succeeded', JSON.stringify(ranOnB.error));
  const owners = await cluster.psql<{ owner: string | null }>(
    `SELECT DISTINCT body->'lease'->>'owner' AS owner FROM moc_events WHERE id = $1 AND body ? 'lease'`,
    [onB.body.id],
  );
  t.same(
    owners.map((o) => o.owner),
    [b.coordinator.jobsView!.owner],
    'only B ever held its lease',
  );

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
});

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
