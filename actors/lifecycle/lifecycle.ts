/**
 * Lifecycle actor (main thread): decides where a model goes and keeps the desired state a restarted device
 * reloads. It is the only writer of the RouteTable, which it keeps from the devices' models-changed notices.
 * Placement: the named device, else the device already holding the model, else the device with the most free
 * memory (the catalog, eviction and keep-alive of the lifecycle issue build on this).
 */
import { errors, MocError } from '../../src/errors.js';
import { DEFAULT_CONTEXT_SIZE, DEFAULT_SEQUENCES, type Config } from '../../schemas/config.js';
import type { LifecycleProtocol, ModelInfo, ModelSpec, ModelsChanged, UnloadResult } from '../../schemas/messages.js';
import type { Behavior, Envelope } from '../../src/kernel/types.js';
import type { DeviceRef } from '../device/index.js';
import { resolveModelPath } from './model-path.js';
import { RouteTable } from './route-table.js';

export class Lifecycle implements Behavior<LifecycleProtocol> {
  readonly routes = new RouteTable();

  constructor(private readonly config: Config, private readonly devices: Map<string, DeviceRef>) {}

  /** Wired to every device ref's onNotify. */
  onDeviceNotice(msg: unknown): void {
    const m = msg as ModelsChanged;
    if (m?.kind !== 'models-changed') throw new Error(`lifecycle: unknown notice ${JSON.stringify(msg)}`);
    this.routes.update(m.device, m.models);
  }

  /** What a (re)started device should hold: what it reported as loading or loaded before it went down. */
  desiredModels(device: string): ModelSpec[] {
    return this.routes.onDevice(device).filter((m) => m.state === 'loaded' || m.state === 'loading')
      .map((m) => ({ name: m.name, path: m.path, contextSize: m.contextSize, sequences: m.sequences }));
  }

  receive(env: Envelope<LifecycleProtocol>): void {
    const msg = env.msg;
    switch (msg.kind) {
      case 'load':
        this.load(env as Envelope<LifecycleProtocol, 'load'>).then((r) => env.reply(r), (e) => env.fail(e));
        return;
      case 'unload':
        this.unload(msg.name, env.deadline).then((r) => env.reply(r), (e) => env.fail(e));
        return;
      default:
        throw new Error(`lifecycle: unknown message kind ${JSON.stringify((msg as { kind: unknown }).kind)}`);
    }
  }

  private async load(env: Envelope<LifecycleProtocol, 'load'>): Promise<ModelInfo> {
    const r = env.msg.request;
    const path = await resolveModelPath(this.config.modelsRoot, r.path);
    const spec: ModelSpec = { name: r.name, path, contextSize: r.context_size ?? DEFAULT_CONTEXT_SIZE, sequences: r.sequences ?? DEFAULT_SEQUENCES };
    const device = this.place(r.name, r.device);
    return device.ask({ kind: 'load', model: spec }, { timeoutMs: this.remaining(env.deadline), signal: env.signal });
  }

  private async unload(name: string, deadline: number): Promise<UnloadResult> {
    const m = this.routes.lookup(name);
    if (!m) throw errors.modelNotFound(name, this.routes.names());
    return this.ref(m.device).ask({ kind: 'unload', model: name }, { timeoutMs: this.remaining(deadline) });
  }

  private place(model: string, wanted?: string): DeviceRef {
    const current = this.routes.lookup(model);
    if (wanted) {
      if (current && current.device !== wanted) {
        throw new MocError('MOC_ERR_MODEL_ALREADY_LOADED',
          `model '${model}' is already ${current.state} on ${current.device}; unload it there first to move it to ${wanted}`,
          { model, device: current.device });
      }
      return this.ref(wanted);
    }
    if (current) return this.ref(current.device);
    let best: { id: string; free: number } | undefined;
    for (const d of this.config.devices) {
      if (!this.devices.get(d.id)?.attached) continue;
      const free = d.memory - this.routes.reservedOn(d.id);
      if (!best || free > best.free) best = { id: d.id, free };
    }
    if (!best) throw errors.unavailable('no device is up (all are restarting)');
    return this.ref(best.id);
  }

  private ref(id: string): DeviceRef {
    const d = this.devices.get(id);
    if (!d) throw errors.deviceNotFound(id, [...this.devices.keys()]);
    return d;
  }

  private remaining(deadline: number): number { return Math.max(1, deadline - Date.now()); }
}
