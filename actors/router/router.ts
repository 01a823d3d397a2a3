/**
 * Router actor (main thread): every transport hands it the same messages. It validates (one set of rules for
 * gRPC, REST and ZMQ), routes inference straight to the device holding the model (RouteTable, no extra hop), and
 * passes model management to Lifecycle. It never blocks: each message is forwarded and answered when its ask
 * settles, with the caller's deadline and cancellation carried through.
 */
import path from 'node:path';
import { errors } from '../../src/errors.js';
import { validate } from '../../src/validate.js';
import type { Config } from '../../schemas/config.js';
import {
  AliasRequest, InferRequest, LoadRequest, NameRequest, PinRequest, RegisterRequest,
  type DeviceView, type InferResult, type LifecycleProtocol, type RouterProtocol,
} from '../../schemas/messages.js';
import type { ActorRef, Behavior, Envelope } from '../../src/kernel/types.js';
import type { DeviceRef } from '../device/index.js';
import type { Lifecycle } from '../lifecycle/lifecycle.js';
import type { RouteTable } from '../lifecycle/route-table.js';

/** Sampling default when a request gives none (Ollama and llama-server use 0.8 too). */
export const DEFAULT_TEMPERATURE = 0.8;

export class Router implements Behavior<RouterProtocol> {
  private readonly promptLimit: number;
  private requestSeq = 0;
  /** Inferences waiting for a load on demand: bounded like a mailbox (server.mailboxCapacity), BUSY past it. */
  private waitingForLoad = 0;

  constructor(
    private readonly config: Config,
    private readonly catalog: Pick<Lifecycle, 'isRegistered'>,
    private readonly routes: RouteTable,
    private readonly devices: Map<string, DeviceRef>,
    private readonly lifecycle: ActorRef<LifecycleProtocol>,
  ) {
    this.promptLimit = config.limits.maxPromptBytes;
  }

  receive(env: Envelope<RouterProtocol>): void {
    const msg = env.msg;
    const opts = { timeoutMs: Math.max(1, env.deadline - Date.now()), signal: env.signal };
    switch (msg.kind) {
      case 'infer': return this.infer(env as Envelope<RouterProtocol, 'infer'>);
      case 'register': {
        const request = validate(RegisterRequest, msg.request);
        this.lifecycle.ask({ kind: 'register', request }, opts).then((r) => env.reply(r), (e) => env.fail(e));
        return;
      }
      case 'load': {
        const request = validate(LoadRequest, msg.request);
        this.lifecycle.ask({ kind: 'load', request }, opts).then((r) => env.reply(r), (e) => env.fail(e));
        return;
      }
      case 'set-alias': {
        const request = validate(AliasRequest, msg.request);
        this.lifecycle.ask({ kind: 'set-alias', request }, opts).then((r) => env.reply(r), (e) => env.fail(e));
        return;
      }
      case 'pin': {
        const request = validate(PinRequest, msg.request);
        this.lifecycle.ask({ kind: 'pin', request }, opts).then((r) => env.reply(r), (e) => env.fail(e));
        return;
      }
      case 'unload': {
        const { name } = validate(NameRequest, msg.request);
        this.lifecycle.ask({ kind: 'unload', name }, opts).then((r) => env.reply(r), (e) => env.fail(e));
        return;
      }
      case 'get-model': {
        // "By name or by alias" answered here once, for every transport.
        const { name } = validate(NameRequest, msg.request);
        this.lifecycle.ask({ kind: 'list' }, opts).then((models) => {
          const found = models.find((m) => m.name === name) ?? models.find((m) => m.aliases.includes(name));
          if (found) env.reply(found); else env.fail(errors.modelNotRegistered(name, 'nor is it an alias; register it first (RegisterModel, POST /v1/models, register_model)'));
        }, (e) => env.fail(e));
        return;
      }
      case 'list-models':
        this.lifecycle.ask({ kind: 'list' }, opts).then((r) => env.reply(r), (e) => env.fail(e));
        return;
      case 'devices':
        this.deviceViews(opts.timeoutMs).then((r) => env.reply(r), (e) => env.fail(e));
        return;
      default:
        throw new Error(`router: unknown message kind ${JSON.stringify((msg as { kind: unknown }).kind)}`);
    }
  }

  private infer(env: Envelope<RouterProtocol, 'infer'>): void {
    const r = validate(InferRequest, env.msg.request);
    const promptBytes = Buffer.byteLength(r.prompt, 'utf8');
    if (promptBytes > this.promptLimit) {
      throw errors.invalidArgument('prompt', `is ${promptBytes} bytes; the limit is ${this.promptLimit} (limits.maxPromptBytes); shorten it`);
    }
    // The alias is resolved once, here: a hot swap switches it between two requests, never during one.
    const name = this.routes.resolve(r.model);
    const route = this.routes.lookup(name);
    const servable = route && (route.state === 'loaded' || route.state === 'loading');
    if (!servable) {
      if (r.require_loaded || !this.catalog.isRegistered(name)) throw errors.modelNotFound(r.model, this.routes.names());
      // Load on demand (coalesced with any load of the same model), then run. The waiters sit outside every
      // mailbox while the load runs, so they get a bound of their own.
      const capacity = this.config.server.mailboxCapacity;
      if (this.waitingForLoad >= capacity) throw errors.busy(`requests waiting for a model to load`, capacity, 500);
      this.waitingForLoad++;
      this.lifecycle.ask({ kind: 'ensure', name }, { timeoutMs: Math.max(1, env.deadline - Date.now()), signal: env.signal })
        .finally(() => { this.waitingForLoad--; })
        .then(() => this.dispatch(env, r, name), (e) => env.fail(e));
      return;
    }
    this.dispatch(env, r, name);
  }

  private dispatch(env: Envelope<RouterProtocol, 'infer'>, r: InferRequest, name: string): void {
    const route = this.routes.lookup(name);
    if (!route) return env.fail(errors.modelNotFound(r.model, this.routes.names()));
    const device = this.devices.get(route.device);
    if (!device) return env.fail(errors.internal(`route to unknown device ${route.device}`));
    device.ask({
      kind: 'infer',
      requestId: r.request_id || `moc-${process.pid}-${++this.requestSeq}`,
      model: name,
      prompt: r.prompt,
      maxTokens: r.max_tokens ?? this.config.limits.defaultMaxTokens,
      temperature: r.temperature ?? DEFAULT_TEMPERATURE,
      ...(r.seed !== undefined ? { seed: r.seed } : {}),
      stop: r.stop ?? [],
      priority: r.priority ?? 0,
      stream: env.msg.stream,
      ...(r.keep_alive_ms !== undefined ? { keepAliveMs: r.keep_alive_ms } : {}),
    }, {
      timeoutMs: Math.max(1, env.deadline - Date.now()),
      signal: env.signal,
      ...(env.msg.stream ? { onEvent: (e: { kind: 'token'; text: string }) => env.emit(e) } : {}),
    }).then((res: InferResult) => env.reply(res), (e) => env.fail(e));
  }

  private async deviceViews(timeoutMs: number): Promise<DeviceView[]> {
    return Promise.all(this.config.devices.map(async (d): Promise<DeviceView> => {
      const ref = this.devices.get(d.id)!;
      try {
        const s = await ref.ask({ kind: 'status' }, { timeoutMs: Math.min(timeoutMs, 5000) });
        // Paths relative to the models root, as clients registered them (no server filesystem layout in answers).
        const models = s.models.map((m) => ({ ...m, path: path.relative(this.config.modelsRoot, m.path) }));
        return { ...s, models, mailboxDepth: ref.depth, available: true };
      } catch {
        // A restarting device still shows its budget and what it is expected to bring back.
        const reserved = this.routes.reservedOn(d.id);
        return {
          id: d.id, kind: d.kind, threads: d.threads, models: this.routes.onDevice(d.id).map((m) => ({ ...m, path: path.relative(this.config.modelsRoot, m.path) })),
          memory: { hardLimit: d.memory, softLimit: d.softLimit, reserved, free: d.memory - reserved },
          engine: { pid: 0, state: 'restarting', restarts: 0 }, mailboxDepth: ref.depth, available: false,
        };
      }
    }));
  }
}
