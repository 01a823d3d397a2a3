/**
 * The PostgreSQL event log read by a follower skips nothing and tells nothing twice, when writers commit out of the
 * order of their sequence numbers and when the follower's connections are cut (NOTIFY is a hint; the poll reads from
 * the cursor). A transaction that stays open holds the follower back (every later event waits behind it): the price
 * of never skipping, written in docs/fleet.md.
 */
import t from 'tap';
import pg from 'pg';
import { PgWorkStore } from '../../src/store/postgres/pg-work-store.js';
import { until } from '../helpers/coordinator.js';
import { postgresSkip, startPostgres } from '../helpers/postgres.js';
import { job } from './work-store-contract.js';

t.test(
  'out-of-order commits and cut connections: every change once, in a stable order',
  { skip: postgresSkip },
  async (t) => {
    const cluster = await startPostgres(t);
    const reader = await PgWorkStore.open({ url: cluster.url, pollMs: 100 });
    t.teardown(() => reader.close());
    const writer = await PgWorkStore.open({ url: cluster.url, pollMs: 100 });
    t.teardown(() => writer.close());
    reader.noteOwnWrites();
    let seq = reader.lastEventSeq();

    // A writer that takes its sequence number first and commits last: a raw transaction holding its insert open.
    const slow = new pg.Client({ connectionString: cluster.url });
    slow.on('error', () => {});
    await slow.connect();
    t.teardown(() => slow.end().catch(() => {}));
    const early = job('slow');
    await slow.query('BEGIN');
    await slow.query('INSERT INTO moc_jobs (id, owner, request_id, rev, body) VALUES ($1, $2, NULL, 1, $3)', [
      early.id,
      early.owner,
      early,
    ]);
    await slow.query(`INSERT INTO moc_events (kind, id, rev, body) VALUES ('job', $1, 1, $2)`, [early.id, early]);
    const late = job('fast');
    await writer.submitJob(late);
    await reader.follow();
    t.same(reader.jobChangesSince(seq).jobs, [], 'nothing is read past the open transaction (it could commit before)');
    await slow.query('COMMIT');
    const seqs = await cluster.psql('SELECT id, seq FROM moc_events WHERE id = ANY($1)', [[early.id, late.id]]);
    const seqOf = new Map(seqs.map((r) => [r.id as string, Number(r.seq)]));
    t.ok(seqOf.get(early.id)! < seqOf.get(late.id)!, 'the open transaction holds the lower sequence number');

    await reader.follow();
    const got = reader.jobChangesSince(seq);
    seq = got.seq;
    t.same(
      got.jobs.map((j) => j.id),
      [early.id, late.id],
      'both, once each, once the open one committed: "seq > cursor" would have skipped the first for good',
    );

    // Every connection of the database cut (the followers' LISTEN and their pools): changes still arrive, by the poll.
    await cluster.psql(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = current_database()',
    );
    const after = job('after-cut');
    await until(
      'a write after the cut is acknowledged',
      async () => (await writer.submitJob(after)).created,
      10_000,
      200,
    );
    const seen = await until(
      'the reader sees the write after the cut',
      async () => {
        await reader.follow();
        const c = reader.jobChangesSince(seq);
        return c.jobs.length > 0 && c;
      },
      10_000,
      100,
    );
    t.same(
      seen.jobs.map((j) => j.id),
      [after.id],
      'the change after the cut, once',
    );
  },
);
