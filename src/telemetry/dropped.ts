/**
 * Errors nobody waits for: a background store write, the release of a job's memory, a lease renewal, an unload
 * after an alias moved. The work goes on without them (the code around each site says why it may), but each one is
 * told, never swallowed: one `error.dropped` log line and one count in moc_dropped_errors_total{where}.
 *
 *   actor task ──.then(…, (err) => dropped('jobs.release', err, {…})) ──> log line + counter
 *
 * `where` is a metric label, so the sites are a fixed list, declared here.
 */
import { MocError, toMocError } from '../errors.js';
import type { Logger } from '../log.js';

export const DROP_SITES = [
  /** A claim's write failed: the job stays a candidate (another tick or process takes it). */
  'jobs.claim',
  /** The device memory held for a job could not be released: the ledger keeps it until the device restarts. */
  'jobs.release',
  /** A lease renewal (with the progress and log lines it carried) failed: the next renewal tries again. */
  'jobs.renew',
  /** The write of a run's end failed: the job's lease passes and it is taken over as if this process had died. */
  'jobs.end',
  /** A fleet host could not read its devices' room: jobs needing memory wait for the next poll's read. */
  'jobs.room',
  /** Putting a job back in the queue at shutdown failed: its lease passes, as above. */
  'jobs.requeue',
  /** An idle model's keep-alive unload failed: it stays loaded, and the timer re-arms with its next report. */
  'lifecycle.keep_alive_unload',
  /** After an alias moved, the old target's unload failed: it stays loaded until evicted or its keep-alive passes. */
  'lifecycle.alias_unload',
  /** A main-thread actor did not answer `shutdown` within the grace: its mailbox is closed anyway. */
  'shutdown.ask',
] as const;
export type DropSite = (typeof DROP_SITES)[number];

/** Tells of an error nobody waits for; `fields` say which (a job id, a model), never user text. */
export type ReportDropped = (where: DropSite, err: unknown, fields?: Record<string, unknown>) => void;

/** The reporter of a running server: a warn line and a count. */
export function dropReporter(log: Logger, counter: { inc(labels: { where: DropSite }): void }): ReportDropped {
  return (where, err, fields = {}) => {
    counter.inc({ where });
    const e = toMocError(err);
    // A bug's stack is worth the line; a coded error's message says it all.
    const stack = !(err instanceof MocError) && err instanceof Error && err.stack ? { stack: err.stack } : {};
    log.log('warn', 'error.dropped', { where, ...fields, code: e.code, error: e.message, ...stack });
  };
}
