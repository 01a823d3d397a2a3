/**
 * Router actor (main thread): every transport hands it the same messages. It validates (one set of rules for
 * gRPC, REST and ZMQ), routes inference straight to the device holding the model (RouteTable, no extra hop), and
 * passes model management to Lifecycle. It never blocks: each message is forwarded and answered when its ask
 * settles, with the caller's deadline and cancellation carried through.
 */
import { errors } from '../../src/errors.js';
import { validate } from '../../src/validate.js';
import type { Config } from '../../schemas/config.js';
import { ModelName } from '../../schemas/config.js';
import {
  InferRequest, LoadRequest,
  type DeviceView, type LifecycleProtocol, type RouterProtocol,
} from '../../schemas/messages.js';
import type { ActorRef, Behavior, Envelope } from '../../src/kernel/types.js';
import type { DeviceRef } from '../device/index.js';
import type { RouteTable } from '../lifecycle/route-table.js';

/** Sampling default when a request gives none (Ollama and llama-server use 0.8 too). */
export const DEFAULT_TEMPERATURE = 0.8;

export class Router implements Behavior<RouterProtocol> {
  private readonly promptLimit: number;
  private requestSeq = 0;

  constructor(
    private readonly config: Config,
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
      case 'load': {
        const request = validate(LoadRequest, msg.request);
        this.lifecycle.ask({ kind: 'load', request }, opts).then((r) => env.reply(r), (e) => env.fail(e));
        return;
      }
      case 'unload': {
        const name = validate(ModelName, msg.name);
        this.lifecycle.ask({ kind: 'unload', name }, opts).then((r) => env.reply(r), (e) => env.fail(e));
        return;
      }
      case 'list-models': return env.reply(this.routes.list());
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
    const route = this.routes.lookup(r.model);
    if (!route || route.state === 'unloading' || route.state === 'failed') throw errors.modelNotFound(r.model, this.routes.names());
    if (r.max_tokens !== undefined && r.max_tokens > route.contextSize) {
      throw errors.invalidArgument('max_tokens', `${r.max_tokens} exceeds the model's context of ${route.contextSize} tokens; lower it`);
    }
    const device = this.devices.get(route.device);
    if (!device) throw errors.internal(`route to unknown device ${route.device}`);
    device.ask({
      kind: 'infer',
      requestId: r.request_id || `moc-${process.pid}-${++this.requestSeq}`,
      model: r.model,
      prompt: r.prompt,
      maxTokens: r.max_tokens ?? this.config.limits.defaultMaxTokens,
      temperature: r.temperature ?? DEFAULT_TEMPERATURE,
      ...(r.seed !== undefined ? { seed: r.seed } : {}),
      stop: r.stop ?? [],
      priority: r.priority ?? 0,
      stream: env.msg.stream,
    }, {
      timeoutMs: Math.max(1, env.deadline - Date.now()),
      signal: env.signal,
      ...(env.msg.stream ? { onEvent: (e: { kind: 'token'; text: string }) => env.emit(e) } : {}),
    }).then((res) => env.reply(res), (e) => env.fail(e));
  }

  private async deviceViews(timeoutMs: number): Promise<DeviceView[]> {
    return Promise.all(this.config.devices.map(async (d): Promise<DeviceView> => {
      const ref = this.devices.get(d.id)!;
      try {
        const s = await ref.ask({ kind: 'status' }, { timeoutMs: Math.min(timeoutMs, 5000) });
        return { ...s, mailboxDepth: ref.depth, available: true };
      } catch {
        // A restarting device still shows its budget and what it is expected to bring back.
        const reserved = this.routes.reservedOn(d.id);
        return {
          id: d.id, kind: d.kind, threads: d.threads, models: this.routes.onDevice(d.id),
          memory: { hardLimit: d.memory, softLimit: d.softLimit, reserved, free: d.memory - reserved },
          engine: { pid: 0, state: 'restarting', restarts: 0 }, mailboxDepth: ref.depth, available: false,
        };
      }
    }));
  }
}
