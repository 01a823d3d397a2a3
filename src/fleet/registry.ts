/**
 * The fleet registry. With store.kind postgres every host heartbeats into `moc_hosts` every fleet.heartbeatMs: the
 * whole record when it changed (a load, an eviction, a ledger move, a queue) or fleet.fullEveryMs passed, otherwise
 * only the time. Alive and silence are judged by the database's clock (now() − heartbeat_at), never by a host's own:
 * hosts' clocks may disagree. With LMDB (one host) the fleet is this host, from its own state.
 */
import { isDeepStrictEqual } from 'node:util';
import type { FleetHost, HostRecord } from '../../schemas/fleet.js';
import { DDL_LOCK } from '../store/postgres/schema.js';

export interface FleetSource {
  hosts(): Promise<FleetHost[]>;
  close(): Promise<void>;
}

/** What the registry needs of the database: a query (the work store's pool). */
export type Query = (sql: string, params?: unknown[]) => Promise<{ rows: Record<string, unknown>[] }>;

export const HOSTS_DDL = `
BEGIN;
SELECT pg_advisory_xact_lock(${DDL_LOCK});
CREATE TABLE IF NOT EXISTS moc_hosts (
  host_id text PRIMARY KEY,
  record jsonb NOT NULL,
  heartbeat_at timestamptz NOT NULL,
  record_at timestamptz NOT NULL
);
COMMIT;`;

const alive = (silentMs: number, r: HostRecord) => silentMs < 2 * r.heartbeat_ms;

/** One host alone (store.kind lmdb): its own record, always alive. */
export class LocalFleet implements FleetSource {
  constructor(
    private readonly hostId: string,
    private readonly snapshot: () => Promise<HostRecord>,
  ) {}
  async hosts(): Promise<FleetHost[]> {
    return [{ host_id: this.hostId, alive: true, silent_ms: 0, ...(await this.snapshot()) }];
  }
  async close(): Promise<void> {}
}

export interface PgFleetOptions {
  hostId: string;
  heartbeatMs: number;
  fullEveryMs: number;
  snapshot: () => Promise<HostRecord>;
  /** A heartbeat that could not be written (the database away): told once per outage, and null when it is back. */
  onError?: (err: Error | null) => void;
}

export class PgFleetRegistry implements FleetSource {
  private timer: NodeJS.Timeout | undefined;
  private last: HostRecord | null = null;
  private lastFullAt = 0;
  private beating: Promise<void> | null = null;
  private failing = false;
  private closed = false;

  private constructor(
    private readonly query: Query,
    private readonly o: PgFleetOptions,
  ) {}

  /** Creates the table if missing, publishes this host now, then every heartbeatMs. */
  static async start(query: Query, o: PgFleetOptions): Promise<PgFleetRegistry> {
    await query(HOSTS_DDL);
    const r = new PgFleetRegistry(query, o);
    await r.beat();
    r.timer = setInterval(() => {
      if (!r.beating) r.beating = r.beat().finally(() => (r.beating = null));
    }, o.heartbeatMs);
    r.timer.unref();
    return r;
  }

  /** One heartbeat: the record if it changed (or a full one is due), else the time alone. */
  async beat(): Promise<void> {
    if (this.closed) return;
    try {
      const record = await this.o.snapshot();
      const now = Date.now();
      const full =
        this.last === null || !isDeepStrictEqual(record, this.last) || now - this.lastFullAt >= this.o.fullEveryMs;
      if (full) {
        await this.query(
          `INSERT INTO moc_hosts (host_id, record, heartbeat_at, record_at) VALUES ($1, $2, now(), now())
           ON CONFLICT (host_id) DO UPDATE SET record = EXCLUDED.record, heartbeat_at = now(), record_at = now()`,
          [this.o.hostId, record],
        );
        this.last = record;
        this.lastFullAt = now;
      } else {
        const r = await this.query('UPDATE moc_hosts SET heartbeat_at = now() WHERE host_id = $1 RETURNING host_id', [
          this.o.hostId,
        ]);
        // Its row is gone (an operator removed it): the next beat writes it whole.
        if (r.rows.length === 0) this.last = null;
      }
      if (this.failing) {
        this.failing = false;
        this.o.onError?.(null);
      }
    } catch (err) {
      this.last = null; // whole again once the database is back
      if (!this.failing) {
        this.failing = true;
        this.o.onError?.(err as Error);
      }
    }
  }

  async hosts(): Promise<FleetHost[]> {
    const r = await this.query(
      `SELECT host_id, record, floor(extract(epoch FROM (now() - heartbeat_at)) * 1000)::bigint::text AS silent_ms
       FROM moc_hosts ORDER BY host_id`,
    );
    return r.rows.map((row) => {
      const record = row.record as HostRecord;
      const silent = Math.max(0, Number(row.silent_ms));
      return { host_id: row.host_id as string, alive: alive(silent, record), silent_ms: silent, ...record };
    });
  }

  /** Stops heartbeating (the row stays: the others see this host go silent, then it is back on restart). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.beating;
  }
}
