/**
 * Assembles the actor tree of one host and owns its lifetime. Its parts are data (src/kernel/assembly.ts), started
 * in this order and stopped in reverse:
 *
 *   store       LMDB: catalog, aliases, event log (and jobs, goals, feedback unless store.kind is postgres)
 *   work-store  store.kind postgres: jobs, goals, feedback and their event log in PostgreSQL (src/store/postgres/)
 *   inspector   piscina pool: GGUF header validation + sha256 off the actor threads
 *   lifecycle   main thread, LocalActor: catalog, placement, eviction, aliases, RouteTable
 *   devices     Supervisor (one_for_one, intensity from config) of Device ×N (worker thread each, WorkerRef)
 *                 └─ engine child process (node-llama-cpp) per device
 *   feedback    main thread, LocalActor: ratings and preferences (LMDB), the opt-in in-memory inference record
 *   datasets    piscina pool: dataset validation, tokenization, dedupe and split (prepare-dataset jobs)
 *   jobs        main thread, LocalActor: learning jobs in LMDB (priorities, leases, trainer processes)
 *   goals       main thread, LocalActor: goals whose state follows their linked jobs
 *   router      main thread, LocalActor: validation, routing; the operation table's one entry point
 *   fleet       the fleet registry: heartbeats into PostgreSQL (store.kind postgres), or this host alone
 *   grpc, rest, zmq   listeners (layer 'edge': drained first, within the shutdown grace)
 *
 * Zero config: no models configured → the demo GGUF is generated into the models root and preloaded.
 * At start, configured models are registered (upserted) in the catalog; those with preload, and catalog
 * entries registered with preload, are loaded.
 *
 * The pieces, one concept a file, in src/coordinator/: main-actors (the main-thread actors and their crashes),
 * devices (the device supervisor and notices), scrape-sources (what the metrics read), preload, listeners,
 * readiness. A main-thread actor's crashes count against the restart intensity like a device worker's: past it,
 * the process escalates (src/kernel/main-thread-crashes.ts).
 */
import { mkdir } from 'node:fs/promises';
import type { Config } from '../schemas/config.js';
import type { RouterProtocol } from '../schemas/messages.js';
import { deviceRef, type DeviceRef } from '../actors/device/index.js';
import { Lifecycle, type LifecycleMessages } from '../actors/lifecycle/lifecycle.js';
import { Router } from '../actors/router/router.js';
import { Jobs, type JobsMessages } from '../actors/jobs/jobs.js';
import { ActorModelsPort } from '../actors/jobs/models-port.js';
import { DatasetPool } from '../actors/jobs/dataset-pool.js';
import { runners } from '../actors/jobs/runners.js';
import { FeedbackActor, type FeedbackProtocol } from '../actors/feedback/feedback.js';
import { Goals, type GoalsMessages, type PlanPort } from '../actors/goals/goals.js';
import { Quotas } from './auth/quotas.js';
import type { Clock } from './kernel/clock.js';
import { ModelInspector } from './model/inspector.js';
import { Store } from './store/store.js';
import type { WorkStore } from './store/work-store.js';
import { PgWorkStore, redactUrl } from './store/postgres/pg-work-store.js';
import type { LocalActor } from './kernel/local-actor.js';
import { Metrics } from './telemetry/metrics.js';
import { dropReporter } from './telemetry/dropped.js';
import { Assembly, closeOnly } from './kernel/assembly.js';
import type { GrpcTransport } from './transports/grpc/server.js';
import type { RestTransport } from './transports/rest/server.js';
import type { ZmqTransport } from './transports/zmq/server.js';
import { KeyRing, isLoopback } from './auth/keys.js';
import { createLogger, type Logger } from './log.js';
import { routeDeviceNotices, superviseDevices } from './coordinator/devices.js';
import { type Listeners, startListeners } from './coordinator/listeners.js';
import { MainActors } from './coordinator/main-actors.js';
import { preload } from './coordinator/preload.js';
import { modelReadiness, readiness } from './coordinator/readiness.js';
import { ScrapeSources } from './coordinator/scrape-sources.js';
import { LateFleet, startFleet } from './coordinator/fleet.js';
import { followSharedOutputs } from './coordinator/shared-outputs.js';

export { DEMO_MODEL_NAME } from './coordinator/preload.js';

/** How long a goal's plan waits for the Jobs actor to take a step's submit or cancel (then it retries in a second). */
const PLAN_ASK_MS = 10_000;
/** In a fleet, how often the Goals actor reads the goals again (to follow those other hosts created). */
const GOALS_SWEEP_MS = 2000;

export interface CoordinatorOptions {
  log?: Logger;
  /** Restart intensity exceeded at the root. Default: log; the CLI exits non-zero. */
  onEscalate?: (reason: string) => void;
  /** What keep-alive expiries, per-key budgets and remembered JWTs count time on: a test's ManualClock. Default: real. */
  clock?: Clock;
}

/** What a running Coordinator is made of (see start()). */
interface Parts extends Listeners {
  config: Config;
  log: Logger;
  assembly: Assembly;
  router: LocalActor<RouterProtocol>;
  lifecycle: LocalActor<LifecycleMessages>;
  models: Lifecycle;
  jobs: LocalActor<JobsMessages> | null;
  jobsView: Jobs | null;
  devices: Map<string, DeviceRef>;
  store: Store;
  work: WorkStore;
  metrics: Metrics;
  /** Readiness turns false (health routes, gRPC health, ZMQ health) while everything still serves. */
  drain: () => void;
}

export class Coordinator {
  private closing: Promise<void> | null = null;
  readonly config: Config;
  readonly router: LocalActor<RouterProtocol>;
  readonly lifecycle: LocalActor<LifecycleMessages>;
  /** The Lifecycle behavior's read-only views (catalog, route table). */
  readonly models: Lifecycle;
  /** The Jobs actor and its read-only views (watch, running); null when jobs.enabled is false. */
  readonly jobs: LocalActor<JobsMessages> | null;
  readonly jobsView: Jobs | null;
  readonly devices: Map<string, DeviceRef>;
  /** The host's LMDB store: model catalog and aliases (and, by default, the work). */
  readonly store: Store;
  /** Jobs, goals, feedback and their event log: `store`, or PostgreSQL with store.kind postgres. */
  readonly work: WorkStore;
  /** Every metric this server exports (GET /metrics). */
  readonly metrics: Metrics;
  private readonly drain: () => void;
  readonly grpcPort: number;
  /** 0 when REST is disabled. */
  readonly restPort: number;
  /** 0 when ZMQ is disabled. */
  readonly zmqPort: number;
  /** The dedicated metrics port (metrics.port); 0 when not configured. */
  readonly metricsPort: number;
  /** The listeners, for their read-only counters (gRPC watch buffers, ZMQ stats and ZAP counts); null when disabled. */
  readonly grpc: GrpcTransport;
  readonly rest: RestTransport | null;
  readonly zmq: ZmqTransport | null;
  private readonly log: Logger;
  private readonly assembly: Assembly;

  private constructor(p: Parts) {
    ({
      config: this.config,
      router: this.router,
      lifecycle: this.lifecycle,
      models: this.models,
      jobs: this.jobs,
      jobsView: this.jobsView,
      devices: this.devices,
      store: this.store,
      work: this.work,
      grpcPort: this.grpcPort,
      restPort: this.restPort,
      zmqPort: this.zmqPort,
      metricsPort: this.metricsPort,
      grpc: this.grpc,
      rest: this.rest,
      zmq: this.zmq,
      log: this.log,
      assembly: this.assembly,
      metrics: this.metrics,
      drain: this.drain,
    } = p);
  }

  static async start(config: Config, opts: CoordinatorOptions = {}): Promise<Coordinator> {
    const log = opts.log ?? createLogger();
    // Keys first: a bad key file or an open server on a public address must stop the start before anything runs.
    const keys = KeyRing.fromConfig(config, process.env, opts.clock && (() => opts.clock!.now()));
    if (keys.open && !isLoopback(config.server.host)) {
      throw new Error(
        `refusing to serve on ${config.server.host} without API keys: configure auth.keys, auth.keysFile or MOC_API_KEYS, ` +
          'or bind a loopback host (127.0.0.1) for the open demo mode',
      );
    }
    await mkdir(config.dataDir, { recursive: true });
    await mkdir(config.modelsRoot, { recursive: true });
    const assembly = new Assembly();
    try {
      return await Coordinator.assemble(config, opts, log, keys, assembly);
    } catch (err) {
      await assembly.destroy(); // what had started, last first
      throw err;
    }
  }

  /** The parts in start order; each is stopped before the ones it needs (reverse order). */
  private static async assemble(
    config: Config,
    opts: CoordinatorOptions,
    log: Logger,
    keys: KeyRing,
    assembly: Assembly,
  ): Promise<Coordinator> {
    const devices = new Map(config.devices.map((d) => [d.id, deviceRef(d)] as const));
    // Past the restart intensity, of the devices or of the main-thread actors: the CLI exits non-zero.
    const escalate = (reason: string) => {
      log.log('error', 'server.escalated', { reason });
      opts.onEscalate?.(reason);
    };
    const store = await assembly.add('store', () => Store.open(config.dataDir), { handle: closeOnly });
    // Jobs, goals and feedback: in the host's LMDB store, or shared by a fleet in PostgreSQL.
    const sc = config.store;
    const work: WorkStore =
      sc.kind === 'postgres'
        ? await assembly.add(
            'work-store',
            () =>
              PgWorkStore.open({
                url: sc.url,
                poolSize: sc.poolSize,
                pollMs: sc.pollMs,
                onFollowerError: (err) =>
                  err
                    ? log.log('warn', 'store.follow_failed', { url: redactUrl(sc.url), error: err.message })
                    : log.log('info', 'store.follow_recovered', { url: redactUrl(sc.url) }),
              }),
            { handle: closeOnly },
          )
        : store;
    // Metrics first after the store: restarts and commits are counted from the start. What its scrape-time gauges
    // read is filled in as the parts start (a scrape can only arrive once a listener is up).
    const scrape = new ScrapeSources(config, work, devices);
    const metrics = await assembly.add('metrics', () => new Metrics(scrape.sources()));
    store.onCommit = (s) => metrics.commitSeconds.observe(s);
    const dropped = dropReporter(log, metrics.droppedErrors);
    const actors = new MainActors(config, assembly, scrape.mailboxes, metrics, log, escalate, dropped);

    const inspector = await assembly.add('inspector', () => new ModelInspector());
    const models = (scrape.models = new Lifecycle(config, devices, store, inspector, opts.clock));
    models.observer = { ...metrics.lifecycleObserver(), dropped };
    // Its internal queue holds its tasks' results (at most one per request admitted by the router, which bounds
    // those) and the devices' notices: sized so that a full mailbox never refuses the message finishing a request.
    const lifecycle = await actors.add<LifecycleMessages>('lifecycle', models, {
      capacity: 1024,
      internalCapacity: config.server.mailboxCapacity + 1024,
    });
    routeDeviceNotices(devices, lifecycle.inbox, metrics, log);
    // A device that fails to start stops the others itself.
    await assembly.add('devices', () => superviseDevices(config, devices, models, metrics, log, escalate));
    const feedback = await actors.add<FeedbackProtocol>('feedback', new FeedbackActor(config, work), {
      capacity: 4096,
    });
    // Learning jobs: after the devices (their runs evaluate on them), before the router (which forwards to them).
    // Closing it puts the jobs it is running back in the queue before the devices and the store stop.
    let jobsView: Jobs | null = null;
    let jobs: LocalActor<JobsMessages> | null = null;
    if (config.jobs.enabled) {
      const datasets = await assembly.add('datasets', () => new DatasetPool());
      const port = new ActorModelsPort(config, lifecycle, models, devices);
      jobsView = new Jobs(config, work, port, runners({ datasets, feedback: () => work.listFeedback() }), dropped);
      jobsView.onRunEnded = (type, state, seconds) => metrics.jobRunSeconds.observe({ type, state }, seconds);
      // In a fleet, outputs of other hosts' fine-tunes found on this models root are registered here too.
      if (config.store.kind === 'postgres') followSharedOutputs(config, jobsView, port, log);
      jobsView.onFenced = (job, epoch, holder) =>
        log.log('warn', 'job.fenced', {
          job,
          epoch,
          holder,
          message: 'lost the lease while stalled: this run stops its trainer and writes nothing',
        });
      jobs = await actors.addShutdownFirst<JobsMessages>('jobs', jobsView, { capacity: 1024, internalCapacity: 4096 });
    }
    // Goals follow the jobs (a subscription to the Jobs actor's published changes); after it, before the router.
    // Every job change (progress included) reaches it as a message to itself: a large internal queue.
    // A goal's plan submits its steps through the Jobs actor, as a client would (validated, keyed, queued).
    const jobsActor = jobs;
    const planPort: PlanPort | null = jobsActor && {
      submit: (request, owner) => jobsActor.ask({ kind: 'submit', request, owner }, { timeoutMs: PLAN_ASK_MS }),
      cancel: (id) => jobsActor.ask({ kind: 'cancel', id }, { timeoutMs: PLAN_ASK_MS }),
    };
    const goals = await actors.addShutdownFirst<GoalsMessages>(
      'goals',
      new Goals(work, jobsView, planPort, config.store.kind === 'postgres' ? GOALS_SWEEP_MS : 0),
      {
        capacity: 1024,
        internalCapacity: 16_384,
      },
    );
    const fleet = new LateFleet();
    const routes = new Router(config, models, models.routes, devices, { lifecycle, feedback, jobs, goals, fleet });
    const router = await actors.add<RouterProtocol>('router', routes, { capacity: config.server.mailboxCapacity });
    // The fleet registry publishes what the router sees of the devices: started once the router runs.
    fleet.source = await assembly.add('fleet', () => startFleet(config, { router, store, work, log }), {
      handle: closeOnly,
    });
    scrape.router = router;
    scrape.waitingForLoad = () => routes.waitingForLoadByModel();
    await preload(config, models, router, log);

    // The listeners last: nothing is accepted before everything behind them runs.
    let draining = false;
    const storeHealth = () => (work instanceof PgWorkStore ? work.health() : { reachable: true, reason: '' });
    const ready = (scrape.ready = () => readiness(config, devices, models, () => draining, storeHealth));
    const listeners = await startListeners(assembly, config, {
      router,
      models,
      keys,
      jobs: jobsView,
      metrics,
      log,
      ready,
      modelReady: (name) => modelReadiness(devices, models, name),
      quotas: new Quotas(config.auth.quotas, opts.clock && (() => opts.clock!.now())),
    });
    return new Coordinator({
      ...listeners,
      config,
      log,
      assembly,
      router,
      lifecycle,
      models,
      jobs,
      jobsView,
      devices,
      store,
      work,
      metrics,
      drain: () => {
        draining = true;
        listeners.grpc.refreshHealth();
      },
    });
  }

  /**
   * Graceful: the listeners stop accepting and get graceMs to finish what is in flight (past it, what is left ends
   * with a retryable UNAVAILABLE); then the parts behind them stop, last started first (models unload, engines stop).
   */
  close(graceMs = this.config.shutdown.graceMs): Promise<void> {
    this.closing ??= (async () => {
      const drainMs = this.config.shutdown.drainMs;
      this.log.log('info', 'server.stopping', { graceMs, drainMs });
      // Not ready first, still serving: a balancer sees it and stops sending before a listener refuses anything.
      this.drain();
      if (drainMs > 0) await new Promise((r) => setTimeout(r, drainMs));
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<'expired'>((r) => {
        timer = setTimeout(() => r('expired'), graceMs);
      });
      const outcome = await Promise.race([this.assembly.close('edge').then(() => 'drained' as const), expired]);
      clearTimeout(timer);
      if (outcome === 'expired') await this.assembly.destroy('edge');
      await this.assembly.close('core');
      this.log.log('info', 'server.stopped', { drained: outcome === 'drained' });
    })();
    return this.closing;
  }

  /** Now: every part, last started first. */
  destroy(): Promise<void> {
    return this.assembly.destroy();
  }
}
