/**
 * PostgreSQL for a test: its own cluster in a temp dir (test/helpers/postgres-cluster.ts), stopped (immediate) and
 * removed in the test's teardown whatever happens.
 *
 *   t.test('…', { skip: postgresSkip }, async (t) => {
 *     const pg = await startPostgres(t);
 *     await pg.psql('CREATE TABLE …');   // or new pg.Client({ connectionString: pg.url })
 *     await pg.crash(); await pg.start();
 *   });
 */
import type { Test } from 'tap';
import { launchPostgres, type PostgresCluster, type PostgresOptions, postgresBinDir } from './postgres-cluster.js';

export type { PostgresCluster, PostgresOptions } from './postgres-cluster.js';
export { postgresBinDir } from './postgres-cluster.js';

/**
 * A reason to skip (tap's `{ skip }`) when PostgreSQL is not installed on a developer's machine; false otherwise.
 * Never a skip in CI (MOC_CI, set by .ci/run, or CI): .ci/run installs postgresql, so its absence there is a broken
 * environment and startPostgres fails, saying so.
 */
export const postgresSkip: string | false =
  postgresBinDir() === undefined && !process.env.MOC_CI && !process.env.CI
    ? 'PostgreSQL not installed (no /usr/lib/postgresql/*/bin/initdb): apt-get install postgresql'
    : false;

/** A fresh cluster on a free port, ready for connections; destroyed in `t`'s teardown. */
export async function startPostgres(t: Test, opts: PostgresOptions = {}): Promise<PostgresCluster> {
  const cluster = await launchPostgres(opts);
  t.teardown(() => cluster.destroy());
  return cluster;
}
