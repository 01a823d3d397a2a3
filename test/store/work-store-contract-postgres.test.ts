/**
 * The WorkStore contract on PostgreSQL (store.kind: postgres), against a cluster of its own in a temp dir. Two
 * PgWorkStore objects on one database are two hosts; caughtUp has the follower read the log now. Then a database made
 * before goals and feedback had idempotency keys: opening it adds their columns, and its rows stay readable.
 */
import pg from 'pg';
import t from 'tap';
import type { Feedback } from '../../schemas/feedback.js';
import { PgWorkStore } from '../../src/store/postgres/pg-work-store.js';
import { goalRecord } from '../helpers/records.js';
import { postgresSkip, startPostgres } from '../helpers/postgres.js';
import { workStoreContract } from './work-store-contract.js';

t.test('the WorkStore contract on PostgreSQL', { skip: postgresSkip }, async (t) => {
  const cluster = await startPostgres(t);
  // Hosts starting together on an empty database: each creates what is missing, none fails.
  const together = await Promise.allSettled(Array.from({ length: 4 }, () => PgWorkStore.open({ url: cluster.url })));
  t.same(
    together.map((r) => r.status),
    ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled'],
    'four stores opened at once on an empty database',
  );
  for (const r of together) if (r.status === 'fulfilled') await r.value.close();
  workStoreContract(t, {
    open: () => PgWorkStore.open({ url: cluster.url, pollMs: 200 }),
    caughtUp: (s) => (s as PgWorkStore).follow(),
  });

  t.test('a database from before the keys of goals and feedback gets them when opened', async (t) => {
    await cluster.psql('CREATE DATABASE before_keys');
    const url = cluster.url.replace(/\/postgres$/, '/before_keys');
    const old: Feedback = {
      id: 'fb-0000000001-000001',
      kind: 'rating',
      owner: 'alice',
      at: 1,
      model: 'm',
      prompt: 'p',
      chosen: 'c',
      rejected: '',
      rating: 1,
      requestId: '',
      comment: '',
    };
    // The first release's tables of goals and feedback, with a row each.
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    t.teardown(() => c.end());
    await c.query(`
      CREATE TABLE moc_goals (id text PRIMARY KEY, rev bigint NOT NULL, body jsonb NOT NULL);
      CREATE TABLE moc_feedback (id text PRIMARY KEY, body jsonb NOT NULL);`);
    await c.query('INSERT INTO moc_goals (id, rev, body) VALUES ($1, 1, $2)', [
      'goal-old',
      goalRecord({ id: 'goal-old' }),
    ]);
    await c.query('INSERT INTO moc_feedback (id, body) VALUES ($1, $2)', [old.id, old]);

    const s = await PgWorkStore.open({ url });
    t.teardown(() => s.close());
    t.same(s.listFeedback(), [old], 'its feedback is read as before');
    const g = goalRecord({ owner: 'alice', requestId: 'k' });
    t.equal((await s.createGoal(g)).created, true);
    t.equal((await s.createGoal(goalRecord({ owner: 'alice', requestId: 'k' }))).goal.id, g.id, 'a keyed goal');
    const f = { ...old, id: 'fb-0000000002-000001', idempotencyKey: 'k' };
    t.equal((await s.recordFeedback(f)).created, true);
    t.equal((await s.recordFeedback({ ...f, id: 'fb-0000000003-000001' })).feedback.id, f.id, 'keyed feedback');
    const again = await PgWorkStore.open({ url });
    t.teardown(() => again.close());
    t.same(again.goalByRequestId('alice', 'k'), g, 'opened again (the columns exist): the keys are there');
    const cols = await c.query(
      `SELECT table_name, column_name FROM information_schema.columns
       WHERE table_name IN ('moc_goals', 'moc_feedback') AND column_name IN ('owner', 'request_id', 'idempotency_key')
       ORDER BY 1, 2`,
    );
    t.same(
      cols.rows.map((r) => `${r.table_name}.${r.column_name}`),
      ['moc_feedback.idempotency_key', 'moc_feedback.owner', 'moc_goals.owner', 'moc_goals.request_id'],
    );
  });
});
