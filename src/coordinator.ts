/**
 * Assembles the actor tree of one host and owns its lifetime.
 *
 *   Supervisor (one_for_one, intensity from config)
 *   ├─ Router     (main thread, LocalActor)  ◀── gRPC listener
 *   ├─ Lifecycle  (main thread, LocalActor)  catalog (LMDB), placement, eviction, aliases, RouteTable
 *   │    └─ ModelInspector (piscina pool)    GGUF header validation + sha256 off the actor threads
 *   └─ Device ×N  (worker thread each, WorkerRef) ──▶ engine child process (node-llama-cpp)
 *
 * Zero config: no models configured → the demo GGUF is generated into the models root and preloaded.
 * At start, configured models are registered (upserted) in the catalog; those with preload, and catalog
 * entries registered with preload, are loaded.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../schemas/config.js';
import type { LifecycleProtocol, RouterProtocol } from '../schemas/messages.js';
import { deviceChildSpec, deviceRef, type DeviceRef } from '../actors/device/index.js';
import { Lifecycle } from '../actors/lifecycle/lifecycle.js';
import { Router } from '../actors/router/router.js';
import { ensureDemoModel } from './model/demo-model.js';
import { ModelInspector } from './model/inspector.js';
import { Store } from './store/store.js';
import { LocalActor } from './kernel/local-actor.js';
import { Supervisor } from './kernel/supervisor.js';
import { GrpcTransport } from './transports/grpc/server.js';
import { RestTransport } from './transports/rest/server.js';
import { ZmqTransport } from './transports/zmq/server.js';
import { KeyRing, isLoopback } from './auth/keys.js';
import { createLogger, type Logger } from './log.js';
import { toMocError } from './errors.js';

export const DEMO_MODEL_NAME = 'moc-demo';

export interface CoordinatorOptions {
  log?: Logger;
  /** Restart intensity exceeded at the root. Default: log; the CLI exits non-zero. */
  onEscalate?: (reason: string) => void;
}

export class Coordinator {
  private closing: Promise<void> | null = null;

  private constructor(
    readonly config: Config,
    readonly router: LocalActor<RouterProtocol>,
    readonly lifecycle: LocalActor<LifecycleProtocol>,
    readonly devices: Map<string, DeviceRef>,
    private readonly supervisor: Supervisor,
    private readonly grpc: GrpcTransport,
    readonly grpcPort: number,
    private readonly rest: RestTransport | null,
    /** 0 when REST is disabled. */
    readonly restPort: number,
    private readonly zmq: ZmqTransport | null,
    /** 0 when ZMQ is disabled. */
    readonly zmqPort: number,
    private readonly log: Logger,
    readonly store: Store,
    private readonly inspector: ModelInspector,
    readonly models: Lifecycle,
  ) {}

  static async start(config: Config, opts: CoordinatorOptions = {}): Promise<Coordinator> {
    const log = opts.log ?? createLogger();
    // Keys first: a bad key file or an open server on a public address must stop the start before anything runs.
    const keys = KeyRing.fromConfig(config);
    if (keys.open && !isLoopback(config.server.host)) {
      throw new Error(`refusing to serve on ${config.server.host} without API keys: configure auth.keys, auth.keysFile or MOC_API_KEYS, ` +
        'or bind a loopback host (127.0.0.1) for the open demo mode');
    }
    await mkdir(config.dataDir, { recursive: true });
    await mkdir(config.modelsRoot, { recursive: true });

    const devices = new Map(config.devices.map((d) => [d.id, deviceRef(d)] as const));
    const store = Store.open(config.dataDir);
    const inspector = new ModelInspector();
    const lifecycle = new Lifecycle(config, devices, store, inspector);
    const onCrash = (name: string) => (err: Error) => log.log('error', 'actor.crashed', { actor: name, error: err.stack ?? err.message });
    const lifecycleActor = new LocalActor<LifecycleProtocol>('lifecycle', lifecycle, { capacity: 1024, onCrash: onCrash('lifecycle') });
    for (const ref of devices.values()) ref.onNotify = (msg) => lifecycle.onDeviceNotice(msg);

    const supervisor = new Supervisor('root', config.devices.map((d) => deviceChildSpec(config, d, devices.get(d.id)!, () => lifecycle.desiredModels(d.id))), {
      maxRestarts: config.supervisor.maxRestarts,
      periodMs: config.supervisor.periodMs,
      onRestart: (id, reason, incarnation, error) =>
        log.log('warn', 'device.restarted', { child: id, reason, incarnation, ...(error?.stack ? { stack: error.stack } : {}) }),
      onEscalate: (reason) => {
        log.log('error', 'server.escalated', { reason });
        opts.onEscalate?.(reason);
      },
    });
    try {
      await supervisor.start();
    } catch (err) {
      await inspector.destroy();
      await store.close();
      throw err;
    }

    const router = new LocalActor<RouterProtocol>('router', new Router(config, lifecycle, lifecycle.routes, devices, lifecycleActor), {
      capacity: config.server.mailboxCapacity, onCrash: onCrash('router'),
    });

    let grpc: GrpcTransport | undefined;
    let rest: RestTransport | null = null;
    let grpcPort: number;
    let restPort = 0;
    let zmqT: ZmqTransport | null = null;
    let zmqPort = 0;
    try {
      await preload(config, lifecycle, router, log);
      grpc = new GrpcTransport(router, config, lifecycle, keys);
      grpcPort = await grpc.listen();
      if (config.rest.enabled) {
        rest = new RestTransport(router, config, keys, { ready: () => readiness(config, devices, lifecycle) }, log);
        restPort = await rest.listen();
      }
      if (config.zmq.enabled) {
        zmqT = new ZmqTransport(router, config, keys, { health: () => readiness(config, devices, lifecycle) }, log);
        zmqPort = await zmqT.listen();
      }
    } catch (err) {
      await zmqT?.destroy();
      await rest?.destroy();
      await grpc?.destroy();
      await supervisor.destroy();
      await inspector.destroy();
      await store.close();
      throw err;
    }
    log.log('info', 'server.listening', {
      grpc: `${config.server.host}:${grpcPort}`, ...(rest ? { rest: `http://${config.server.host}:${restPort}` } : {}),
      ...(zmqT ? { zmq: `tcp://${config.server.host}:${zmqPort}`, libzmq: zmqT.libzmqVersion, curve: config.zmq.curve.enabled } : {}),
      devices: config.devices.map((d) => d.id), config: config.source ?? 'zero-config',
      auth: keys.open ? 'OPEN: no API keys configured, every caller is admin (allowed on loopback only)' : `${keys.size} API key(s) required`,
    });
    return new Coordinator(config, router, lifecycleActor, devices, supervisor, grpc, grpcPort, rest, restPort, zmqT, zmqPort, log, store, inspector, lifecycle);
  }

  /** Graceful: stop accepting, give in-flight requests graceMs, then unload models and stop the engines. */
  close(graceMs = this.config.shutdown.graceMs): Promise<void> {
    this.closing ??= (async () => {
      this.log.log('info', 'server.stopping', { graceMs });
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<'expired'>((r) => { timer = setTimeout(() => r('expired'), graceMs); });
      const drained = Promise.all([this.grpc.close(), this.rest?.close(), this.zmq?.close()]).then(() => 'drained' as const);
      const outcome = await Promise.race([drained, expired]);
      clearTimeout(timer);
      if (outcome === 'expired') await Promise.all([this.grpc.destroy(), this.rest?.destroy(), this.zmq?.destroy()]);
      await this.router.close();
      await this.lifecycle.close();
      await this.supervisor.close();
      await this.inspector.close();
      await this.store.close();
      this.log.log('info', 'server.stopped', { drained: outcome === 'drained' });
    })();
    return this.closing;
  }

  async destroy(): Promise<void> {
    await this.zmq?.destroy();
    await this.rest?.destroy();
    await this.grpc.destroy();
    await this.router.destroy();
    await this.lifecycle.destroy();
    await this.supervisor.destroy();
    await this.inspector.destroy();
    await this.store.close();
  }
}

/** /health/ready: every device up and at least one model loaded (Kubernetes-style readiness). */
function readiness(config: Config, devices: Map<string, DeviceRef>, lifecycle: Lifecycle) {
  const devs = config.devices.map((d) => ({ id: d.id, available: devices.get(d.id)!.attached }));
  const loaded = lifecycle.routes.loadedCount();
  return { status: devs.every((d) => d.available) && loaded > 0 ? 'ready' as const : 'not-ready' as const, devices: devs, models_loaded: loaded };
}

/**
 * Register the configured models (or the generated demo model when none is configured), then load every catalog
 * entry marked preload. A model that fails is logged and the server starts anyway: it shows as failed or
 * registered, and loads once the cause is fixed.
 */
async function preload(config: Config, lifecycle: Lifecycle, router: LocalActor<RouterProtocol>, log: Logger): Promise<void> {
  let models = config.models;
  if (models.length === 0) {
    const file = await ensureDemoModel(config.modelsRoot);
    log.log('info', 'model.demo_ready', { path: file });
    models = [{ name: DEMO_MODEL_NAME, path: path.relative(config.modelsRoot, file), contextSize: 512, sequences: 8, preload: true, pinned: false, keepAliveMs: -1 }];
  }
  for (const m of models) {
    try {
      await router.ask({ kind: 'register', request: {
        name: m.name, path: m.path, context_size: m.contextSize, sequences: m.sequences, pinned: m.pinned,
        keep_alive_ms: m.keepAliveMs, preload: m.preload, ...(m.device ? { device: m.device } : {}),
      } }, { timeoutMs: config.limits.loadTimeoutMs });
    } catch (err) {
      log.log('error', 'model.preload_failed', { model: m.name, error: toMocError(err).message });
    }
  }
  await Promise.all(lifecycle.catalogEntries().filter((e) => e.preload).map(async (e) => {
    try {
      const info = await router.ask({ kind: 'load', request: { name: e.name } }, { timeoutMs: config.limits.loadTimeoutMs });
      log.log('info', 'model.preloaded', { model: info.name, device: info.device, bytes: info.reservedBytes });
    } catch (err) {
      log.log('error', 'model.preload_failed', { model: e.name, error: toMocError(err).message });
    }
  }));
}
