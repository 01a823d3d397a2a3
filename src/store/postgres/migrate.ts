/**
 * `moc migrate <lmdb-data-dir> <postgres-url>`: moving a host's work into a fleet's database. The LMDB event log is
 * replayed, in order, into PostgreSQL — every job, goal and feedback event becomes a row of `moc_events` with its
 * record's revision, and the record rows end as the last event left them — so goals' history and every follower see
 * the same past. Then a checksum of the work (jobs, goals, feedback and their idempotency keys; canonical JSON, key
 * order) is computed on both sides and compared, as `moc replay` does; the keys of goals and feedback are read back
 * from their columns, so a key lost on the way shows. Only into an empty database: a fleet's work is never merged
 * with a host's by this. The model catalog and aliases stay in the host's LMDB (docs/fleet.md).
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { open } from 'lmdb';
import pg from 'pg';
import type { StoreEvent } from '../../../schemas/catalog.js';
import type { Feedback } from '../../../schemas/feedback.js';
import type { Goal } from '../../../schemas/goals.js';
import type { Job } from '../../../schemas/jobs.js';
import { canonicalJson } from '../../canonical-json.js';
import { jobKey, ownerKey } from '../keys.js';
import { openTables } from '../store.js';
import { redactUrl } from './pg-work-store.js';
import { DDL } from './schema.js';

export interface MigrateResult {
  events: number;
  jobs: number;
  goals: number;
  feedback: number;
  source: string;
  migrated: string;
  equal: boolean;
}

/** The work as sorted maps: what the checksum covers on either side. */
interface Work {
  jobs: Map<string, Job>;
  keys: Map<string, string>;
  goals: Map<string, Goal>;
  goalKeys: Map<string, string>;
  feedback: Map<string, Feedback>;
  feedbackKeys: Map<string, string>;
}

export function workChecksum(w: Work): string {
  const h = createHash('sha256');
  for (const [name, m] of Object.entries(w) as [string, Map<string, unknown>][]) {
    // As JSON says it: a field set to undefined (LMDB's msgpack keeps it) is no field (what JSONB keeps).
    for (const k of [...m.keys()].sort())
      h.update(`${canonicalJson([name, k, JSON.parse(JSON.stringify(m.get(k)))])}\n`);
  }
  return h.digest('hex');
}

export async function migrate(dataDir: string, url: string): Promise<MigrateResult> {
  const src = open({ path: path.join(dataDir, 'moc.lmdb'), maxDbs: 16, readOnly: true });
  const client = new pg.Client({ connectionString: url, options: '-c synchronous_commit=on' });
  try {
    await client.connect().catch((err: Error) => {
      throw new Error(`migrate: PostgreSQL at ${redactUrl(url)} did not answer: ${err.message}`);
    });
    await client.query(DDL);
    const held = await client.query(
      'SELECT (SELECT count(*) FROM moc_jobs) + (SELECT count(*) FROM moc_goals) + (SELECT count(*) FROM moc_feedback) AS n',
    );
    if (Number(held.rows[0].n) > 0)
      throw new Error(`migrate: ${redactUrl(url)} already holds work; migrate into an empty database`);

    const t = openTables(src);
    const source: Work = {
      jobs: new Map([...t.jobs.getRange()].map((e) => [e.key, e.value])),
      keys: new Map([...t.jobKeys.getRange()].map((e) => [e.key, e.value])),
      goals: new Map([...t.goals.getRange()].map((e) => [e.key, e.value])),
      goalKeys: new Map([...t.goalKeys.getRange()].map((e) => [e.key, e.value])),
      feedback: new Map([...t.feedback.getRange()].map((e) => [e.key, e.value])),
      feedbackKeys: new Map([...t.feedbackKeys.getRange()].map((e) => [e.key, e.value])),
    };

    // The log, replayed: each record's revision counts its events; the rows end as the last event left them.
    const revs = new Map<string, number>();
    const last = { job: new Map<string, Job>(), goal: new Map<string, Goal>(), feedback: new Map<string, Feedback>() };
    let events = 0;
    await client.query('BEGIN');
    const insert = 'INSERT INTO moc_events (kind, id, rev, body) VALUES ($1, $2, $3, $4)';
    for (const { value: e } of src.openDB<StoreEvent, number>({ name: 'events' }).getRange()) {
      const rec =
        e.type === 'job.submitted' || e.type === 'job.updated'
          ? { kind: 'job' as const, id: e.job.id, body: e.job }
          : e.type === 'goal.changed'
            ? { kind: 'goal' as const, id: e.goal.id, body: e.goal }
            : e.type === 'feedback.recorded'
              ? { kind: 'feedback' as const, id: e.feedback.id, body: e.feedback }
              : null;
      if (!rec) continue; // the catalog's events stay with the host's LMDB
      const key = `${rec.kind}\u0000${rec.id}`;
      const rev = (revs.get(key) ?? 0) + 1;
      revs.set(key, rev);
      (last[rec.kind] as Map<string, unknown>).set(rec.id, rec.body);
      await client.query(insert, [rec.kind, rec.id, rev, rec.body]);
      events++;
    }
    for (const [id, j] of last.job)
      await client.query('INSERT INTO moc_jobs (id, owner, request_id, rev, body) VALUES ($1, $2, $3, $4, $5)', [
        id,
        j.owner,
        j.requestId ?? null,
        revs.get(`job\u0000${id}`),
        j,
      ]);
    for (const [id, g] of last.goal)
      await client.query('INSERT INTO moc_goals (id, owner, request_id, rev, body) VALUES ($1, $2, $3, $4, $5)', [
        id,
        g.owner,
        g.requestId ?? null,
        revs.get(`goal\u0000${id}`),
        g,
      ]);
    for (const [id, f] of last.feedback)
      await client.query('INSERT INTO moc_feedback (id, owner, idempotency_key, body) VALUES ($1, $2, $3, $4)', [
        id,
        f.owner,
        f.idempotencyKey ?? null,
        f,
      ]);
    await client.query('COMMIT');

    const jobs = new Map((await client.query('SELECT id, body FROM moc_jobs')).rows.map((r) => [r.id, r.body as Job]));
    const migrated: Work = {
      jobs,
      keys: new Map(
        [...jobs.values()].filter((j) => j.requestId !== undefined).map((j) => [jobKey(j.owner, j.requestId!), j.id]),
      ),
      goals: new Map((await client.query('SELECT id, body FROM moc_goals')).rows.map((r) => [r.id, r.body as Goal])),
      goalKeys: await keysOf(client, 'moc_goals', 'request_id'),
      feedback: new Map(
        (await client.query('SELECT id, body FROM moc_feedback')).rows.map((r) => [r.id, r.body as Feedback]),
      ),
      feedbackKeys: await keysOf(client, 'moc_feedback', 'idempotency_key'),
    };
    const a = workChecksum(source);
    const b = workChecksum(migrated);
    return {
      events,
      jobs: jobs.size,
      goals: migrated.goals.size,
      feedback: migrated.feedback.size,
      source: a,
      migrated: b,
      equal: a === b,
    };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    await client.end().catch(() => {});
    await src.close();
  }
}

/** A table's idempotency keys as its key columns hold them: owner + NUL + key → id. */
async function keysOf(client: pg.Client, table: string, column: string): Promise<Map<string, string>> {
  const r = await client.query(`SELECT id, owner, ${column} AS key FROM ${table} WHERE ${column} IS NOT NULL`);
  return new Map(r.rows.map((row) => [ownerKey(row.owner, row.key), row.id]));
}
