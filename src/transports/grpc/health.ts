/**
 * The standard grpc.health.v1.Health service and server reflection, beside moc.v1.ModelOps on the gRPC server.
 * Why: a load balancer (or a Kubernetes gRPC probe, or grpcurl) asks Health, not our own API, whether to send us
 * calls; it reports readiness with the same meaning as REST /health/ready, and goes NOT_SERVING as soon as the server
 * starts draining or closing. Reflection lets grpcurl and similar tools call us without the .proto files.
 * See docs/health.md.
 */
import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as HEALTH_PROTO_PATH, type ServingStatus } from 'grpc-health-check';
import { mocPackageDefinition } from './proto.js';

/**
 * The library's Health.Watch handler, as this file passes calls through to it: the shim neither reads the request
 * nor writes a reply itself (the library does both), so it needs no message types.
 */
type WatchCall = grpc.ServerWritableStream<unknown, unknown>;
type StreamHandler = (call: WatchCall) => void;

/** The names grpc.health.v1.Health answers for: the whole server ("") and the one service. Others: NOT_FOUND. */
const HEALTH_NAMES = ['', 'moc.v1.ModelOps'];
/**
 * The library answers Check from a stored status and cannot ask us at call time, so readiness is re-read this often:
 * a Check or Watch reports a change at most this late (close() is reported at once).
 */
const HEALTH_REFRESH_MS = 1_000;

export class GrpcHealth {
  private readonly health = new HealthImplementation();
  private status: ServingStatus | null = null;
  private readonly timer: NodeJS.Timeout;
  /** Open Health.Watch streams (their end functions), ended at close after they have seen NOT_SERVING. */
  private readonly watchers = new Set<() => void>();
  private closed = false;

  /**
   * Registers Health and reflection on the server (after ModelOps, which reflection describes).
   * `ready` is readiness as REST /health/ready computes it: SERVING when ready.
   */
  constructor(
    server: grpc.Server,
    private readonly ready: () => { status: 'ready' | 'not-ready' },
  ) {
    this.refresh();
    this.timer = setInterval(() => this.refresh(), HEALTH_REFRESH_MS).unref();
    // The library's Watch streams never end on their own and would hold the graceful close for the whole grace:
    // its handlers are registered through this shim so that close() can end them (after NOT_SERVING).
    this.health.addToServer({
      addService: (def, impl) =>
        server.addService(def, {
          ...impl,
          watch: (call: WatchCall) => this.watch(call, impl.watch as StreamHandler),
        }),
    });
    // Reflection (v1 and v1alpha) describes what a client can call: ModelOps and Health, from their loaded definitions.
    const healthDefinition = protoLoader.loadSync(HEALTH_PROTO_PATH, { keepCase: true });
    new ReflectionService({ ...mocPackageDefinition(), ...healthDefinition }).addToServer(server);
  }

  /**
   * Health as readiness says, reported to watchers only when it changes (the library writes on every setStatus).
   * Called every HEALTH_REFRESH_MS, and at once when the server starts draining. After close(): nothing.
   */
  refresh(): void {
    if (this.closed) return;
    let ready = false;
    try {
      ready = this.ready().status === 'ready';
    } catch {
      /* a readiness that throws is not ready */
    }
    this.set(ready ? 'SERVING' : 'NOT_SERVING');
  }

  /** NOT_SERVING on every name first (a balancer watching health stops sending us calls), then the Watch streams end. */
  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.set('NOT_SERVING');
    for (const end of [...this.watchers]) end();
  }

  private set(status: ServingStatus): void {
    if (status === this.status) return;
    this.status = status;
    for (const name of HEALTH_NAMES) this.health.setStatus(name, status);
  }

  private watch(call: WatchCall, watch: StreamHandler): void {
    const end = () => {
      this.watchers.delete(end);
      if (!call.cancelled) call.end();
    };
    call.on('cancelled', () => this.watchers.delete(end));
    watch(call);
    // A Watch that slips in while closing gets NOT_SERVING (just written) and its end at once.
    if (this.closed) end();
    else this.watchers.add(end);
  }
}
