/**
 * The listeners, started last (nothing is accepted before everything behind them runs) in the assembly's 'edge'
 * layer, drained first at shutdown: gRPC always, REST and ZMQ when enabled, the dedicated metrics port when set.
 * One set of per-key quotas for the three (a key draws on the same buckets whichever it uses).
 */
import type { Config } from '../../schemas/config.js';
import type { RouterProtocol } from '../../schemas/messages.js';
import type { ModelReadiness, Readiness } from '../../schemas/rest.js';
import type { Jobs } from '../../actors/jobs/jobs.js';
import type { Lifecycle } from '../../actors/lifecycle/lifecycle.js';
import type { KeyRing } from '../auth/keys.js';
import type { Quotas } from '../auth/quotas.js';
import type { Assembly } from '../kernel/assembly.js';
import type { LocalActor } from '../kernel/local-actor.js';
import type { Logger } from '../log.js';
import { MetricsListener } from '../telemetry/metrics-listener.js';
import type { Metrics } from '../telemetry/metrics.js';
import { GrpcTransport } from '../transports/grpc/server.js';
import { RestTransport } from '../transports/rest/server.js';
import { ZmqTransport } from '../transports/zmq/server.js';

export interface Listeners {
  grpc: GrpcTransport;
  /** null when disabled. */
  rest: RestTransport | null;
  zmq: ZmqTransport | null;
  grpcPort: number;
  /** 0 when disabled. */
  restPort: number;
  zmqPort: number;
  metricsPort: number;
}

export interface ListenerDeps {
  router: LocalActor<RouterProtocol>;
  models: Lifecycle;
  keys: KeyRing;
  jobs: Jobs | null;
  metrics: Metrics;
  log: Logger;
  ready: () => Readiness;
  modelReady: (name: string) => ModelReadiness;
  /** Per-key budgets, one set for the three transports; none when nothing is configured (requests pay nothing). */
  quotas: Quotas;
}

export async function startListeners(assembly: Assembly, config: Config, d: ListenerDeps): Promise<Listeners> {
  const { router, keys, jobs, metrics, log, ready } = d;
  const quotas = d.quotas.enabled ? { quotas: d.quotas } : {};
  const edge = { layer: 'edge' } as const;
  const grpc = await assembly.add(
    'grpc',
    () => new GrpcTransport(router, config, d.models, keys, { jobs, ready, metrics, log, ...quotas }),
    edge,
  );
  const grpcPort = await grpc.listen();
  let rest: RestTransport | null = null;
  let restPort = 0;
  if (config.rest.enabled) {
    rest = await assembly.add(
      'rest',
      () => new RestTransport(router, config, keys, { ready, modelReady: d.modelReady, jobs, metrics, ...quotas }, log),
      edge,
    );
    restPort = await rest.listen();
  }
  let zmq: ZmqTransport | null = null;
  let zmqPort = 0;
  if (config.zmq.enabled) {
    zmq = await assembly.add(
      'zmq',
      () => new ZmqTransport(router, config, keys, { health: ready, metrics, ...quotas }, log),
      edge,
    );
    zmqPort = await zmq.listen();
  }
  let metricsPort = 0;
  if (config.metrics.port !== undefined) {
    const listener = await assembly.add('metrics-listener', () => new MetricsListener(metrics), edge);
    metricsPort = await listener.listen(config.server.host, config.metrics.port);
  }
  const l = { grpc, rest, zmq, grpcPort, restPort, zmqPort, metricsPort };
  logListening(config, keys, l, log);
  return l;
}

/** `server.listening`: the bound addresses (tools read the ports from it), the devices, the config, the auth mode. */
function logListening(config: Config, keys: KeyRing, l: Listeners, log: Logger): void {
  const host = config.server.host;
  log.log('info', 'server.listening', {
    grpc: `${host}:${l.grpcPort}`,
    ...(l.restPort ? { rest: `http://${host}:${l.restPort}` } : {}),
    ...(l.metricsPort ? { metrics: `http://${host}:${l.metricsPort}/metrics` } : {}),
    ...(l.zmq
      ? { zmq: `tcp://${host}:${l.zmqPort}`, libzmq: l.zmq.libzmqVersion, curve: config.zmq.curve.enabled }
      : {}),
    devices: config.devices.map((dev) => dev.id),
    config: config.source ?? 'zero-config',
    auth: keys.open
      ? 'OPEN: no API keys configured, every caller is admin (allowed on loopback only)'
      : `${keys.size} API key(s)${keys.acceptsJwt ? ' and JWT bearer tokens' : ''} required`,
  });
}
