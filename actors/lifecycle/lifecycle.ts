/**
 * Lifecycle actor (main thread): the model catalog (LMDB), where models go, what gets evicted, aliases and hot
 * swaps, and the desired state a restarted device reloads. It is the only writer of the RouteTable, kept from the
 * devices' models-changed notices, which the router reads on every inference.
 *
 * A load: resolve alias → catalog entry → circuit breaker → (coalesce with a running load of the same model) →
 * placement in the candidate devices' turns (see placeAndLoad): fresh device status, estimate, best fit, else evict
 * LRU idle unpinned models by bytes down to the soft limit → device load, in the chosen device's turn only (the
 * device reserves in its ledger before the engine loads, reconciles after).
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { errors, type MocError, toMocError } from '../../src/errors.js';
import type { Config } from '../../schemas/config.js';
import { DEFAULT_CONTEXT_SIZE, DEFAULT_SEQUENCES } from '../../schemas/config.js';
import type { CatalogEntry } from '../../schemas/catalog.js';
import type {
  DeviceStatus,
  LifecycleProtocol,
  ModelInfo,
  ModelPage,
  ModelSpec,
  ModelsChanged,
  ModelView,
  RegisterRequest,
} from '../../schemas/messages.js';
import { envelopeOf, replyAs } from '../../src/kernel/reply.js';
import type { ActorRef, Behavior, Envelope, Kind, Reply } from '../../src/kernel/types.js';
import type { Store } from '../../src/store/store.js';
import type { DeviceRef } from '../device/index.js';
import { Breaker } from './breaker.js';
import { recheckModelFile } from './file-check.js';
import { type Clock, realClock } from '../../src/kernel/clock.js';
import { KeepAliveTimers } from './keep-alive.js';
import { KeyedSerial, releaseAll } from './keyed-serial.js';
import { realModelsRoot, resolveModelPath, ROOT_HINT } from './model-path.js';
import { planPlacement } from './placement.js';
import { adapterOf, checkAdapterFields, DEFAULT_ADAPTER_SCALE, registeredFile } from './adapters.js';
import { checkLoraAdapter } from '../../src/model/adapter-check.js';
import type { GgufHeader } from '../../src/model/gguf-header.js';
import { RouteTable } from './route-table.js';
import { SwapLine } from './swap-policy.js';
import type { ReportDropped } from '../../src/telemetry/dropped.js';

/** What the lifecycle needs of the GGUF inspector (src/model/inspector.ts): runs on a piscina pool. */
export interface Inspector {
  /** opts.root: messages name the file relative to it; opts.headerOnly: no sha256 (''), for the re-check at load. */
  inspect(
    file: string,
    opts?: { root?: string; headerOnly?: boolean },
  ): Promise<{
    sha256: string;
    bytes: number;
    header: Pick<GgufHeader, 'architecture' | 'parameterCount' | 'quantization' | 'contextLength' | 'type'>;
  }>;
}

const STATUS_TIMEOUT_MS = 5000;
/** Between asks of a release its device did not answer (restarting): releaseOn. */
const RELEASE_RETRY_MS = 500;
/** Loads (of distinct models: loads of one model coalesce) that may wait for one device's placement turn. */
const PLACEMENT_WAITERS_PER_DEVICE = 64;
/** Loads of an adapter's base before its own load gives up (each time, another load took the base's memory first). */
const ADAPTER_BASE_ATTEMPTS = 3;

// Models and aliases share one namespace: a name is one or the other, never both.
const nameIsAlias = (name: string) => errors.invalidArgument('name', `'${name}' is an alias; pick another model name`);
const aliasIsModel = (alias: string) =>
  errors.invalidArgument('alias', `'${alias}' is a model name; an alias needs a name of its own`);

/** A caller waiting for a load (its envelope's answer). */
interface Waiter {
  reply(v: ModelView): void;
  fail(e: unknown): void;
  /** An envelope's: past its deadline or aborted, nobody waits for this answer any more. */
  readonly deadline?: number;
  readonly signal?: AbortSignal;
}

/** A load in progress: who waits for it, and who asked for another device (tried again once it ends). */
interface RunningLoad {
  device: string | undefined;
  waiters: Waiter[];
  others: Array<{ device: string; waiter: Waiter }>;
  startedAt: number;
  /** A request (not only a LoadModel) waits for it: it may wait for a swap (swap-policy.ts). */
  forRequest: boolean;
}

/** Told of loads and evictions as the Lifecycle decides them (src/telemetry/metrics.ts counts them). */
export interface LifecycleObserver {
  /** A load ended: `result` is OK or the MOC_ERR_* code it failed with. */
  loadEnded?(model: string, result: string, seconds: number): void;
  /** A model left its device to make room (lru: for a load or a job's memory) or because its keep-alive passed. */
  evicted?(model: string, reason: 'lru' | 'keep-alive'): void;
  /** An error nobody waits for (an unload in the background): logged and counted (src/telemetry/dropped.ts). */
  dropped?: ReportDropped;
}

/** What inspection found in a file: joined with the request and the current entry when the result is applied. */
interface FileFacts {
  sha256: string;
  bytes: number;
  mtimeMs: number;
  architecture: string;
  parameterCount: number;
  quantization: string;
  trainContextLength: number;
}

/**
 * What the lifecycle's tasks send back to it, and its devices' notices, through LocalActor.inbox: every change of
 * its state is one of these (or a request) handled in receive(), one at a time, in mailbox order.
 */
export type LifecycleInbox = {
  'models-changed': { req: ModelsChanged; reply: void };
  /** A register's file was examined: check again against the state now, then apply. */
  'catalog-put': {
    req: { kind: 'catalog-put'; request: RegisterRequest; facts: FileFacts; examined: CatalogEntry | undefined };
    reply: { view: ModelView; entry: CatalogEntry; previous: CatalogEntry | undefined };
  };
  /** The store refused what catalog-put applied (another process made the name an alias): put back what was. */
  'catalog-revert': {
    req: { kind: 'catalog-revert'; entry: CatalogEntry; previous: CatalogEntry | undefined };
    reply: void;
  };
  'load-ended': { req: { kind: 'load-ended'; name: string; root?: string; error?: MocError }; reply: void };
  /** A model's keep-alive expiry passed (KeepAliveTimers). */
  'keep-alive-due': { req: { kind: 'keep-alive-due'; model: string; expiresAt: number }; reply: void };
  /** A reservation for a non-model owner (a job) was made on `device`: kept so that a restarted device holds it again. */
  held: { req: { kind: 'held'; owner: string; device: string; bytes: number }; reply: void };
  'alias-put': { req: { kind: 'alias-put'; alias: string; target: string; previous: string }; reply: void };
  'alias-revert': { req: { kind: 'alias-revert'; alias: string; target: string; previous: string }; reply: void };
};
export type LifecycleMessages = LifecycleProtocol & LifecycleInbox;

/**
 * An actor: its state (catalog, route table, aliases, running loads, breakers) changes only in receive(). Long work
 * (inspecting a file, a device load, a store commit) runs as a task that reads the published views, talks to devices,
 * the store and the inspector, and reports its result as a message to self (LifecycleInbox). Loads of one model
 * coalesce in receive order; loads on different devices run side by side (placement turns per device).
 */
export class Lifecycle implements Behavior<LifecycleMessages> {
  readonly routes = new RouteTable();
  private readonly catalog = new Map<string, CatalogEntry>();
  private readonly loads = new Map<string, RunningLoad>();
  private readonly breakers = new Map<string, Breaker>();
  /**
   * Views as lists show them, kept until the next message that may change one (see receive): a list of the same
   * models between two notices builds nothing. A view whose breaker is not closed is not kept (its state moves with
   * time).
   */
  private readonly viewCache = new Map<string, ModelView>();
  /** The list's names in order (sortedNames), dropped when the catalog or the route table changes. */
  private names: string[] | null = null;
  /** Told of loads and evictions (set once, before the first message: the metrics). */
  observer: LifecycleObserver = {};
  /** Reservations made for others than models (owner `job:<id>`), by owner: what a restarted device holds again. */
  private readonly reservations = new Map<string, { device: string; bytes: number }>();
  private readonly watchers = new Set<(m: ModelView) => void>();
  /** Placement turns, one line per device id (see placeAndLoad). */
  private readonly placement = new KeyedSerial(PLACEMENT_WAITERS_PER_DEVICE, (id) => `placement queue of device ${id}`);
  /** The models root with symlinks resolved, as last seen (refreshed at every load): ModelSpec.file.root. */
  private realRoot: string;
  private self!: ActorRef<LifecycleMessages>;
  /** Keep-alive expiries; with placement's soft-limit eviction, all that decides a model leaves (see expire). */
  private readonly keepAlive: KeepAliveTimers;
  /** Loads waiting for busy models to make room, and the models draining for them (swap-policy.ts). */
  private readonly swaps: SwapLine;

  /** `clock`: what the keep-alive timers run on (a test's ManualClock; the real one by default). */
  constructor(
    private readonly config: Config,
    private readonly devices: Map<string, DeviceRef>,
    private readonly store: Store,
    private readonly inspector: Inspector,
    clock: Clock = realClock,
  ) {
    this.keepAlive = new KeepAliveTimers((model, expiresAt) => {
      try {
        this.self.tell({ kind: 'keep-alive-due', model, expiresAt });
      } catch {
        /* stopped: nothing to unload */
      }
    }, clock);
    this.realRoot = path.resolve(config.modelsRoot);
    this.swaps = new SwapLine(this.routes, config.lifecycle.minResidencyMs);
    for (const e of store.listModels()) this.catalog.set(e.name, e);
    for (const [alias, target] of store.listAliases()) this.routes.aliases.set(alias, target);
  }

  bind(self: ActorRef<LifecycleMessages>): void {
    this.self = self;
  }
  stop(): void {
    this.keepAlive.close();
    this.swaps.close();
  }

  // ---- read-only views, same thread (router, transports, supervisor) ----

  /** True while `model` drains for a swap: the router sends its new requests to wait for its reload instead. */
  draining(model: string): boolean {
    return this.swaps.draining(model);
  }

  /** True when `name` (or the alias) is in the catalog: the router loads it on demand. */
  isRegistered(name: string): boolean {
    return this.catalog.has(this.routes.resolve(name));
  }
  catalogEntries(): CatalogEntry[] {
    return [...this.catalog.values()];
  }

  /** WatchModels: every change of a model's state, as it happens. Returns the unsubscribe function. */
  watch(listener: (m: ModelView) => void): () => void {
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }

  /** Memory a (re)started device must hold again for others than models: the running jobs' reservations on it. */
  desiredReservations(device: string): { owner: string; bytes: number }[] {
    return [...this.reservations]
      .filter(([, r]) => r.device === device)
      .map(([owner, r]) => ({ owner, bytes: r.bytes }));
  }

  /** What a (re)started device should hold: what it reported as loading or loaded before it went down. */
  desiredModels(device: string): ModelSpec[] {
    return this.routes
      .onDevice(device)
      .filter((m) => m.state === 'loaded' || m.state === 'loading')
      .map((m) => {
        const e = this.catalog.get(m.name);
        // The engine re-checks the file against what the catalog recorded, as at every load.
        const file = e ? { file: { root: this.realRoot, bytes: e.bytes, mtimeMs: e.mtimeMs } } : {};
        return {
          name: m.name,
          path: m.path,
          contextSize: m.contextSize,
          sequences: m.sequences,
          keepAliveMs: m.keepAliveMs,
          pinned: m.pinned,
          ...file,
          ...adapterOf(e),
        };
      })
      .sort((a, b) => Number(!!a.adapter) - Number(!!b.adapter)); // bases first: an adapter loads on its base
  }

  receive(env: Envelope<LifecycleMessages>): void {
    const msg = env.msg;
    // Every state change happens in a message: any but a read may change a view.
    if (msg.kind !== 'list' && msg.kind !== 'view') this.viewCache.clear();
    switch (msg.kind) {
      // requests (from the router)
      case 'register':
        return this.register(env as Envelope<LifecycleMessages, 'register'>);
      case 'load':
        return this.load(env as Envelope<LifecycleMessages, 'load'>);
      case 'ensure':
        return this.ensure(
          this.routes.resolve(msg.name),
          msg.device,
          env as Envelope<LifecycleMessages, 'ensure'>,
          msg.forRequest,
        );
      case 'unload':
        return this.unload(env as Envelope<LifecycleMessages, 'unload'>);
      case 'set-alias':
        return this.setAlias(env as Envelope<LifecycleMessages, 'set-alias'>);
      case 'pin':
        return this.pin(env as Envelope<LifecycleMessages, 'pin'>);
      case 'list':
        return this.list(env as Envelope<LifecycleMessages, 'list'>);
      case 'view':
        return replyAs(env, 'view', this.viewOf(msg.name));
      case 'reserve': {
        const { owner, bytes, device } = msg;
        if (device !== undefined && !this.devices.has(device))
          throw errors.deviceNotFound(device, [...this.devices.keys()]);
        return this.task(envelopeOf(env, 'reserve'), async () => {
          const held = await this.placeAndReserve(owner, bytes, device);
          await this.step({ kind: 'held', owner, device: held.device, bytes: held.bytes });
          return held;
        });
      }
      case 'release': {
        const { owner, device } = msg;
        // Forgotten first: a device that restarts from now on starts without it, even if this release never reaches it.
        this.reservations.delete(owner);
        return this.task(envelopeOf(env, 'release'), () => this.releaseOn(device, owner));
      }
      case 'held':
        this.reservations.set(msg.owner, { device: msg.device, bytes: msg.bytes });
        return replyAs(env, 'held', undefined);
      // results of its own tasks, and its devices' notices
      case 'models-changed':
        return this.modelsChanged(msg);
      case 'catalog-put':
        return replyAs(env, 'catalog-put', this.putCatalog(msg.request, msg.facts, msg.examined));
      case 'catalog-revert':
        return replyAs(env, 'catalog-revert', this.revertCatalog(msg.entry, msg.previous));
      case 'load-ended':
        return this.loadEnded(msg.name, msg.root, msg.error);
      case 'keep-alive-due':
        return this.expire(msg.model, msg.expiresAt);
      case 'alias-put':
        return replyAs(env, 'alias-put', this.putAlias(msg.alias, msg.target, msg.previous));
      case 'alias-revert':
        return replyAs(env, 'alias-revert', this.revertAlias(msg.alias, msg.target, msg.previous));
      default:
        throw new Error(`lifecycle: unknown message kind ${JSON.stringify((msg as { kind: unknown }).kind)}`);
    }
  }

  /** Runs long work outside receive(); its answer (or error, scrubbed of the models root) goes to the envelope. */
  private task<K extends Kind<LifecycleMessages>>(
    env: Envelope<LifecycleMessages, K>,
    work: () => Promise<Reply<LifecycleMessages, K>>,
  ): void {
    work().then(
      (r) => env.reply(r),
      (e) => env.fail(this.withoutRoot(e)),
    );
  }

  /**
   * The device's release of `owner`, asked again until it answers. A device that restarts is started with the
   * reservations wanted when its new incarnation began; a release sent meanwhile was lost with the old incarnation, or
   * waited past one ask's timeout for the new one, which then held a finished job's memory for good (seen: a job that
   * ended while its device restarted, its 3 MiB still reserved). Bounded by a device's start (loadTimeoutMs); given
   * up if the owner reserves again meanwhile (a release is idempotent: an owner the device does not hold frees 0).
   */
  private async releaseOn(device: string, owner: string): Promise<{ freedBytes: number }> {
    const end = Date.now() + this.config.limits.loadTimeoutMs + STATUS_TIMEOUT_MS;
    for (;;) {
      try {
        return await this.ref(device).ask({ kind: 'release', owner }, { timeoutMs: STATUS_TIMEOUT_MS });
      } catch (err) {
        if (Date.now() >= end || this.reservations.has(owner)) throw err;
        await new Promise((r) => setTimeout(r, RELEASE_RETRY_MS).unref());
      }
    }
  }

  /** Asks itself through its internal queue: the step of a task that reads or changes state. */
  private step<K extends keyof LifecycleInbox & string>(
    msg: LifecycleMessages[K]['req'] & { kind: K },
  ): Promise<LifecycleMessages[K]['reply']> {
    return this.self.ask<K>(msg, { timeoutMs: this.config.limits.loadTimeoutMs });
  }

  private modelsChanged(m: ModelsChanged): void {
    const before = new Map(this.routes.onDevice(m.device).map((x) => [x.name, x]));
    const gone = [...before.keys()].filter((name) => !m.models.some((x) => x.name === name));
    this.routes.update(m.device, m.models);
    if (gone.length || m.models.some((x) => !before.has(x.name))) this.names = null;
    this.keepAlive.follow(m.models, gone);
    for (const info of m.models) this.emit(this.view(info.name, info));
    for (const name of gone) this.emit(this.view(name));
    this.swaps.changed(m.device);
  }

  /**
   * An idle model's keep-alive passed: unload it if the device still reports it idle with that expiry. The device
   * checks once more in its own mailbox (ifExpiresAt), so a request that reached it meanwhile keeps the model.
   */
  private expire(model: string, expiresAt: number): void {
    const m = this.routes.lookup(model);
    if (m?.state !== 'loaded' || m.expiresAt !== expiresAt || this.catalog.get(model)?.pinned) return;
    // Nobody waits for this answer; a device restarting meanwhile reports the model again and the timer re-arms.
    this.ref(m.device)
      .ask({ kind: 'unload', model, ifExpiresAt: expiresAt }, { timeoutMs: this.config.limits.loadTimeoutMs })
      .then(
        (r) => {
          if (r.freedBytes > 0) this.observer.evicted?.(model, 'keep-alive');
        },
        (err) => this.observer.dropped?.('lifecycle.keep_alive_unload', err, { model, device: m.device }),
      );
  }

  // ---- catalog ----

  /**
   * Register: checked now, the file examined by a task (path inside the root, stat, GGUF header and sha256 unless the
   * file is unchanged), then applied (checked again: things may have changed meanwhile) and only then committed to
   * the store. The answer waits for the commit: a client is acknowledged only for what survives kill -9.
   */
  private register(env: Envelope<LifecycleMessages, 'register'>): void {
    const r = env.msg.request;
    this.checkRegister(r);
    const examined = this.catalog.get(r.name);
    this.task(env, async () => {
      const facts = await this.examine(r, examined);
      const { view, entry, previous } = await this.step({ kind: 'catalog-put', request: r, facts, examined });
      // The store checks the shared namespace again inside its write transaction (another process may share it).
      if (!(await this.store.putModel(entry))) {
        await this.step({ kind: 'catalog-revert', entry, previous });
        throw nameIsAlias(r.name);
      }
      return view;
    });
  }

  /** What refuses a register, against the state at the moment it is called. */
  private checkRegister(r: RegisterRequest): string | undefined {
    if (this.routes.aliases.has(r.name)) throw nameIsAlias(r.name);
    const base = checkAdapterFields(r, this.catalog, (n) => this.routes.resolve(n));
    const existing = this.catalog.get(r.name);
    const live = this.routes.lookup(r.name);
    const file = registeredFile(r);
    if (existing && (existing.path !== file || existing.base !== base || existing.scale !== r.scale) && live) {
      // Re-pointing a live name would change what in-flight callers get mid-flight; versions + aliases do that safely.
      throw errors.liveModelRepointed(r.name, live.state, live.device, existing.path, file);
    }
    const device = r.device ?? existing?.device;
    if (device && !this.devices.has(device)) throw errors.deviceNotFound(device, [...this.devices.keys()]);
    return base;
  }

  /** The file's facts; an unchanged file (same path, size, mtime) keeps its inspection: no re-hash at every start. */
  private async examine(r: RegisterRequest, existing: CatalogEntry | undefined): Promise<FileFacts> {
    const file = await resolveModelPath(this.config.modelsRoot, registeredFile(r));
    const st = await stat(file);
    if (
      existing &&
      existing.path === registeredFile(r) &&
      existing.bytes === st.size &&
      existing.mtimeMs === st.mtimeMs
    )
      return existing;
    const x = await this.inspector.inspect(file, { root: await realModelsRoot(this.config.modelsRoot) });
    await this.checkKind(r, file, x.header);
    return {
      sha256: x.sha256,
      bytes: x.bytes,
      mtimeMs: st.mtimeMs,
      architecture: x.header.architecture,
      parameterCount: x.header.parameterCount,
      quantization: x.header.quantization,
      trainContextLength: x.header.contextLength ?? 0,
    };
  }

  /**
   * A model file must be a model, and an adapter a LoRA adapter that fits its base (names, shapes, types, from the
   * headers: src/model/adapter-check.ts): refused here, at registration, rather than by llama.cpp at the first load.
   */
  private async checkKind(r: RegisterRequest, file: string, header: Pick<GgufHeader, 'type'>): Promise<void> {
    if (r.adapter === undefined) {
      if (header.type === 'adapter')
        throw errors.modelFileRefused(
          r.name,
          registeredFile(r),
          `is a LoRA adapter (general.type adapter), not a model; register it with adapter and base (the model it applies to) instead of path`,
        );
      return;
    }
    const base = this.catalog.get(this.routes.resolve(r.base!));
    if (!base) return; // checkRegister refuses it, naming the base
    const basePath = await resolveModelPath(this.config.modelsRoot, base.path);
    checkLoraAdapter(file, basePath, { adapter: r.adapter, base: base.path });
  }

  private putCatalog(r: RegisterRequest, facts: FileFacts, examined: CatalogEntry | undefined) {
    const base = this.checkRegister(r);
    const existing = this.catalog.get(r.name);
    const baseEntry = base === undefined ? undefined : this.catalog.get(base);
    const entry: CatalogEntry = {
      name: r.name,
      path: registeredFile(r),
      sha256: facts.sha256,
      bytes: facts.bytes,
      mtimeMs: facts.mtimeMs,
      architecture: facts.architecture,
      parameterCount: facts.parameterCount,
      quantization: facts.quantization,
      trainContextLength: facts.trainContextLength,
      // An adapter's context is as its base's unless it says otherwise.
      contextSize: r.context_size ?? existing?.contextSize ?? baseEntry?.contextSize ?? DEFAULT_CONTEXT_SIZE,
      sequences: r.sequences ?? existing?.sequences ?? baseEntry?.sequences ?? DEFAULT_SEQUENCES,
      ...((r.device ?? existing?.device) ? { device: (r.device ?? existing?.device)! } : {}),
      pinned: r.pinned ?? existing?.pinned ?? false,
      keepAliveMs: r.keep_alive_ms ?? existing?.keepAliveMs ?? this.config.lifecycle.defaultKeepAliveMs,
      preload: r.preload ?? existing?.preload ?? false,
      registeredAt: existing?.registeredAt ?? Date.now(),
      ...(base !== undefined ? { base, ...(r.scale !== undefined ? { scale: r.scale } : {}) } : {}),
    };
    this.catalog.set(entry.name, entry);
    this.names = null;
    // Registering again is how a refused (changed or broken) file gets fixed: its past failures no longer count.
    if (facts !== examined) this.breakers.delete(entry.name);
    const view = this.view(entry.name);
    this.emit(view);
    return { view, entry, previous: existing };
  }

  private revertCatalog(entry: CatalogEntry, previous: CatalogEntry | undefined): void {
    if (this.catalog.get(entry.name) !== entry) return; // registered again since: that one stands
    if (previous) this.catalog.set(entry.name, previous);
    else this.catalog.delete(entry.name);
    this.names = null;
    this.emit(this.view(entry.name));
  }

  // ---- loading ----

  /** Load, registering first when the request gives a path or changes settings. */
  private load(env: Envelope<LifecycleMessages, 'load'>): void {
    const r = env.msg.request;
    const name = this.routes.resolve(r.name);
    const entry = this.catalog.get(name);
    const changes =
      r.context_size !== undefined ||
      r.sequences !== undefined ||
      r.pinned !== undefined ||
      r.keep_alive_ms !== undefined ||
      r.device !== undefined;
    const file =
      r.path !== undefined && (!entry || entry.path !== r.path || changes)
        ? r.path
        : changes && entry
          ? entry.path
          : undefined;
    if (file === undefined) {
      if (!entry)
        throw errors.modelNotRegistered(
          r.name,
          'register it first (RegisterModel, POST /v1/models or register_model, with its GGUF path under the models root), or give this load its path',
        );
      return this.ensure(name, r.device, env);
    }
    // Settings changed on an adapter register it again as the adapter it is (its file, base and scale).
    const { path: _given, ...settings } = r;
    const what =
      entry?.base && file === entry.path
        ? { adapter: file, base: entry.base, ...(entry.scale !== undefined ? { scale: entry.scale } : {}) }
        : { path: file };
    this.task(env, async () => {
      await this.self.ask(
        { kind: 'register', request: { ...settings, ...what } },
        { timeoutMs: Math.max(1, env.deadline - Date.now()) },
      );
      return this.self.ask(
        { kind: 'ensure', name, ...(r.device ? { device: r.device } : {}) },
        { timeoutMs: Math.max(1, env.deadline - Date.now()) },
      );
    });
  }

  /**
   * Load the catalog entry unless loaded, answering `waiter` when done. Loads of one model coalesce (decided here, in
   * receive order), if they agree on the device. One asking for another device than the running load's is tried
   * again when that load ends: it is refused (place: already loaded elsewhere) unless that load failed or landed
   * where it asked.
   */
  private ensure(name: string, device: string | undefined, waiter: Waiter, forRequest = false): void {
    const entry = this.catalog.get(name);
    if (!entry) return waiter.fail(errors.modelUnknown(name, this.routes.names()));
    const current = this.routes.lookup(name);
    // A request for a model draining for a swap waits for its reload (swap-policy.ts).
    const draining = forRequest && this.swaps.draining(name);
    if (current?.state === 'loaded' && (!device || device === current.device) && !draining)
      return waiter.reply(this.view(name));
    const running = this.loads.get(name);
    if (running) {
      running.forRequest ||= forRequest;
      if (!device || device === running.device) running.waiters.push(waiter);
      else running.others.push({ device, waiter });
      return;
    }
    const wanted = device ?? entry.device;
    try {
      this.breakerOf(name).admit(name);
    } catch (err) {
      return waiter.fail(err);
    }
    this.loads.set(name, { device: wanted, waiters: [waiter], others: [], startedAt: performance.now(), forRequest });
    this.loadTask(entry, wanted).then(
      (root) => this.self.tell({ kind: 'load-ended', name, root }),
      (err) => this.self.tell({ kind: 'load-ended', name, error: toMocError(err) }),
    );
  }

  /** The load's end, in receive order: the breaker counts it, and everyone who waited for it gets the answer. */
  private loadEnded(name: string, root: string | undefined, error: MocError | undefined): void {
    const run = this.loads.get(name)!;
    this.loads.delete(name);
    this.observer.loadEnded?.(name, error ? error.code : 'OK', (performance.now() - run.startedAt) / 1000);
    if (root) this.realRoot = root;
    const breaker = this.breakerOf(name);
    if (error && (error.code === 'MOC_ERR_LOAD_FAILED' || error.code === 'MOC_ERR_INTERNAL')) breaker.failure(error);
    else breaker.success(); // loaded; or no memory, busy, restarting: not the model's fault
    const err = error && this.withoutRoot(error);
    for (const w of run.waiters)
      if (err) w.fail(err);
      else w.reply(this.view(name));
    for (const o of run.others) this.ensure(name, o.device, o.waiter);
  }

  /** The task of one load: re-check the file, then place and load. Resolves with the models root it saw. */
  private async loadTask(entry: CatalogEntry, wanted: string | undefined): Promise<string> {
    // The path may name another file than the one registered (re-pointed link, rewritten file): checked again
    // here, before any device sees it; the engine checks `file` once more on the descriptor it loads from.
    const { root } = await recheckModelFile(this.config.modelsRoot, entry, {
      inspect: (f, o) => this.inspector.inspect(f, o),
    });
    const spec: ModelSpec = {
      name: entry.name,
      path: path.join(this.config.modelsRoot, entry.path),
      contextSize: entry.contextSize,
      sequences: entry.sequences,
      keepAliveMs: entry.keepAliveMs,
      pinned: entry.pinned,
      file: { root, bytes: entry.bytes, mtimeMs: entry.mtimeMs },
      ...adapterOf(entry),
    };
    const since = Date.now();
    const run = () => this.loads.get(entry.name);
    // A load for requests may wait its turn in the device's swap line (swap-policy.ts) rather than fail.
    const placed = (device: string | undefined) =>
      this.swaps.run(
        entry.name,
        {
          since,
          mayWait: () => run()?.forRequest ?? false,
          alive: () => run()?.waiters.some((w) => !w.signal?.aborted && (w.deadline ?? Infinity) > Date.now()) ?? false,
        },
        () => this.placeAndLoad(spec, device),
      );
    if (!entry.base) {
      await placed(wanted);
      return root;
    }
    // The base may leave between its load and the adapter's (evicted for another load: it was idle): loaded again.
    for (let attempt = 1; ; attempt++) {
      const device = await this.baseLoaded(entry, wanted);
      try {
        await placed(device);
        return root;
      } catch (err) {
        if (attempt >= ADAPTER_BASE_ATTEMPTS || toMocError(err).details.base !== entry.base) throw err;
      }
    }
  }

  /**
   * An adapter runs on its base's weights, on the base's device: the base is loaded first (on demand, as any model:
   * coalesced with a load already running) and the adapter goes where it is. Answers that device.
   */
  private async baseLoaded(entry: CatalogEntry, wanted: string | undefined): Promise<string> {
    const base = entry.base!;
    const where = this.routes.lookup(base)?.device ?? wanted;
    const view = await this.self.ask(
      { kind: 'ensure', name: base, ...(where ? { device: where } : {}) },
      { timeoutMs: this.config.limits.loadTimeoutMs },
    );
    if (wanted && view.device !== wanted)
      throw errors.loadedOnOtherDevice(entry.name, 'registered', view.device, wanted);
    return view.device;
  }

  /**
   * Placement decisions for one device are serialized: two loads must not both count the same free bytes. Loads on
   * different devices do not wait for each other. A load takes the placement turns of the devices it may land on:
   * where the model already is, else the device asked for (request or catalog), else every device (one device
   * configured: that one). A load that lets placement choose holds every turn (taken in one fixed order: no
   * deadlock) only while it reads statuses and decides; it then gives back all but the chosen device's turn, which
   * it keeps through eviction and the (slow) device load. So a load placed on cpu0 never waits for one running on
   * cpu1, but a load free to go anywhere waits for the turn of each device, as its decision reads them all.
   */
  private async placeAndLoad(spec: ModelSpec, wanted: string | undefined): Promise<void> {
    let turns = await this.placement.turns(this.candidates(spec.name, wanted));
    try {
      if (this.candidates(spec.name, wanted).some((id) => !turns.has(id))) {
        // The model came or went (a device restart, an unload) while this load waited: decide holding every turn.
        releaseAll(turns);
        turns = await this.placement.turns(this.config.devices.map((d) => d.id));
      }
      const device = await this.place(spec, wanted);
      for (const [id, release] of turns) if (id !== device.id) release();
      for (const victim of device.evict) {
        await this.ref(device.id).ask(
          { kind: 'unload', model: victim.name },
          { timeoutMs: this.config.limits.loadTimeoutMs },
        );
        this.observer.evicted?.(victim.name, 'lru');
      }
      await this.ref(device.id).ask({ kind: 'load', model: spec }, { timeoutMs: this.config.limits.loadTimeoutMs });
    } finally {
      releaseAll(turns);
    }
  }

  /**
   * Memory for a job, placed as a model's load is (the same turns, statuses, best fit and LRU eviction of idle
   * unpinned models down to the soft limit), so jobs and models compete for a device by the same rules.
   */
  private async placeAndReserve(
    owner: string,
    bytes: number,
    wanted: string | undefined,
  ): Promise<{ device: string; bytes: number }> {
    const ids = wanted ? [wanted] : this.config.devices.map((d) => d.id);
    const turns = await this.placement.turns(ids);
    try {
      const statuses: DeviceStatus[] = [];
      for (const id of ids) {
        const ref = this.ref(id);
        if (ref.attached) statuses.push(await ref.ask({ kind: 'status' }, { timeoutMs: STATUS_TIMEOUT_MS }));
      }
      if (statuses.length === 0)
        throw errors.unavailable(`no device is up to hold ${owner}'s memory (${ids.join(', ')} restarting)`);
      const plan = planPlacement(
        owner,
        bytes,
        statuses,
        (m) => m.pinned || (this.catalog.get(m.name)?.pinned ?? false),
      );
      for (const [id, release] of turns) if (id !== plan.device) release();
      for (const victim of plan.evict) {
        await this.ref(plan.device).ask(
          { kind: 'unload', model: victim.name },
          { timeoutMs: this.config.limits.loadTimeoutMs },
        );
        this.observer.evicted?.(victim.name, 'lru');
      }
      return await this.ref(plan.device).ask({ kind: 'reserve', owner, bytes }, { timeoutMs: STATUS_TIMEOUT_MS });
    } finally {
      releaseAll(turns);
    }
  }

  /** The devices a load may land on: where the model is, else the one asked for, else any. */
  private candidates(name: string, wanted: string | undefined): string[] {
    const current = this.routes.lookup(name);
    return current ? [current.device] : wanted ? [wanted] : this.config.devices.map((d) => d.id);
  }

  /** The decision, in the candidate devices' turns: where the model goes and what is evicted there first. */
  private async place(spec: ModelSpec, wanted: string | undefined): Promise<{ id: string; evict: ModelInfo[] }> {
    const current = this.routes.lookup(spec.name);
    if (current && wanted && current.device !== wanted) {
      throw errors.loadedOnOtherDevice(spec.name, current.state, current.device, wanted);
    }
    const ids = this.candidates(spec.name, wanted);
    const statuses: DeviceStatus[] = [];
    for (const id of ids) {
      const ref = this.ref(id);
      if (!ref.attached) continue;
      statuses.push(await ref.ask({ kind: 'status' }, { timeoutMs: STATUS_TIMEOUT_MS }));
    }
    if (statuses.length === 0)
      throw errors.unavailable(`no device is up to load '${spec.name}' (${ids.join(', ')} restarting)`);
    if (current) return { id: current.device, evict: [] }; // loading or loaded there: the device joins or answers
    const est = await this.ref(statuses[0]!.id).ask(
      { kind: 'estimate', model: spec },
      { timeoutMs: this.config.limits.loadTimeoutMs },
    );
    // An adapter's base stays for it: it is what the adapter runs on.
    const isPinned = (m: ModelInfo) =>
      m.pinned || (this.catalog.get(m.name)?.pinned ?? false) || m.name === spec.adapter?.base;
    try {
      const plan = planPlacement(spec.name, est.totalBytes, statuses, isPinned);
      return { id: plan.device, evict: plan.evict };
    } catch (err) {
      throw this.swaps.refused(err, est.totalBytes, statuses, isPinned); // busy models in the way: it may wait
    }
  }

  private unload(env: Envelope<LifecycleMessages, 'unload'>): void {
    const name = this.routes.resolve(env.msg.name);
    const m = this.routes.lookup(name);
    if (!m) {
      if (this.catalog.has(name)) throw errors.modelNotLoaded(name);
      throw errors.modelUnknown(name, this.routes.names());
    }
    // The device drains in-flight requests first; the route table follows from its notices.
    this.task(env, () =>
      this.ref(m.device).ask({ kind: 'unload', model: name }, { timeoutMs: this.config.limits.loadTimeoutMs }),
    );
  }

  // ---- aliases, hot swap, pinning ----

  /**
   * Re-point an alias. When the old target is serving, the new one is loaded first (the old keeps serving), then
   * the alias switches in one step (new requests go to the new model), then the old drains and unloads. Requests
   * routed before the switch reach the old model's device ahead of its unload (one ordered mailbox), so none fail.
   */
  private setAlias(env: Envelope<LifecycleMessages, 'set-alias'>): void {
    const { alias, target } = env.msg.request;
    this.checkAlias(alias, target);
    const previous = this.routes.aliases.get(alias) ?? '';
    if (previous === target) return env.reply({ alias, target, previous });
    const oldServing = previous !== '' && this.routes.lookup(previous)?.state === 'loaded';
    const timeoutMs = () => Math.max(1, env.deadline - Date.now());
    this.task(env, async () => {
      if (oldServing) await this.self.ask({ kind: 'ensure', name: target }, { timeoutMs: timeoutMs() });
      await this.step({ kind: 'alias-put', alias, target, previous });
      // The store checks the namespace again inside its write transaction (another process may share the store).
      if (!(await this.store.setAlias(alias, target))) {
        await this.step({ kind: 'alias-revert', alias, target, previous });
        throw this.store.getModel(alias) ? aliasIsModel(alias) : errors.aliasTargetNotFound(target);
      }
      // An old target that is the base of a loaded adapter (the new target, say: a fine-tune's adapter promoted over
      // its base) stays: unloading it would unload the adapters running on it.
      const stillUsed =
        [...this.routes.aliases.values()].includes(previous) ||
        this.routes.names().some((n) => this.routes.lookup(n)?.base === previous);
      if (oldServing && !stillUsed && !this.catalog.get(previous)?.pinned) {
        // Drains in-flight requests first. The alias has moved (the answer says so): a failed unload is only told.
        await this.self
          .ask({ kind: 'unload', name: previous }, { timeoutMs: timeoutMs() })
          .catch((err) => this.observer.dropped?.('lifecycle.alias_unload', err, { model: previous, alias }));
      }
      return { alias, target, previous };
    });
  }

  /** Models and aliases share one namespace; an alias points at a model. */
  private checkAlias(alias: string, target: string): void {
    if (this.catalog.has(alias)) throw aliasIsModel(alias);
    if (!this.catalog.has(target)) throw errors.aliasTargetNotFound(target);
  }

  /** The switch of a hot swap: from here on new requests resolve the alias to the new target. */
  private putAlias(alias: string, target: string, previous: string): void {
    this.checkAlias(alias, target); // again: the target's load took time
    this.routes.aliases.set(alias, target);
    this.emit(this.view(target));
    if (previous) this.emit(this.view(previous));
  }

  private revertAlias(alias: string, target: string, previous: string): void {
    if (this.routes.aliases.get(alias) !== target) return; // switched again since: that one stands
    if (previous) this.routes.aliases.set(alias, previous);
    else this.routes.aliases.delete(alias);
    this.emit(this.view(target));
  }

  private pin(env: Envelope<LifecycleMessages, 'pin'>): void {
    const { name, pinned } = env.msg.request;
    const real = this.routes.resolve(name);
    const entry = this.catalog.get(real);
    if (!entry) throw errors.modelNotFound(name, [...this.catalog.keys()]);
    this.task(env, async () => {
      const view = await this.self.ask(
        { kind: 'register', request: { name: real, path: entry.path, pinned } },
        { timeoutMs: STATUS_TIMEOUT_MS },
      );
      const m = this.routes.lookup(real);
      if (!m) return view;
      await this.ref(m.device).ask(
        { kind: 'update', model: real, pinned, keepAliveMs: entry.keepAliveMs },
        { timeoutMs: STATUS_TIMEOUT_MS },
      );
      // Asked of itself: answered after the device's notice of the update, which arrived before its reply.
      return (await this.self.ask({ kind: 'view', name: real }, { timeoutMs: STATUS_TIMEOUT_MS })) ?? view;
    });
  }

  // ---- views ----

  /**
   * A page of every catalog entry and loaded model, by name, from the live view: the route table as the devices'
   * notices left it (states as they change; in flight and queued at most COUNTERS_NOTICE_MS stale). No device thread
   * is asked, so listing never waits behind inference; only the page's views are built.
   */
  private list(env: Envelope<LifecycleMessages, 'list'>): void {
    env.reply(this.page(env.msg.after, env.msg.limit));
  }

  /** Read-only, same thread: a page of the list as `list` answers it (`nextCursor`: the last name, '' at the end). */
  page(after: string, limit: number): ModelPage {
    const names = this.sortedNames();
    let lo = 0;
    let hi = names.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (names[mid]! <= after) lo = mid + 1;
      else hi = mid;
    } // first name > after
    const slice = names.slice(lo, lo + limit);
    return {
      models: slice.map((n) => this.cachedView(n)),
      nextCursor: lo + limit < names.length ? slice[slice.length - 1]! : '',
    };
  }

  /** A model by name, else by alias (as GetModel answers); null when neither names one. */
  private viewOf(name: string): ModelView | null {
    const known = (n: string) => this.catalog.has(n) || this.routes.lookup(n) !== undefined;
    if (known(name)) return this.cachedView(name);
    const target = this.routes.resolve(name);
    return target !== name && known(target) ? this.cachedView(target) : null;
  }

  private cachedView(name: string): ModelView {
    let v = this.viewCache.get(name);
    if (v) return v;
    v = this.view(name);
    if (v.breaker === 'closed') this.viewCache.set(name, v);
    return v;
  }

  /** Every name the list shows, sorted; kept until the catalog or a device's models change. */
  private sortedNames(): string[] {
    return (this.names ??= [...new Set([...this.catalog.keys(), ...this.routes.names()])].sort());
  }

  private view(name: string, info: ModelInfo | undefined = this.routes.lookup(name)): ModelView {
    const e = this.catalog.get(name);
    const aliases = [...this.routes.aliases].filter(([, t]) => t === name).map(([a]) => a);
    const base: ModelInfo = info ?? {
      name,
      path: e ? path.join(this.config.modelsRoot, e.path) : '',
      device: '',
      state: 'registered',
      contextSize: e?.contextSize ?? 0,
      sequences: e?.sequences ?? 0,
      estimateBytes: 0,
      reservedBytes: 0,
      actualBytes: 0,
      inFlight: 0,
      queued: 0,
      loadedAt: 0,
      lastUsedAt: 0,
      pinned: e?.pinned ?? false,
      keepAliveMs: e?.keepAliveMs ?? -1,
      expiresAt: 0,
    };
    return {
      // Clients see the path as they gave it (relative to the models root), never the server's filesystem layout.
      ...base,
      path: e?.path ?? path.relative(this.config.modelsRoot, base.path),
      pinned: base.pinned || (e?.pinned ?? false),
      sha256: e?.sha256 ?? '',
      architecture: e?.architecture ?? '',
      parameterCount: e?.parameterCount ?? 0,
      quantization: e?.quantization ?? '',
      aliases,
      breaker: this.breakers.get(name)?.state ?? 'closed',
      ...(e?.base ? { base: e.base, scale: e.scale ?? DEFAULT_ADAPTER_SCALE } : {}),
    };
  }

  private emit(v: ModelView): void {
    for (const w of this.watchers) w(v);
  }

  /**
   * Last line of defence for answers: paths relative to the models root, never the server's absolute layout. The
   * checks above word their own messages so; this catches what others (the engine) pass on with the root in it.
   */
  private withoutRoot(err: unknown): MocError {
    const e = toMocError(err);
    const roots = [...new Set([this.realRoot, path.resolve(this.config.modelsRoot)])].sort(
      (a, b) => b.length - a.length,
    );
    const clean = (v: string) =>
      roots.reduce(
        (s, r) =>
          s
            .split(r + path.sep)
            .join('')
            .split(r)
            .join(ROOT_HINT),
        v,
      );
    const message = clean(e.message);
    const details = Object.fromEntries(
      Object.entries(e.details).map(([k, v]) => [k, typeof v === 'string' ? clean(v) : v]),
    );
    if (message === e.message && Object.entries(details).every(([k, v]) => v === e.details[k])) return e;
    return e.reworded(message, details);
  }

  private breakerOf(name: string): Breaker {
    let b = this.breakers.get(name);
    if (!b) {
      b = new Breaker(this.config.lifecycle.breakerFailures, this.config.lifecycle.breakerCooldownMs);
      this.breakers.set(name, b);
    }
    return b;
  }

  private ref(id: string): DeviceRef {
    const d = this.devices.get(id);
    if (!d) throw errors.deviceNotFound(id, [...this.devices.keys()]);
    return d;
  }
}
