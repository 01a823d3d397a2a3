/**
 * The PostgreSQL tables of the work store. Records are whole JSON documents (the same records LMDB keeps) with the
 * columns the store's transactions look up by; `rev` counts a record's writes. The event log is ordered by
 * (xid, seq): xid is the writing transaction's id, and a follower reads only the events of transactions older than
 * every transaction still running (pg_snapshot_xmin), so nothing can later commit before its cursor — sequences
 * alone commit out of order and "seq > cursor" would skip an event for good (docs/fleet.md).
 */
export const SCHEMA_VERSION = 1;

/**
 * Hosts starting together on an empty database would race on CREATE TABLE IF NOT EXISTS (two creators of one table:
 * one fails on the catalog's unique index): one transaction under an advisory lock creates what is missing.
 */
export const DDL_LOCK = 0x6d6f63; // 'moc'

export const DDL = `
BEGIN;
SELECT pg_advisory_xact_lock(${DDL_LOCK});
CREATE TABLE IF NOT EXISTS moc_jobs (
  id text PRIMARY KEY,
  owner text NOT NULL,
  request_id text,
  rev bigint NOT NULL,
  body jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS moc_goals (
  id text PRIMARY KEY,
  rev bigint NOT NULL,
  body jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS moc_feedback (
  id text PRIMARY KEY,
  body jsonb NOT NULL
);
-- Indexes and added columns only where missing, checked first: CREATE INDEX IF NOT EXISTS and ALTER TABLE lock the
-- table (against writes) before finding there is nothing to do, and a host starting would stall the fleet's writes.
-- The idempotency keys of goals and feedback came after the first release: a database made before them gets them
-- here (its rows have no key). A unique index per owner, as moc_jobs_request_key.
DO $ddl$
BEGIN
  IF to_regclass('moc_jobs_request_key') IS NULL THEN
    CREATE UNIQUE INDEX moc_jobs_request_key ON moc_jobs (owner, request_id) WHERE request_id IS NOT NULL;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = 'moc_goals' AND column_name = 'request_id') THEN
    ALTER TABLE moc_goals ADD COLUMN IF NOT EXISTS owner text, ADD COLUMN IF NOT EXISTS request_id text;
  END IF;
  IF to_regclass('moc_goals_request_key') IS NULL THEN
    CREATE UNIQUE INDEX moc_goals_request_key ON moc_goals (owner, request_id) WHERE request_id IS NOT NULL;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = 'moc_feedback'
                   AND column_name = 'idempotency_key') THEN
    ALTER TABLE moc_feedback ADD COLUMN IF NOT EXISTS owner text, ADD COLUMN IF NOT EXISTS idempotency_key text;
  END IF;
  IF to_regclass('moc_feedback_idempotency_key') IS NULL THEN
    CREATE UNIQUE INDEX moc_feedback_idempotency_key
      ON moc_feedback (owner, idempotency_key) WHERE idempotency_key IS NOT NULL;
  END IF;
END
$ddl$;
CREATE TABLE IF NOT EXISTS moc_events (
  xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  seq bigserial NOT NULL,
  kind text NOT NULL,
  id text NOT NULL,
  rev bigint NOT NULL,
  body jsonb NOT NULL,
  PRIMARY KEY (xid, seq)
);
CREATE TABLE IF NOT EXISTS moc_meta (key text PRIMARY KEY, value text NOT NULL);
INSERT INTO moc_meta (key, value) VALUES ('schema_version', '${SCHEMA_VERSION}') ON CONFLICT (key) DO NOTHING;
COMMIT;
`;

/** The events after a cursor, of transactions that can no longer commit before it. */
export const FOLLOW = `
SELECT xid::text AS xid, seq::text AS seq, kind, rev::text AS rev, body FROM moc_events
WHERE (xid, seq) > ($1::xid8, $2::bigint) AND xid < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY xid, seq
LIMIT $3`;
