/**
 * What jobs need of the models side, through the same actors a client's request goes through: the Lifecycle loads
 * (on demand, with placement and eviction) and registers, the device holding a model evaluates on one of its
 * sequences, queued like an inference. Jobs never touch a device's engine or the catalog directly.
 */
import path from 'node:path';
import type { Config } from '../../schemas/config.js';
import type {
  AliasInfo,
  DeviceStatus,
  EvaluateResult,
  LifecycleProtocol,
  ModelView,
  RegisterRequest,
} from '../../schemas/messages.js';
import { errors } from '../../src/errors.js';
import type { ActorRef } from '../../src/kernel/types.js';
import type { DeviceRef } from '../device/index.js';
import type { Lifecycle } from '../lifecycle/lifecycle.js';

export interface ModelsPort {
  /** The model's GGUF file (absolute) as the catalog has it, for a trainer's base model. */
  modelFile(name: string): string;
  /** Scores texts with a model (each after its prefix, if given: EvaluateMsg), loading it first if needed. */
  evaluate(model: string, texts: string[], signal: AbortSignal, prefixes?: string[]): Promise<EvaluateResult>;
  /** What a name serves now: an alias's target, a model's own name; undefined when it names nothing registered. */
  resolve(name: string): string | undefined;
  register(request: RegisterRequest): Promise<ModelView>;
  setAlias(alias: string, target: string): Promise<AliasInfo>;
  /** Device memory for a running job (placement and eviction as for a model); release it when the job ends. */
  reserve(owner: string, bytes: number, device?: string): Promise<{ device: string; bytes: number }>;
  release(owner: string, device: string): Promise<void>;
  /** The devices' ledgers and models now (those up), for a fleet host to judge which jobs fit before claiming. */
  room(): Promise<DeviceStatus[]>;
}

export class ActorModelsPort implements ModelsPort {
  constructor(
    private readonly config: Config,
    private readonly lifecycle: ActorRef<LifecycleProtocol>,
    private readonly views: Pick<Lifecycle, 'catalogEntries' | 'routes'>,
    private readonly devices: Map<string, DeviceRef>,
  ) {}

  modelFile(name: string): string {
    const real = this.views.routes.resolve(name);
    const e = this.views.catalogEntries().find((x) => x.name === real);
    if (!e) throw errors.modelNotRegistered(name, 'register it (RegisterModel) before a job uses it');
    return path.join(this.config.modelsRoot, e.path);
  }

  resolve(name: string): string | undefined {
    const real = this.views.routes.resolve(name);
    return this.views.catalogEntries().some((e) => e.name === real) ? real : undefined;
  }

  async evaluate(model: string, texts: string[], signal: AbortSignal, prefixes?: string[]): Promise<EvaluateResult> {
    const timeoutMs = this.config.limits.loadTimeoutMs;
    const name = this.views.routes.resolve(model);
    // A model can leave its device between the load and the evaluate (keep-alive, eviction): load again, once.
    for (let attempt = 0; ; attempt++) {
      await this.lifecycle.ask({ kind: 'ensure', name }, { timeoutMs, signal });
      const route = this.views.routes.lookup(name);
      const device = route && this.devices.get(route.device);
      if (!device) throw errors.modelNotFound(model, this.views.routes.names());
      try {
        return await device.ask(
          { kind: 'evaluate', model: name, texts, ...(prefixes ? { prefixes } : {}) },
          { timeoutMs: this.config.limits.requestTimeoutMs, signal },
        );
      } catch (err) {
        if (attempt > 0 || (err as { code?: string }).code !== 'MOC_ERR_MODEL_NOT_FOUND' || signal.aborted) throw err;
      }
    }
  }

  register(request: RegisterRequest): Promise<ModelView> {
    return this.lifecycle.ask({ kind: 'register', request }, { timeoutMs: this.config.limits.loadTimeoutMs });
  }

  setAlias(alias: string, target: string): Promise<AliasInfo> {
    return this.lifecycle.ask(
      { kind: 'set-alias', request: { alias, target } },
      { timeoutMs: this.config.limits.loadTimeoutMs },
    );
  }

  reserve(owner: string, bytes: number, device?: string): Promise<{ device: string; bytes: number }> {
    return this.lifecycle.ask(
      { kind: 'reserve', owner, bytes, ...(device ? { device } : {}) },
      { timeoutMs: this.config.limits.loadTimeoutMs },
    );
  }

  async release(owner: string, device: string): Promise<void> {
    await this.lifecycle.ask({ kind: 'release', owner, device }, { timeoutMs: this.config.limits.loadTimeoutMs });
  }

  async room(): Promise<DeviceStatus[]> {
    const up = [...this.devices.values()].filter((d) => d.attached);
    return Promise.all(up.map((d) => d.ask({ kind: 'status' }, { timeoutMs: this.config.limits.requestTimeoutMs })));
  }
}
