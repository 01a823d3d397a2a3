/**
 * Assembles the actor tree of one host and owns its lifetime. Its parts are data (src/kernel/assembly.ts), started
 * in this order and stopped in reverse:
 *
 *   store       LMDB: catalog, aliases, event log
 *   inspector   piscina pool: GGUF header validation + sha256 off the actor threads
 *   lifecycle   main thread, LocalActor: catalog, placement, eviction, aliases, RouteTable
 *   devices     Supervisor (one_for_one, intensity from config) of Device ×N (worker thread each, WorkerRef)
 *                 └─ engine child process (node-llama-cpp) per device
 *   feedback    main thread, LocalActor: ratings and preferences (LMDB), the opt-in in-memory inference record
 *   datasets    piscina pool: dataset validation, tokenization, dedupe and split (prepare-dataset jobs)
 *   jobs        main thread, LocalActor: learning jobs in LMDB (priorities, leases, trainer processes)
 *   goals       main thread, LocalActor: goals whose state follows their linked jobs
 *   router      main thread, LocalActor: validation, routing; the operation table's one entry point
 *   grpc, rest, zmq   listeners (layer 'edge': drained first, within the shutdown grace)
 *
 * Zero config: no models configured → the demo GGUF is generated into the models root and preloaded.
 * At start, configured models are registered (upserted) in the catalog; those with preload, and catalog
 * entries registered with preload, are loaded.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../schemas/config.js';
import type { DeviceNotice, RouterProtocol } from '../schemas/messages.js';
import { deviceChildSpec, deviceRef, type DeviceRef } from '../actors/device/index.js';
import { Lifecycle, type LifecycleMessages } from '../actors/lifecycle/lifecycle.js';
import { Router } from '../actors/router/router.js';
import { Jobs, type JobsMessages } from '../actors/jobs/jobs.js';
import { ActorModelsPort } from '../actors/jobs/models-port.js';
import { DatasetPool } from '../actors/jobs/dataset-pool.js';
import { runners } from '../actors/jobs/runners.js';
import { FeedbackActor, type FeedbackProtocol } from '../actors/feedback/feedback.js';
import { Goals, type GoalsMessages } from '../actors/goals/goals.js';
import { ensureDemoModel } from './model/demo-model.js';
import { Quotas } from './auth/quotas.js';
import type { Clock } from './kernel/clock.js';
import { ModelInspector } from './model/inspector.js';
import { Store } from './store/store.js';
import { LocalActor } from './kernel/local-actor.js';
import { Supervisor } from './kernel/supervisor.js';
import { Metrics } from './telemetry/metrics.js';
import { MetricsListener } from './telemetry/metrics-listener.js';
import type { ModelReadiness, Readiness } from '../schemas/rest.js';
import { Assembly, closeOnly } from './kernel/assembly.js';
import type { Closeable } from './kernel/types.js';
import { GrpcTransport } from './transports/grpc/server.js';
import { RestTransport } from './transports/rest/server.js';
import { ZmqTransport } from './transports/zmq/server.js';
import { KeyRing, isLoopback } from './auth/keys.js';
import { createLogger, type Logger } from './log.js';
import { errors, toMocError } from './errors.js';

export const DEMO_MODEL_NAME = 'moc-demo';

export interface CoordinatorOptions {
  log?: Logger;
  /** Restart intensity exceeded at the root. Default: log; the CLI exits non-zero. */
  onEscalate?: (reason: string) => void;
  /** What keep-alive expiries, per-key budgets and remembered JWTs count time on: a test's ManualClock. Default: real. */
  clock?: Clock;
}

/** What a running Coordinator is made of (see start()). */
interface Parts {
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
  grpc: GrpcTransport;
  rest: RestTransport | null;
  zmq: ZmqTransport | null;
  grpcPort: number;
  restPort: number;
  zmqPort: number;
  metricsPort: number;
  metrics: Metrics;
  /** Readiness turns false (health routes, gRPC health, ZMQ health) while everything still serves. */
  drain: () => void;
}

/** A scrape's read of devices and models gives up after this (the gauges of that scrape are left out). */
const METRICS_READ_TIMEOUT_MS = 5000;

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
  readonly store: Store;
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
    const onCrash = (name: string) => (err: Error) =>
      log.log('error', 'actor.crashed', { actor: name, error: err.stack ?? err.message });

    const store = await assembly.add('store', () => Store.open(config.dataDir), { handle: closeOnly });
    // Metrics first after the store: restarts and commits are counted from the start. Scrape-time gauges ask the
    // router, which exists once the listeners do (a scrape can only arrive through one of them).
    let routerRef: LocalActor<RouterProtocol> | null = null;
    /** Readiness, once the listeners' parts exist (a scrape can only arrive after that). */
    let ready: (() => Readiness) | null = null;
    const ask = <T>(msg: Parameters<LocalActor<RouterProtocol>['ask']>[0]) =>
      (routerRef
        ? routerRef.ask(msg, { timeoutMs: METRICS_READ_TIMEOUT_MS })
        : Promise.reject(new Error('not started'))) as Promise<T>;
    const metrics = await assembly.add(
      'metrics',
      () =>
        new Metrics({
          devices: () => ask({ kind: 'devices' }),
          models: async () => models.page('', Infinity).models,
          ...(config.jobs.enabled
            ? { activeJobs: () => store.activeJobs(), goalStates: () => store.listGoals().map((g) => g.state) }
            : {}),
          storeFile: path.join(config.dataDir, 'moc.lmdb'),
          mailboxes: () => [...actors.entries()].map(([actor, a]) => ({ actor, depth: a.depth, refused: a.refused })),
          ready: () => ready?.().status === 'ready',
        }),
    );
    /** Every mailbox the metrics report, added as each actor starts. */
    const actors = new Map<string, { depth: number; refused: number }>(
      [...devices].map(([id, ref]) => [`device:${id}`, ref]),
    );
    store.onCommit = (s) => metrics.commitSeconds.observe(s);
    const inspector = await assembly.add('inspector', () => new ModelInspector());
    const models = new Lifecycle(config, devices, store, inspector, opts.clock);
    models.observer = metrics.lifecycleObserver();
    // Its internal queue holds its tasks' results (at most one per request admitted by the router, which bounds
    // those) and the devices' notices: sized so that a full mailbox never refuses the message finishing a request.
    const lifecycle = await assembly.add(
      'lifecycle',
      () =>
        new LocalActor<LifecycleMessages>('lifecycle', models, {
          capacity: 1024,
          internalCapacity: config.server.mailboxCapacity + 1024,
          onCrash: onCrash('lifecycle'),
        }),
    );
    actors.set('lifecycle', lifecycle);
    for (const ref of devices.values()) {
      ref.onNotify = (msg) => {
        const notice = msg as DeviceNotice;
        if (notice?.kind === 'engine-exited') {
          // Counted here, not in the device thread: the count survives that thread's restart.
          metrics.engineRestarts.inc({ device: notice.device, reason: restartReason(notice.reason) });
          return;
        }
        if (notice?.kind !== 'models-changed') throw new Error(`lifecycle: unknown notice ${JSON.stringify(msg)}`);
        try {
          lifecycle.inbox.tell(notice);
        } catch (err) {
          log.log('error', 'lifecycle.notice_lost', { device: notice.device, error: toMocError(err).message });
        }
      };
    }
    await assembly.add('devices', async () => {
      const supervisor = new Supervisor(
        'root',
        config.devices.map((d) =>
          deviceChildSpec(config, d, devices.get(d.id)!, {
            models: () => models.desiredModels(d.id),
            reservations: () => models.desiredReservations(d.id),
          }),
        ),
        {
          maxRestarts: config.supervisor.maxRestarts,
          periodMs: config.supervisor.periodMs,
          onRestart: (id, reason, incarnation, error) => {
            // The reason's first words (`crashed`, `exited with code 1`): the rest of it is for the log, not a label.
            metrics.restarts.inc({ actor: id, reason: restartReason(reason) });
            log.log('warn', 'device.restarted', {
              child: id,
              reason,
              incarnation,
              ...(error?.stack ? { stack: error.stack } : {}),
            });
          },
          onEscalate: (reason) => {
            log.log('error', 'server.escalated', { reason });
            opts.onEscalate?.(reason);
          },
        },
      );
      await supervisor.start(); // a device that fails to start stops the others itself
      return supervisor;
    });
    const feedbackView = new FeedbackActor(config, store);
    const feedback = await assembly.add(
      'feedback',
      () =>
        new LocalActor<FeedbackProtocol>('feedback', feedbackView, {
          capacity: 4096,
          onCrash: onCrash('feedback'),
        }),
    );
    // Learning jobs: after the devices (their runs evaluate on them), before the router (which forwards to them).
    // Closing it puts the jobs it is running back in the queue before the devices and the store stop.
    let jobsView: Jobs | null = null;
    let jobs: LocalActor<JobsMessages> | null = null;
    if (config.jobs.enabled) {
      const datasets = await assembly.add('datasets', () => new DatasetPool());
      jobsView = new Jobs(
        config,
        store,
        new ActorModelsPort(config, lifecycle, models, devices),
        runners({ datasets, feedback: () => store.listFeedback() }),
      );
      jobsView.onRunEnded = (type, state, seconds) => metrics.jobRunSeconds.observe({ type, state }, seconds);
      const behavior = jobsView;
      jobs = await assembly.add(
        'jobs',
        () =>
          new LocalActor<JobsMessages>('jobs', behavior, {
            capacity: 1024,
            internalCapacity: 4096,
            onCrash: onCrash('jobs'),
          }),
        { handle: shutdownFirst(config) },
      );
    }
    // Goals follow the jobs (a subscription to the Jobs actor's published changes); after it, before the router.
    const goalsView = new Goals(store, jobsView);
    const goals = await assembly.add(
      'goals',
      () =>
        new LocalActor<GoalsMessages>('goals', goalsView, {
          // Every job change (progress included) reaches it as a message to itself: a large internal queue.
          capacity: 1024,
          internalCapacity: 16_384,
          onCrash: onCrash('goals'),
        }),
      { handle: shutdownFirst(config) },
    );
    const router = await assembly.add(
      'router',
      () =>
        new LocalActor<RouterProtocol>(
          'router',
          new Router(config, models, models.routes, devices, { lifecycle, feedback, jobs, goals }),
          { capacity: config.server.mailboxCapacity, onCrash: onCrash('router') },
        ),
    );

    routerRef = router;
    actors.set('router', router).set('feedback', feedback).set('goals', goals);
    if (jobs) actors.set('jobs', jobs);
    await preload(config, models, router, log);

    // The listeners last: nothing is accepted before everything behind them runs.
    let draining = false;
    // One set of per-key budgets for the three transports (a key draws on the same buckets whichever it uses); none
    // at all when nothing is configured, so requests pay nothing for it.
    const budgets = new Quotas(config.auth.quotas, opts.clock && (() => opts.clock!.now()));
    const quotas = budgets.enabled ? { quotas: budgets } : {};
    ready = () => readiness(config, devices, models, () => draining);
    const modelReady = (name: string) => modelReadiness(devices, models, name);
    const grpc = await assembly.add(
      'grpc',
      () => new GrpcTransport(router, config, models, keys, { jobs: jobsView, ready, metrics, log, ...quotas }),
      { layer: 'edge' },
    );
    const grpcPort = await grpc.listen();
    let restPort = 0;
    let rest: RestTransport | null = null;
    if (config.rest.enabled) {
      rest = await assembly.add(
        'rest',
        () => new RestTransport(router, config, keys, { ready, modelReady, jobs: jobsView, metrics, ...quotas }, log),
        { layer: 'edge' },
      );
      restPort = await rest.listen();
    }
    let zmqPort = 0;
    let libzmq = '';
    let zmqT: ZmqTransport | null = null;
    if (config.zmq.enabled) {
      zmqT = await assembly.add(
        'zmq',
        () => new ZmqTransport(router, config, keys, { health: ready, metrics, ...quotas }, log),
        { layer: 'edge' },
      );
      zmqPort = await zmqT.listen();
      libzmq = zmqT.libzmqVersion;
    }
    let metricsPort = 0;
    if (config.metrics.port !== undefined) {
      const listener = await assembly.add('metrics-listener', () => new MetricsListener(metrics), { layer: 'edge' });
      metricsPort = await listener.listen(config.server.host, config.metrics.port);
    }
    log.log('info', 'server.listening', {
      grpc: `${config.server.host}:${grpcPort}`,
      ...(restPort ? { rest: `http://${config.server.host}:${restPort}` } : {}),
      ...(metricsPort ? { metrics: `http://${config.server.host}:${metricsPort}/metrics` } : {}),
      ...(zmqPort ? { zmq: `tcp://${config.server.host}:${zmqPort}`, libzmq, curve: config.zmq.curve.enabled } : {}),
      devices: config.devices.map((d) => d.id),
      config: config.source ?? 'zero-config',
      auth: keys.open
        ? 'OPEN: no API keys configured, every caller is admin (allowed on loopback only)'
        : `${keys.size} API key(s)${keys.acceptsJwt ? ' and JWT bearer tokens' : ''} required`,
    });
    return new Coordinator({
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
      grpc,
      rest,
      zmq: zmqT,
      grpcPort,
      restPort,
      zmqPort,
      metricsPort,
      metrics,
      drain: () => {
        draining = true;
        grpc.refreshHealth();
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

/**
 * For actors whose close must first stop their own work (jobs put runs back in the queue, goals finish their writes):
 * a graceful close asks `shutdown` (within the grace) before the mailbox closes; destroy is immediate.
 */
function shutdownFirst(config: Config) {
  return (actor: LocalActor<any>): Closeable => ({
    close: async () => {
      await actor.ask({ kind: 'shutdown' }, { timeoutMs: config.shutdown.graceMs + 5000 }).catch(() => {});
      await actor.close();
    },
    destroy: () => actor.destroy(),
  });
}

/** A restart reason's first words as a metric label (`crashed`, `exited with code 1`, `killed by SIGKILL`): bounded. */
function restartReason(reason: string): string {
  return reason.split(/[:(;]/)[0]!.trim().slice(0, 40);
}

/**
 * /health/ready (and gRPC health, ZMQ `health`): every device up, at least one model loaded, not shutting down
 * (Kubernetes-style readiness). The listeners are up when they answer it; the store is open until after they close.
 */
function readiness(
  config: Config,
  devices: Map<string, DeviceRef>,
  lifecycle: Lifecycle,
  draining: () => boolean,
): Readiness {
  const devs = config.devices.map((d) => ({ id: d.id, available: devices.get(d.id)!.started }));
  const loaded = lifecycle.routes.loadedCount();
  const reasons: string[] = [];
  if (draining()) reasons.push('the server is shutting down: send requests to another replica');
  for (const d of devs) if (!d.available) reasons.push(`device ${d.id} is restarting`);
  if (loaded === 0) reasons.push('no model is loaded: load one (POST /v1/models/{name}/load) or wait for the preload');
  return { status: reasons.length === 0 ? 'ready' : 'not-ready', devices: devs, models_loaded: loaded, reasons };
}

/** `GET /v1/models/{name}/ready`: loaded on a device that answers. Unknown names: MOC_ERR_MODEL_NOT_FOUND. */
function modelReadiness(devices: Map<string, DeviceRef>, lifecycle: Lifecycle, name: string): ModelReadiness {
  const model = lifecycle.routes.resolve(name);
  if (!lifecycle.isRegistered(model)) throw errors.modelNotFound(name, []);
  const m = lifecycle.routes.lookup(model);
  const state = m?.state ?? 'registered';
  const device = m?.device ?? '';
  const up = device !== '' && devices.get(device)?.started === true;
  const ready = state === 'loaded' && up;
  const reason = ready
    ? ''
    : state === 'loaded'
      ? `device ${device} is restarting`
      : state === 'registered'
        ? 'not loaded: load it (POST /v1/models/{name}/load); a request loads it on demand'
        : `it is ${state}`;
  return { model, ready, state, device, reason };
}

/**
 * Register the configured models (or the generated demo model when none is configured), then load every catalog
 * entry marked preload. A model that fails is logged and the server starts anyway: it shows as failed or
 * registered, and loads once the cause is fixed.
 */
async function preload(
  config: Config,
  lifecycle: Lifecycle,
  router: LocalActor<RouterProtocol>,
  log: Logger,
): Promise<void> {
  let models = config.models;
  if (models.length === 0) {
    const file = await ensureDemoModel(config.modelsRoot);
    log.log('info', 'model.demo_ready', { path: file });
    models = [
      {
        name: DEMO_MODEL_NAME,
        path: path.relative(config.modelsRoot, file),
        contextSize: 512,
        sequences: 8,
        preload: true,
        pinned: false,
        keepAliveMs: -1,
      },
    ];
  }
  for (const m of models) {
    try {
      await router.ask(
        {
          kind: 'register',
          request: {
            name: m.name,
            path: m.path,
            context_size: m.contextSize,
            sequences: m.sequences,
            pinned: m.pinned,
            keep_alive_ms: m.keepAliveMs,
            preload: m.preload,
            ...(m.device ? { device: m.device } : {}),
          },
        },
        { timeoutMs: config.limits.loadTimeoutMs },
      );
    } catch (err) {
      log.log('error', 'model.preload_failed', { model: m.name, error: toMocError(err).message });
    }
  }
  await Promise.all(
    lifecycle
      .catalogEntries()
      .filter((e) => e.preload)
      .map(async (e) => {
        try {
          const info = await router.ask(
            { kind: 'load', request: { name: e.name } },
            { timeoutMs: config.limits.loadTimeoutMs },
          );
          log.log('info', 'model.preloaded', { model: info.name, device: info.device, bytes: info.reservedBytes });
        } catch (err) {
          log.log('error', 'model.preload_failed', { model: e.name, error: toMocError(err).message });
        }
      }),
  );
}
