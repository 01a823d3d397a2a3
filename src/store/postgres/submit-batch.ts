/**
 * Group commit for submits: the submits that arrive while earlier ones are being written go to PostgreSQL together,
 * as one statement (one transaction, one round trip, one WAL flush for all of them) — what lmdb-js does for the LMDB
 * store, and River's InsertMany for its users. Each submit is still acknowledged only after the COMMIT that made it
 * durable (synchronous_commit on), so nothing is acknowledged earlier than it was one by one; a failed statement fails
 * every submit in it (none of them committed, or, on a connection lost at the instant of COMMIT, the client's retry
 * finds its job by its key).
 *
 * At most `statements` batches are in flight: fewer statements carry more jobs each. One more batch starts as soon
 * as one ends, so a lone submit waits for nothing but its own commit.
 */
import type { Job } from '../../../schemas/jobs.js';

/** One statement: the jobs inserted unless their key is taken, an event for each inserted; the inserted ids back. */
export const SUBMIT_MANY = `
WITH input AS (SELECT e AS body, ord FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, ord)),
job AS (
  INSERT INTO moc_jobs (id, owner, request_id, rev, body)
  SELECT body->>'id', body->>'owner', body->>'requestId', 1, body FROM input ORDER BY ord
  ON CONFLICT (owner, request_id) WHERE request_id IS NOT NULL DO NOTHING RETURNING id, body
)
INSERT INTO moc_events (kind, id, rev, body) SELECT 'job', id, 1, body FROM job RETURNING id`;

/** A batch larger than this is split: one statement's parameter stays a few MB at most. */
const MAX_BATCH = 500;

interface Pending {
  job: Job;
  resolve: (inserted: boolean) => void;
  reject: (err: unknown) => void;
}

export class SubmitBatcher {
  private queue: Pending[] = [];
  private inFlight = 0;
  private scheduled = false;

  /** run: executes SUBMIT_MANY with the batch's JSON and answers the inserted ids. */
  constructor(
    private readonly run: (json: string) => Promise<string[]>,
    private readonly statements: number,
  ) {}

  /** Resolves true once the job is committed, false when its key was already taken (nothing written). */
  submit(job: Job): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      this.schedule();
    });
  }

  /** Everything not yet sent is refused with `err` (the store is closing). */
  refuseQueued(err: Error): void {
    for (const p of this.queue.splice(0)) p.reject(err);
  }

  /**
   * A batch starts after the submits of the current turn of the event loop are all queued (setImmediate), if a
   * statement slot is free; otherwise when one ends.
   */
  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.statements || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.send();
    });
  }

  private send(): void {
    if (this.inFlight >= this.statements || this.queue.length === 0) return;
    const batch = this.queue.splice(0, MAX_BATCH);
    this.inFlight++;
    this.run(JSON.stringify(batch.map((p) => p.job)))
      .then(
        (ids) => {
          const inserted = new Set(ids);
          for (const p of batch) p.resolve(inserted.has(p.job.id));
        },
        (err) => {
          for (const p of batch) p.reject(err);
        },
      )
      .finally(() => {
        this.inFlight--;
        this.schedule();
      });
    // Slots still free and submits still queued (a batch larger than MAX_BATCH): another statement at once.
    this.schedule();
  }
}
