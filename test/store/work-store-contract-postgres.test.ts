/**
 * The WorkStore contract on PostgreSQL (store.kind: postgres), against a cluster of its own in a temp dir. Two
 * PgWorkStore objects on one database are two hosts; caughtUp has the follower read the log now.
 */
import t from 'tap';
import { PgWorkStore } from '../../src/store/postgres/pg-work-store.js';
import { postgresSkip, startPostgres } from '../helpers/postgres.js';
import { workStoreContract } from './work-store-contract.js';

t.test('the WorkStore contract on PostgreSQL', { skip: postgresSkip }, async (t) => {
  const pg = await startPostgres(t);
  // Hosts starting together on an empty database: each creates what is missing, none fails.
  const together = await Promise.allSettled(Array.from({ length: 4 }, () => PgWorkStore.open({ url: pg.url })));
  t.same(
    together.map((r) => r.status),
    ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled'],
    'four stores opened at once on an empty database',
  );
  for (const r of together) if (r.status === 'fulfilled') await r.value.close();
  workStoreContract(t, {
    open: () => PgWorkStore.open({ url: pg.url, pollMs: 200 }),
    caughtUp: (s) => (s as PgWorkStore).follow(),
  });
});
