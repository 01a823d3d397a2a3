/**
 * Moving in: `moc migrate <data-dir> <postgres-url>` copies a host's jobs, goals and feedback (its event log replayed)
 * into an empty PostgreSQL and compares checksums (exit 0 when equal); the same host then serves from it with its
 * history intact (goal versions, the idempotency keys of jobs, goals and feedback). A database that already holds
 * work is refused.
 */
import t from 'tap';
import { runMoc } from '../helpers/cli.js';
import { startHarness } from '../helpers/coordinator.js';
import { goalWhere } from '../helpers/goals.js';
import { postgresSkip, startPostgres } from '../helpers/postgres.js';
import { ended, jobWhere, rest, TEXTS, writeDataset } from '../jobs/helpers.js';

t.test('a host migrated into PostgreSQL serves the same work and history', { skip: postgresSkip }, async (t) => {
  const dir = t.testdir();
  const h = await startHarness(t, {}, { dir });
  writeDataset(h, 'eval.jsonl', TEXTS);
  const job = await rest(h, 'POST', '/v1/jobs', {
    type: 'evaluate',
    spec: { model: 'moc-demo', dataset: 'eval.jsonl', max_lines: 2 },
    request_id: 'keyed-1',
  });
  await jobWhere(h, job.body.id, ended, 'evaluate ended');
  const goalRequest = {
    title: 'carried over',
    jobs: [job.body.id],
    criterion: { metric: 'perplexity', op: 'lte', value: 1e9 },
    request_id: 'goal-keyed-1',
  };
  const goal = await rest(h, 'POST', '/v1/goals', goalRequest);
  await goalWhere(h, goal.body.id, (g) => g.state === 'achieved', 'achieved');
  const feedback = (i: number) => ({ prompt: `p${i}`, chosen: 'a', rejected: 'b', idempotency_key: `fb-keyed-${i}` });
  const recorded = [];
  for (const i of [1, 2]) recorded.push((await rest(h, 'POST', '/v1/feedback', feedback(i))).body.id);
  const history = (await rest(h, 'GET', `/v1/goals/${goal.body.id}/history`)).body.goals;
  const dataDir = h.coordinator.config.dataDir;
  await h.close();

  const cluster = await startPostgres(t);
  const moved = await runMoc(t, ['migrate', dataDir, cluster.url], {});
  t.equal(moved.code, 0, moved.err);
  const r = JSON.parse(moved.out);
  t.match(r, { equal: true, jobs: 1, goals: 1, feedback: 2 });
  t.equal(r.source, r.migrated, `checksums equal: ${r.source}`);
  t.ok(r.events >= 5, `${r.events} events replayed`);

  const again = await runMoc(t, ['migrate', dataDir, cluster.url], {});
  t.not(again.code, 0, 'a second migrate is refused');
  t.match(again.err, /already holds work; migrate into an empty database/);

  const served = await startHarness(t, { store: { kind: 'postgres', url: cluster.url } }, { dir });
  t.same(
    (await rest(served, 'GET', `/v1/goals/${goal.body.id}/history`)).body.goals,
    history,
    "the goal's history, version for version",
  );
  const same = await rest(served, 'POST', '/v1/jobs', {
    type: 'evaluate',
    spec: { model: 'moc-demo', dataset: 'eval.jsonl', max_lines: 2 },
    request_id: 'keyed-1',
  });
  t.equal(same.body.id, job.body.id, 'an idempotency key from before the move answers the same job');
  t.equal((await rest(served, 'POST', '/v1/goals', goalRequest)).body.id, goal.body.id, '… and the same goal');
  t.equal((await rest(served, 'POST', '/v1/feedback', feedback(2))).body.id, recorded[1], '… and the same feedback');
  const exp = await rest(served, 'POST', '/v1/jobs', {
    type: 'export-feedback',
    spec: { format: 'trl-preference', output: 'moved.jsonl' },
  });
  const done = await jobWhere(served, exp.body.id, ended, 'export ended');
  t.equal(done.outputs.metrics.pairs, 2, 'the feedback moved too');
});
