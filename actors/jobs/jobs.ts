/**
 * Jobs actor (main thread): learning jobs, durable in LMDB, prioritised, leased. The store is the truth, shared by
 * every process on the data directory; this actor holds what only this process knows: the runs it started (their
 * AbortControllers) and the claims it is making. Its state changes only in receive(); store writes and runs are
 * tasks that report back as messages to self (LocalActor.inbox), as in the Lifecycle.
 *
 * A job: submitted (acknowledged once committed) → claimed by a process (a write transaction: queued, or running
 * with an expired lease → running with this process's lease) → run → ended (succeeded, failed, cancelled; or
 * retrying, queued again after a backoff while attempts are left). The lease is renewed while it runs; a process that
 * dies loses its jobs when their lease passes and another process (or this one, restarted) takes them over.
 * A terminal state is never overwritten: the store refuses any change to a terminal job.
 */
import { hostname } from 'node:os';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Config } from '../../schemas/config.js';
import type { DeviceStatus } from '../../schemas/messages.js';
import {
  isTerminal,
  JOB_SPECS,
  type Job,
  type JobType,
  type ListJobsRequest,
  type PromoteIf,
  type SubmitJobRequest,
} from '../../schemas/jobs.js';
import { canonicalJson } from '../../src/canonical-json.js';
import { errors, type MocError, toMocError } from '../../src/errors.js';
import type { ActorRef, Behavior, Envelope } from '../../src/kernel/types.js';
import { summaryOf, type JobSummary, type WorkStore } from '../../src/store/work-store.js';
import type { ReportDropped } from '../../src/telemetry/dropped.js';
import { validate } from '../../src/validate.js';
import { checkOutputFree, checkRelative } from './dataset.js';
import { RunQueue, type QueueEntry } from './job-queue.js';
import type { ModelsPort } from './models-port.js';
import type { JobOutputs, Runners } from './runners.js';
import { checkTrainerParams, killOrphan } from './trainers.js';
import { replyAs } from '../../src/kernel/reply.js';
import { planPlacement } from '../lifecycle/placement.js';

export type JobsProtocol = {
  submit: { req: { kind: 'submit'; request: SubmitJobRequest; owner: string }; reply: Job };
  get: { req: { kind: 'get'; id: string }; reply: Job };
  list: { req: { kind: 'list'; request: ListJobsRequest }; reply: Job[] };
  cancel: { req: { kind: 'cancel'; id: string }; reply: Job };
  /** Whether an owner's request_id (idempotency key) names a job already: a retry, answered by the store. */
  known: { req: { kind: 'known'; owner: string; requestId: string }; reply: boolean };
};

type RunResult = { ok: true; outputs: JobOutputs } | { ok: false; error: MocError };

/** What the actor sends itself. */
export type JobsInbox = {
  /** Look for work among the candidates known here: after a submit and after an end. */
  tick: { req: { kind: 'tick' }; reply: void };
  /** Every jobs.pollMs: re-read the store's active jobs (other processes' submits and ends, expired leases), then tick. */
  poll: { req: { kind: 'poll' }; reply: void };
  claimed: { req: { kind: 'claimed'; id: string; job: Job | null }; reply: void };
  ended: { req: { kind: 'ended'; id: string; result: RunResult }; reply: void };
  /** Progress or a log line of a running job. */
  report: {
    req: {
      kind: 'report';
      id: string;
      progress?: { fraction: number; message: string };
      log?: string;
      process?: { pid: number; start: string };
    };
    reply: void;
  };
  /** Other processes' job changes have arrived in the store (told by it, between polls): read them and tick. */
  changed: { req: { kind: 'changed' }; reply: void };
  /** A fleet host's devices as they are now (read when stale): which jobs' memory fits here before claiming them. */
  room: { req: { kind: 'room'; devices: DeviceStatus[] }; reply: void };
  /** A job this process stored: a candidate from now on. */
  submitted: { req: { kind: 'submitted'; job: Job }; reply: void };
  /** A write of an end or a requeue committed (see writing). */
  written: { req: { kind: 'written' }; reply: void };
  /** Time to renew the leases of the jobs running here (every leaseMs/3), writing their progress with them. */
  renew: { req: { kind: 'renew' }; reply: void };
  /** Lease renewal answered: null when the lease was lost (or the job was cancelled from another process). */
  renewed: { req: { kind: 'renewed'; id: string; job: Job | null }; reply: void };
  /**
   * Graceful stop: take no new job, stop the runs, put their jobs back in the queue (the attempt does not count: the
   * job did not fail, the server stopped) and answer once that is written.
   */
  shutdown: { req: { kind: 'shutdown' }; reply: void };
};
export type JobsMessages = JobsProtocol & JobsInbox;

/** How long a job that found no memory waits before it tries again. */
const MEMORY_WAIT_MS = 2000;
/** How old a fleet host's read of its devices may be when it judges whether a job's memory fits (fitsNow()). */
const ROOM_FRESH_MS = 1000;
/** Retry backoff after a failed attempt: 1 s, 2 s, 4 s … at most a minute. */
const backoffMs = (attempts: number) => Math.min(60_000, 1000 * 2 ** Math.max(0, attempts - 1));
/** Error codes worth another attempt: the job's work did not fail, its circumstances did. */
const RETRYABLE = new Set(['MOC_ERR_UNAVAILABLE', 'MOC_ERR_BUSY', 'MOC_ERR_DEADLINE_EXCEEDED']);

interface LocalRun {
  ac: AbortController;
  /** The lease's epoch this run holds (the attempt it claimed): every write of the run requires it. */
  epoch: number;
  /** Progress and log lines not yet written to the store (written with the next lease renewal, or at the end). */
  progress?: { fraction: number; message: string };
  log: string[];
  process?: { pid: number; start: string; host?: string };
}

export class Jobs implements Behavior<JobsMessages> {
  /** This process's name in leases: unique per start, so a restarted process does not mistake its old leases for its own. */
  readonly owner = `${process.pid}-${randomBytes(4).toString('hex')}`;
  private readonly runs = new Map<string, LocalRun>();
  private readonly claiming = new Set<string>();
  private self!: ActorRef<JobsMessages>;
  private poll: NodeJS.Timeout | undefined;
  private renew: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Graceful stop under way: who waits for the runs to be put back (see shutdown). */
  private stopping: Array<Envelope<JobsMessages, 'shutdown'>> | null = null;
  /** Ends and requeues being written: a shutdown answers only after them (the store closes next). */
  private writing = 0;
  private tickQueued = false;
  /** A fleet host's devices as last read (askRoom), and when; null until the first answer. */
  private room: DeviceStatus[] | null = null;
  private roomAt = 0;
  private asking = false;
  private changeQueued = false;
  private unsubscribe: (() => void) | undefined;
  /**
   * Active jobs as last read from the store (every pollMs) or changed here since: the scheduler picks from this,
   * never from whole records. A claim re-checks the committed record, so a stale entry costs a refused claim at most.
   */
  private readonly candidates = new RunQueue();
  /** The event-log position up to which the store's job changes have been read (-1: not yet; see refresh). */
  private seen = -1;
  private readonly watchers = new Set<(j: Job) => void>();
  /** Told when a run of this process ends its job (succeeded, failed, cancelled): the metrics count and time it. */
  onRunEnded: ((type: JobType, state: Job['state'], seconds: number) => void) | null = null;
  /** Told when a run of this process finds its lease taken over (it stalled past it): the run stops, writing nothing. */
  onFenced: ((job: string, epoch: number, holder: string) => void) | null = null;

  private readonly runnable: JobType[];

  constructor(
    private readonly config: Config,
    private readonly store: WorkStore,
    private readonly models: ModelsPort,
    private readonly runners: Runners,
    /** Where the errors of writes nobody waits for go (a log line and a count: src/telemetry/dropped.ts). */
    private readonly dropped: ReportDropped,
  ) {
    this.runnable = Object.keys(runners) as JobType[];
  }

  bind(self: ActorRef<JobsMessages>): void {
    this.self = self;
    const c = this.config.jobs;
    this.poll = setInterval(() => this.post({ kind: 'poll' }), c.pollMs);
    // Renew well before expiry, and write progress with it: one transaction per running job per period.
    this.renew = setInterval(() => this.post({ kind: 'renew' }), Math.max(100, Math.floor(c.leaseMs / 3)));
    this.poll.unref();
    this.renew.unref();
    // Another host's submit or end reaches this host's replica by NOTIFY: looked at then, not at the next poll (a
    // fleet's idle host takes a busy host's job at once). One message waiting is enough.
    this.unsubscribe = this.store.onJobChanges(() => this.post({ kind: 'changed' }));
    this.post({ kind: 'poll' });
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    clearInterval(this.poll);
    clearInterval(this.renew);
    // Runs still going (a destroy, or a close past its grace) are stopped; their jobs keep their lease until it
    // expires and are then taken over (by this server once restarted, or another process).
    for (const run of this.runs.values()) run.ac.abort(errors.unavailable('the server is shutting down'));
  }

  /** WatchJob: every change of a job this process makes or sees, as it happens. Returns the unsubscribe function. */
  watch(listener: (j: Job) => void): () => void {
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }

  /** Jobs this process is running now. */
  get running(): number {
    return this.runs.size;
  }
  /** Jobs the scheduler here considers (queued, retrying, running elsewhere): ended jobs never stay in it. */
  get candidateCount(): number {
    return this.candidates.size;
  }

  receive(env: Envelope<JobsMessages>): void {
    const msg = env.msg;
    switch (msg.kind) {
      case 'submit':
        return this.submit(env as Envelope<JobsMessages, 'submit'>);
      case 'get':
        return replyAs(env, 'get', this.live(this.find(msg.id)));
      case 'list':
        return replyAs(env, 'list', this.list(msg.request));
      case 'cancel':
        return this.cancel(env as Envelope<JobsMessages, 'cancel'>);
      case 'known':
        return replyAs(env, 'known', this.store.jobByRequestId(msg.owner, msg.requestId) !== undefined);
      case 'tick':
        return this.tick();
      case 'poll':
        this.refresh();
        return this.tick();
      case 'changed':
        this.changeQueued = false;
        this.refresh();
        return this.tick();
      case 'room':
        this.room = msg.devices;
        this.roomAt = Date.now();
        return this.tick();
      case 'claimed':
        return this.claimed(msg.id, msg.job);
      case 'ended':
        return this.ended(msg.id, msg.result);
      case 'report':
        return this.report(msg);
      case 'renew':
        return this.renewLeases();
      case 'written':
        this.writing--;
        return this.settleShutdown();
      case 'submitted':
        // An ended job leaves the queue for good (the log read skips this process's own changes: nothing else would).
        if (isTerminal(msg.job.state)) this.candidates.delete(msg.job.id);
        else this.candidates.set({ id: msg.job.id, ...summaryOf(msg.job) });
        return this.post({ kind: 'tick' });
      case 'renewed':
        return this.renewed(msg.id, msg.job);
      case 'shutdown':
        return this.shutdown(env as Envelope<JobsMessages, 'shutdown'>);
      default:
        throw new Error(`jobs: unknown message kind ${JSON.stringify((msg as { kind: unknown }).kind)}`);
    }
  }

  // ---- requests ----

  private submit(env: Envelope<JobsMessages, 'submit'>): void {
    const { request: r, owner } = env.msg;
    if (!this.runnable.includes(r.type)) throw errors.jobTypeNotRunnable(r.type, this.runnable);
    const spec = validateSpec(r);
    // A device no configuration names would otherwise be taken on trust (and ignored when no memory is reserved).
    if (r.device !== undefined && !this.config.devices.some((d) => d.id === r.device))
      throw errors.deviceNotFound(
        r.device,
        this.config.devices.map((d) => d.id),
      );
    for (const field of ['dataset', 'eval_dataset', 'output'] as const) {
      if (typeof spec[field] === 'string') checkRelative(`spec.${field}`, spec[field]);
    }
    // Refused now rather than as a failed job later; a retry of a keyed submit is answered by the store instead.
    if (
      r.type === 'export-feedback' &&
      (r.request_id === undefined || !this.store.jobByRequestId(owner, r.request_id))
    ) {
      const out = spec as { output: string; overwrite?: boolean };
      checkOutputFree(this.config.jobs.datasetsRoot, out.output, out.overwrite === true);
    }
    if (r.type === 'fine-tune') {
      const ft = spec as {
        trainer?: string;
        params?: Record<string, string | number | boolean>;
        promote_to?: string;
        eval_dataset?: string;
        promote_if?: PromoteIf;
      };
      checkTrainerParams(this.config, ft.trainer, ft.params ?? {});
      checkPromotion(ft);
      if (ft.promote_to !== undefined && ft.eval_dataset === undefined) {
        throw errors.invalidArgument(
          'spec.eval_dataset',
          'is required with promote_to: the trained model is evaluated on it before the alias moves',
        );
      }
    }
    const now = Date.now();
    const job: Job = {
      id: `job-${now.toString(36)}-${randomUUID().slice(0, 13)}`,
      type: r.type,
      spec,
      priority: r.priority ?? 0,
      owner,
      ...(r.device !== undefined ? { device: r.device } : {}),
      memoryBytes: r.memory_bytes ?? 0,
      state: 'queued',
      attempts: 0,
      maxAttempts: r.max_attempts ?? this.config.jobs.defaultMaxAttempts,
      progress: { fraction: 0, message: 'queued' },
      createdAt: now,
      queuedAt: now,
      startedAt: 0,
      endedAt: 0,
      updatedAt: now,
      logTail: [],
      outputs: { files: [], metrics: {}, models: [] },
      cancelRequested: false,
      notBefore: 0,
      ...(r.request_id !== undefined ? { requestId: r.request_id } : {}),
    };
    this.store.submitJob(job).then(
      ({ job: stored, created }) => {
        // The same key with other parameters is another request, not a retry: answering the first job would hide it.
        const differ = created ? [] : differingFields(stored, job);
        if (differ.length > 0)
          return env.fail(errors.requestIdReused(r.request_id!, `job ${stored.id}`, differ, { job: stored.id }));
        env.reply(stored);
        if (created) {
          this.emit(stored);
          this.post({ kind: 'submitted', job: stored });
        }
      },
      (err) => env.fail(err),
    );
  }

  private find(id: string): Job {
    const job = this.store.getJob(id);
    if (!job) throw errors.jobNotFound(id);
    return job;
  }

  private list(r: ListJobsRequest): Job[] {
    return this.store
      .listJobs()
      .filter((j) => (r.state === undefined || j.state === r.state) && (r.type === undefined || j.type === r.type))
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1))
      .slice(0, r.limit ?? 100)
      .map((j) => this.live(j));
  }

  /** A job as stored, with the progress this process has not written yet (it writes at most every leaseMs/3). */
  private live(job: Job): Job {
    const run = this.runs.get(job.id);
    if (!run || isTerminal(job.state)) return job;
    return { ...job, ...(run.progress ? { progress: run.progress } : {}), logTail: this.tail(job.logTail, run.log) };
  }

  /**
   * Cancel: a queued or retrying job is cancelled at once; a running one is stopped (a trainer gets SIGTERM, then
   * SIGKILL after its grace) and becomes cancelled when its run has ended; the answer says cancelRequested. A job
   * running in another process is flagged; that process stops it at its next lease renewal. Cancelling a job that
   * already ended answers it as it is: a terminal state is never overwritten.
   */
  private cancel(env: Envelope<JobsMessages, 'cancel'>): void {
    const job = this.find(env.msg.id);
    if (isTerminal(job.state)) return env.reply(job);
    this.candidates.delete(job.id);
    const now = Date.now();
    this.store
      .updateJob(job.id, (j) =>
        j.state === 'running'
          ? { ...j, cancelRequested: true, updatedAt: now }
          : {
              ...j,
              state: 'cancelled',
              cancelRequested: true,
              endedAt: now,
              updatedAt: now,
              progress: { ...j.progress, message: 'cancelled' },
              notBefore: 0,
            },
      )
      .then(
        (updated) => {
          const current = updated ?? this.store.getJob(job.id)!;
          env.reply(current);
          this.emit(current);
        },
        (err) => env.fail(err),
      );
    this.runs.get(job.id)?.ac.abort(errors.cancelled('the job'));
  }

  // ---- scheduling ----

  /**
   * What changed in the store since the last poll — other processes' submits, claims, ends and cancels — read from
   * the event log (O(changes), not O(active jobs)). Watchers hear of other processes' changes here, within pollMs.
   * The first poll reads every active job, after noting the log's position: a change committed between the two
   * reads is read again next time, which is harmless (the same summary keeps its place in the queue).
   */
  private refresh(): void {
    if (this.seen < 0) {
      this.store.noteOwnWrites(); // from now on the log read below leaves this process's own changes out
      this.seen = this.store.lastEventSeq();
      const entries: QueueEntry[] = [];
      for (const [id, j] of this.store.activeJobs())
        if (!this.runs.has(id) && !this.claiming.has(id)) entries.push({ id, ...j });
      this.candidates.rebuild(entries);
      return;
    }
    // This process's own changes are not in it: candidates and watchers were updated as they committed. (One read
    // in the instant between its commit and its answer is told twice, the same version: followers drop repeats.)
    const { seq, jobs } = this.store.jobChangesSince(this.seen);
    this.seen = seq;
    // The last version of each job is its state as of `seq`: earlier ones are history (never told after a later one).
    const latest = new Map<string, Job>();
    for (const j of jobs) {
      latest.delete(j.id);
      latest.set(j.id, j);
    }
    for (const j of latest.values()) {
      this.emit(j);
      if (this.runs.has(j.id) || this.claiming.has(j.id)) continue;
      if (isTerminal(j.state)) this.candidates.delete(j.id);
      else this.candidates.set({ id: j.id, ...summaryOf(j) });
    }
  }

  private tick(): void {
    this.tickQueued = false;
    if (this.stopped || this.stopping) return;
    const free = this.config.jobs.parallelism - this.runs.size - this.claiming.size;
    if (free <= 0) return;
    const now = Date.now();
    const here = (id: string) => this.runsHere(id);
    for (const job of this.candidates.take(free, now, this.config.jobs.agingMs, (e) => claimable(e, now), here)) {
      this.claiming.add(job.id);
      this.store
        .updateJob(job.id, (j) => this.claim(j, Date.now()))
        .then(
          (claimed) => this.post({ kind: 'claimed', id: job.id, job: claimed }),
          (err) => {
            this.dropped('jobs.claim', err, { job: job.id });
            this.post({ kind: 'claimed', id: job.id, job: null });
          },
        );
    }
  }

  /**
   * In a fleet (store.kind postgres) a host takes only jobs it can run: one whose model (evaluate, prepare-dataset:
   * `model`; fine-tune: `base_model`) is in its catalog, and whose `memory_bytes` fits one of its devices now (placed
   * as the reservation would be: free room, or idle models evicted); the others wait for a host that has it, or for
   * room here. One host alone takes every job: one naming a model it lacks fails saying so, one whose memory is held
   * by busy models waits for it (ended()).
   */
  private runsHere(id: string): boolean {
    if (this.config.store.kind !== 'postgres') return true;
    const job = this.store.getJob(id);
    const model = job?.spec?.model ?? job?.spec?.base_model;
    if (typeof model === 'string' && this.models.resolve(model) === undefined) return false;
    return !job || this.fitsNow(job);
  }

  /**
   * Whether the job's memory fits a device here, by the devices' state read at most ROOM_FRESH_MS ago, less what the
   * jobs claimed since then will hold (taken off the copy as each is judged). An older read is renewed (the answer
   * ticks again) and the job waits for it. The reservation after the claim still decides: a view a second old can be
   * wrong, and then the job waits for memory as on one host.
   */
  private fitsNow(job: Job): boolean {
    if (job.memoryBytes === 0) return true;
    if (Date.now() - this.roomAt > ROOM_FRESH_MS) {
      this.askRoom();
      return false;
    }
    const devices = (this.room ?? []).filter((d) => job.device === undefined || d.id === job.device);
    if (devices.length === 0) return false;
    try {
      const plan = planPlacement(`job:${job.id}`, job.memoryBytes, devices);
      const d = devices.find((x) => x.id === plan.device)!;
      const freed = plan.evict.reduce((sum, m) => sum + m.reservedBytes, 0);
      d.memory = { ...d.memory, reserved: d.memory.reserved - freed + job.memoryBytes };
      d.models = d.models.filter((m) => !plan.evict.includes(m));
      return true;
    } catch {
      return false;
    }
  }

  /** A fleet host's devices, read when a job with memory is judged and the last read is stale (fitsNow()). */
  private askRoom(): void {
    if (this.asking) return;
    this.asking = true;
    this.models
      .room()
      .then(
        (devices) => this.post({ kind: 'room', devices }),
        (err) => this.dropped('jobs.room', err, {}),
      )
      .finally(() => {
        this.asking = false;
      });
  }

  /** Inside the store's write transaction: the job as committed now, checked again (another process may have won). */
  private claim(j: Job, now: number): Job | null {
    if (!claimable(summaryOf(j), now)) return null;
    const leaseMs = this.config.jobs.leaseMs;
    if (j.state === 'running' && j.attempts >= j.maxAttempts) {
      // Its process died (the lease passed) on its last attempt.
      return {
        ...j,
        state: 'failed',
        endedAt: now,
        updatedAt: now,
        lease: undefined,
        error: {
          code: 'MOC_ERR_UNAVAILABLE',
          message: `the process running attempt ${j.attempts} of ${j.maxAttempts} stopped (its lease expired)`,
        },
      };
    }
    return {
      ...j,
      state: 'running',
      attempts: j.attempts + 1,
      startedAt: now,
      updatedAt: now,
      notBefore: 0,
      lease: { owner: this.owner, expiresAt: now + leaseMs, epoch: j.attempts + 1 },
      progress: { fraction: 0, message: j.state === 'running' ? 'taken over after its process stopped' : 'started' },
    };
  }

  private claimed(id: string, job: Job | null): void {
    this.claiming.delete(id);
    this.settleShutdown();
    if (!job) return;
    this.emit(job);
    if (job.state !== 'running' || job.lease?.owner !== this.owner) return this.post({ kind: 'tick' });
    if (this.stopped) return;
    if (this.stopping) return this.requeue(id);
    // A process that died running it may have left its trainer behind: stop it before this attempt starts.
    // Only on the host it ran on: on another (a fleet on a shared store), that pid is some other process.
    const orphan =
      job.process && (job.process.host === undefined || job.process.host === hostname()) ? job.process : undefined;
    if (killOrphan(orphan)) this.logLine(id, `stopped the previous attempt's process ${orphan!.pid}`);
    const run: LocalRun = { ac: new AbortController(), epoch: job.lease.epoch ?? job.attempts, log: [] };
    this.runs.set(id, run);
    const runner = this.runners[job.type];
    const run_ = (): Promise<JobOutputs> =>
      runner
        ? runner({
            job,
            config: this.config,
            models: this.models,
            signal: run.ac.signal,
            progress: (fraction, message) =>
              this.post({ kind: 'report', id, progress: { fraction: Math.min(1, Math.max(0, fraction)), message } }),
            log: (line) => this.post({ kind: 'report', id, log: line }),
            process: (p) => this.post({ kind: 'report', id, process: p }),
            fence: () => this.fence(id, run.epoch),
          })
        : Promise.reject(errors.jobTypeNotRunnable(job.type, this.runnable));
    // A job's memory is held in a device ledger while it runs, placed (and evicting) as a model's would be.
    const owner = `job:${id}`;
    const work =
      job.memoryBytes > 0
        ? this.models
            .reserve(owner, job.memoryBytes, job.device)
            .catch((err: unknown) => {
              // Marked: only a refusal of the job's own reservation makes it wait (a model load inside the run does not).
              const e = toMocError(err);
              e.details.reservation = true;
              throw e;
            })
            .then((held) => {
              this.post({ kind: 'report', id, log: `holding ${job.memoryBytes} bytes on ${held.device}` });
              return run_().finally(() =>
                this.models
                  .release(owner, held.device)
                  .catch((err) => this.dropped('jobs.release', err, { job: id, device: held.device })),
              );
            })
        : run_();
    work
      .then(
        (outputs) => ({ ok: true as const, outputs }),
        (err) => ({ ok: false as const, error: toMocError(err) }),
      )
      .then((result) => this.post({ kind: 'ended', id, result }));
  }

  private report(m: JobsInbox['report']['req']): void {
    const run = this.runs.get(m.id);
    if (!run) return;
    if (m.progress) run.progress = m.progress;
    if (m.log !== undefined) this.logLine(m.id, m.log);
    if (m.process) {
      run.process = { ...m.process, host: hostname() };
      this.flush(m.id); // written at once: a takeover must find it even if this process dies in the next second
    }
    const job = this.store.getJob(m.id);
    if (job) this.emit(this.live(job));
  }

  private logLine(id: string, line: string): void {
    const run = this.runs.get(id);
    if (!run) return;
    run.log.push(line.length > 1000 ? `${line.slice(0, 1000)}…` : line);
    if (run.log.length > this.config.jobs.logTailLines)
      run.log.splice(0, run.log.length - this.config.jobs.logTailLines);
  }

  private tail(stored: string[], pending: string[]): string[] {
    const all = [...stored, ...pending];
    return all.slice(Math.max(0, all.length - this.config.jobs.logTailLines));
  }

  // ---- leases ----

  private renewLeases(): void {
    for (const id of this.runs.keys()) this.flush(id);
  }

  /** Renews the lease and writes pending progress and log lines, in one transaction. */
  private flush(id: string): void {
    const run = this.runs.get(id);
    if (!run) return;
    const progress = run.progress;
    const log = run.log.splice(0);
    const proc = run.process;
    const now = Date.now();
    this.store
      .updateJob(id, (j) =>
        !this.holds(j, run.epoch)
          ? null
          : {
              ...j,
              lease: { owner: this.owner, expiresAt: now + this.config.jobs.leaseMs, epoch: run.epoch },
              updatedAt: now,
              ...(progress ? { progress } : {}),
              logTail: this.tail(j.logTail, log),
              ...(proc ? { process: proc } : {}),
            },
      )
      .then(
        (job) => this.post({ kind: 'renewed', id, job }),
        (err) => this.dropped('jobs.renew', err, { job: id }),
      );
  }

  private renewed(id: string, job: Job | null): void {
    const run = this.runs.get(id);
    if (!run) return;
    if (!job) return run.ac.abort(this.lost(id, run.epoch));
    if (job.cancelRequested) run.ac.abort(errors.cancelled('the job'));
  }

  /** Whether the committed record is still this run's: its lease's owner and epoch (the fencing token) unchanged. */
  private holds(j: Job, epoch: number | undefined): boolean {
    return j.lease?.owner === this.owner && (epoch === undefined || (j.lease.epoch ?? epoch) === epoch);
  }

  /** A renewal now, for a side effect outside the record: rejects when the run no longer holds the lease. */
  private async fence(id: string, epoch: number): Promise<void> {
    const now = Date.now();
    const kept = await this.store.updateJob(id, (j) =>
      this.holds(j, epoch)
        ? { ...j, lease: { owner: this.owner, expiresAt: now + this.config.jobs.leaseMs, epoch }, updatedAt: now }
        : null,
    );
    if (!kept) throw this.lost(id, epoch);
  }

  /** Why a run stops when its lease is gone: fenced (another process holds it now), or the job ended elsewhere. */
  private lost(id: string, epoch: number): MocError {
    const j = this.store.getJob(id);
    if (j?.lease && !this.holds(j, epoch)) {
      this.onFenced?.(id, epoch, `${j.lease.owner} (attempt ${j.lease.epoch ?? j.attempts})`);
      return errors.unavailable(
        `fenced: attempt ${epoch} of job ${id} lost its lease to ${j.lease.owner} (attempt ${j.lease.epoch ?? j.attempts}) while this process stalled; it stops and writes nothing`,
      );
    }
    return errors.unavailable("this process lost the job's lease");
  }

  // ---- the end of a run ----

  private ended(id: string, result: RunResult): void {
    const run = this.runs.get(id);
    this.runs.delete(id);
    const log = run?.log ?? [];
    const now = Date.now();
    this.writing++;
    this.store
      .updateJob(id, (j) => {
        if (!this.holds(j, run?.epoch)) return null; // taken over meanwhile: the new owner decides
        const base = {
          ...j,
          updatedAt: now,
          lease: undefined,
          logTail: this.tail(j.logTail, log),
          ...(run?.progress ? { progress: run.progress } : {}),
        };
        if (result.ok) {
          return {
            ...base,
            state: 'succeeded',
            endedAt: now,
            outputs: result.outputs,
            progress: { fraction: 1, message: 'succeeded' },
          };
        }
        const e = result.error;
        if (this.stopping && !j.cancelRequested) return requeued(base, now);
        if (e.code === 'MOC_ERR_CANCELLED' || j.cancelRequested) {
          return { ...base, state: 'cancelled', endedAt: now, progress: { ...base.progress, message: 'cancelled' } };
        }
        const error = { code: e.code, message: e.message };
        if (
          e.code === 'MOC_ERR_NO_MEMORY' &&
          e.details.reservation === true &&
          Array.isArray(e.details.holders) &&
          !this.stopped
        ) {
          // Memory held by busy or pinned models now: the job waits for it (the attempt does not count).
          return {
            ...base,
            state: 'retrying',
            attempts: Math.max(0, j.attempts - 1),
            queuedAt: j.queuedAt,
            notBefore: now + MEMORY_WAIT_MS,
            progress: { fraction: 0, message: `waiting for memory: ${e.message}` },
          };
        }
        if (RETRYABLE.has(e.code) && j.attempts < j.maxAttempts && !this.stopped) {
          return { ...base, state: 'retrying', queuedAt: now, notBefore: now + backoffMs(j.attempts), error };
        }
        return { ...base, state: 'failed', endedAt: now, error };
      })
      .then(
        (job) => {
          if (job && isTerminal(job.state))
            this.onRunEnded?.(job.type, job.state, Math.max(0, job.endedAt - job.startedAt) / 1000);
          if (job) {
            this.emit(job);
            this.post({ kind: 'submitted', job });
          } // retrying: a candidate again
          else {
            // Nothing written: the job ended elsewhere, or this run was fenced (which lost() reports).
            if (run) this.lost(id, run.epoch);
            this.post({ kind: 'tick' });
          }
        },
        (err) => {
          this.dropped('jobs.end', err, { job: id });
          this.post({ kind: 'tick' });
        },
      )
      .finally(() => this.post({ kind: 'written' }));
  }

  private shutdown(env: Envelope<JobsMessages, 'shutdown'>): void {
    (this.stopping ??= []).push(env);
    for (const run of this.runs.values()) run.ac.abort(errors.unavailable('the server is shutting down'));
    this.settleShutdown();
  }

  /** A job claimed while stopping goes straight back. */
  private requeue(id: string): void {
    this.writing++;
    this.store
      .updateJob(id, (j) => (j.lease?.owner === this.owner ? requeued(j, Date.now()) : null))
      .catch((err) => this.dropped('jobs.requeue', err, { job: id }))
      .finally(() => this.post({ kind: 'written' }));
  }

  /** Answers shutdown once no run, claim or end is still being written. */
  private settleShutdown(): void {
    if (!this.stopping || this.runs.size > 0 || this.claiming.size > 0 || this.writing > 0) return;
    for (const env of this.stopping.splice(0)) env.reply(undefined);
  }

  private emit(j: Job): void {
    for (const w of this.watchers) w(j);
  }

  /** Messages to self; refused only once the actor is destroyed, when nothing is left to do. */
  private post(msg: JobsInbox[keyof JobsInbox]['req']): void {
    // One tick waiting is enough: a burst of submits looks at the queue once, not once per submit.
    if (msg.kind === 'tick') {
      if (this.tickQueued) return;
      this.tickQueued = true;
    }
    if (msg.kind === 'changed') {
      if (this.changeQueued) return;
      this.changeQueued = true;
    }
    try {
      this.self.tell(msg);
    } catch {
      /* stopped */
    }
  }
}

/** Back to the queue after a shutdown stopped its run: the attempt is not counted. */
function requeued(j: Job, now: number): Job {
  return {
    ...j,
    state: 'queued',
    attempts: Math.max(0, j.attempts - 1),
    lease: undefined,
    updatedAt: now,
    notBefore: 0,
    progress: { fraction: 0, message: 'queued again: the server stopped during its run' },
  };
}

/** A job this process may take: queued, retrying past its backoff, or running under a lease that has expired. */
function claimable(j: JobSummary, now: number): boolean {
  if (j.state === 'queued') return true;
  if (j.state === 'retrying') return j.notBefore <= now;
  return j.state === 'running' && j.leaseExpiresAt <= now;
}

/** The spec checked against its type's schema; errors name the field as `spec.<field>`. */
/**
 * A promotion criterion needs an alias to promote to, and compares with one thing: a value or another model. Whether
 * eval_dataset holds what its metric is measured on is checked when the job runs, before training (runners.ts).
 */
function checkPromotion(ft: { promote_to?: string; promote_if?: PromoteIf }): void {
  const c = ft.promote_if;
  if (ft.promote_to === undefined && c !== undefined) {
    throw errors.invalidArgument(
      'spec.promote_if',
      'is a promotion criterion: it needs promote_to (the alias to promote the trained model to) and eval_dataset',
    );
  }
  if (c && (c.value === undefined) === (c.against === undefined)) {
    throw errors.invalidArgument(
      'spec.promote_if',
      `needs exactly one of value (e.g. { metric: 'preference_accuracy', op: '>=', value: 0.8 }) and against ('alias': the model promote_to points to now; 'base': base_model)`,
    );
  }
}

function validateSpec(r: SubmitJobRequest): Job['spec'] {
  try {
    return validate(JOB_SPECS[r.type], r.spec) as Job['spec'];
  } catch (err) {
    const e = toMocError(err);
    const field = typeof e.details.field === 'string' ? e.details.field : 'request';
    throw errors.invalidArgument(field === 'request' ? 'spec' : `spec.${field}`, e.message.replace(/^[^:]*: /, ''));
  }
}

/** What a request decides about a job, by the name a client sends it: compared when a request_id is reused. */
const SUBMITTED: readonly [string, (j: Job) => unknown][] = [
  ['type', (j) => j.type],
  ['spec', (j) => j.spec],
  ['priority', (j) => j.priority],
  ['device', (j) => j.device],
  ['memory_bytes', (j) => j.memoryBytes],
  ['max_attempts', (j) => j.maxAttempts],
];

/** The submit fields in which two jobs differ (a spec's key order does not count). */
export function differingFields(a: Job, b: Job): string[] {
  return SUBMITTED.filter(([, get]) => canonicalJson(get(a)) !== canonicalJson(get(b))).map(([name]) => name);
}
