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
import { errors, MocError, toMocError } from '../../src/errors.js';
import type { Config } from '../../schemas/config.js';
import { DEFAULT_CONTEXT_SIZE, DEFAULT_SEQUENCES } from '../../schemas/config.js';
import type { CatalogEntry } from '../../schemas/catalog.js';
import type {
  AliasInfo, DeviceStatus, LifecycleProtocol, LoadRequest, ModelInfo, ModelSpec, ModelsChanged, ModelView,
  RegisterRequest, UnloadResult,
} from '../../schemas/messages.js';
import type { Behavior, Envelope } from '../../src/kernel/types.js';
import type { Store } from '../../src/store/store.js';
import type { DeviceRef } from '../device/index.js';
import { Breaker } from './breaker.js';
import { recheckModelFile } from './file-check.js';
import { KeyedSerial, releaseAll } from './keyed-serial.js';
import { realModelsRoot, resolveModelPath, ROOT_HINT } from './model-path.js';
import { planPlacement } from './placement.js';
import { RouteTable } from './route-table.js';

/** What the lifecycle needs of the GGUF inspector (src/model/inspector.ts): runs on a piscina pool. */
export interface Inspector {
  /** opts.root: messages name the file relative to it; opts.headerOnly: no sha256 (''), for the re-check at load. */
  inspect(file: string, opts?: { root?: string; headerOnly?: boolean }): Promise<{ sha256: string; bytes: number; header: { architecture: string; parameterCount: number; quantization: string; contextLength?: number } }>;
}

const STATUS_TIMEOUT_MS = 5000;
/** Loads (of distinct models: loads of one model coalesce) that may wait for one device's placement turn. */
const PLACEMENT_WAITERS_PER_DEVICE = 64;

// Models and aliases share one namespace: a name is one or the other, never both.
const nameIsAlias = (name: string) => errors.invalidArgument('name', `'${name}' is an alias; pick another model name`);
const aliasIsModel = (alias: string) =>
  errors.invalidArgument('alias', `'${alias}' is a model name; an alias needs a name of its own`);

export class Lifecycle implements Behavior<LifecycleProtocol> {
  readonly routes = new RouteTable();
  private readonly catalog = new Map<string, CatalogEntry>();
  /** Running loads by model, with the device each asked for (undefined: placement chooses). */
  private readonly loads = new Map<string, { device: string | undefined; done: Promise<ModelView> }>();
  private readonly breakers = new Map<string, Breaker>();
  private readonly watchers = new Set<(m: ModelView) => void>();
  /** Placement turns, one line per device id (see placeAndLoad). */
  private readonly placement = new KeyedSerial(PLACEMENT_WAITERS_PER_DEVICE, (id) => `placement queue of device ${id}`);
  /** The models root with symlinks resolved, as last seen (refreshed at every load): ModelSpec.file.root. */
  private realRoot: string;

  constructor(
    private readonly config: Config,
    private readonly devices: Map<string, DeviceRef>,
    private readonly store: Store,
    private readonly inspector: Inspector,
  ) {
    this.realRoot = path.resolve(config.modelsRoot);
    for (const e of store.listModels()) this.catalog.set(e.name, e);
    for (const [alias, target] of store.listAliases()) this.routes.aliases.set(alias, target);
  }

  // ---- read side, same thread (router, transports) ----

  /** True when `name` (or the alias) is in the catalog: the router loads it on demand. */
  isRegistered(name: string): boolean { return this.catalog.has(this.routes.resolve(name)); }
  catalogEntries(): CatalogEntry[] { return [...this.catalog.values()]; }

  /** WatchModels: every change of a model's state, as it happens. Returns the unsubscribe function. */
  watch(listener: (m: ModelView) => void): () => void {
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }

  /** Wired to every device ref's onNotify. */
  onDeviceNotice(msg: unknown): void {
    const m = msg as ModelsChanged;
    if (m?.kind !== 'models-changed') throw new Error(`lifecycle: unknown notice ${JSON.stringify(msg)}`);
    const before = new Map(this.routes.onDevice(m.device).map((x) => [x.name, x]));
    this.routes.update(m.device, m.models);
    for (const info of m.models) this.emit(this.view(info.name, info));
    for (const name of before.keys()) if (!m.models.some((x) => x.name === name)) this.emit(this.view(name));
  }

  /** What a (re)started device should hold: what it reported as loading or loaded before it went down. */
  desiredModels(device: string): ModelSpec[] {
    return this.routes.onDevice(device).filter((m) => m.state === 'loaded' || m.state === 'loading')
      .map((m) => {
        const e = this.catalog.get(m.name);
        // The engine re-checks the file against what the catalog recorded, as at every load.
        const file = e ? { file: { root: this.realRoot, bytes: e.bytes, mtimeMs: e.mtimeMs } } : {};
        return { name: m.name, path: m.path, contextSize: m.contextSize, sequences: m.sequences, keepAliveMs: m.keepAliveMs, pinned: m.pinned, ...file };
      });
  }

  receive(env: Envelope<LifecycleProtocol>): void {
    const msg = env.msg;
    const answer = <T>(p: Promise<T>) => { p.then((r) => env.reply(r as never), (e) => env.fail(this.withoutRoot(e))); };
    switch (msg.kind) {
      case 'register': return answer(this.register(msg.request));
      case 'load': return answer(this.load(msg.request));
      case 'ensure': return answer(this.ensureLoaded(this.routes.resolve(msg.name), {}));
      case 'unload': return answer(this.unload(this.routes.resolve(msg.name)));
      case 'set-alias': return answer(this.setAlias(msg.request.alias, msg.request.target));
      case 'pin': return answer(this.pin(msg.request.name, msg.request.pinned));
      case 'list': return answer(this.list());
      default:
        throw new Error(`lifecycle: unknown message kind ${JSON.stringify((msg as { kind: unknown }).kind)}`);
    }
  }

  // ---- catalog ----

  async register(r: RegisterRequest, defaults: { keepAliveMs?: number } = {}): Promise<ModelView> {
    // An early answer only: the store re-checks inside its write transaction, which is what holds against a
    // concurrent setAlias (this check and the write below are separated by awaits).
    if (this.routes.aliases.has(r.name)) throw nameIsAlias(r.name);
    const file = await resolveModelPath(this.config.modelsRoot, r.path);
    const existing = this.catalog.get(r.name);
    const live = this.routes.lookup(r.name);
    if (existing && existing.path !== r.path && live) {
      // Re-pointing a live name would change what in-flight callers get mid-flight; versions + aliases do that safely.
      throw errors.liveModelRepointed(r.name, live.state, live.device, existing.path, r.path);
    }
    const st = await stat(file);
    // An unchanged file (same path, size, mtime) keeps its inspection: no re-hash of a large file at every start.
    const same = existing && existing.path === r.path && existing.bytes === st.size && existing.mtimeMs === st.mtimeMs;
    const facts = same ? existing : await this.inspect(r.name, file, await realModelsRoot(this.config.modelsRoot));
    const entry: CatalogEntry = {
      name: r.name, path: r.path, sha256: facts.sha256, bytes: facts.bytes, mtimeMs: st.mtimeMs,
      architecture: facts.architecture, parameterCount: facts.parameterCount, quantization: facts.quantization,
      trainContextLength: facts.trainContextLength,
      contextSize: r.context_size ?? existing?.contextSize ?? DEFAULT_CONTEXT_SIZE,
      sequences: r.sequences ?? existing?.sequences ?? DEFAULT_SEQUENCES,
      ...((r.device ?? existing?.device) ? { device: (r.device ?? existing?.device)! } : {}),
      pinned: r.pinned ?? existing?.pinned ?? false,
      keepAliveMs: r.keep_alive_ms ?? existing?.keepAliveMs ?? defaults.keepAliveMs ?? this.config.lifecycle.defaultKeepAliveMs,
      preload: r.preload ?? existing?.preload ?? false,
      registeredAt: existing?.registeredAt ?? Date.now(),
    };
    if (entry.device && !this.devices.has(entry.device)) throw errors.deviceNotFound(entry.device, [...this.devices.keys()]);
    if (!(await this.store.putModel(entry))) throw nameIsAlias(r.name); // acknowledged only once committed
    this.catalog.set(entry.name, entry);
    // Registering again is how a refused (changed or broken) file gets fixed: its past failures no longer count.
    if (!same) this.breakers.delete(entry.name);
    const view = this.view(entry.name);
    this.emit(view);
    return view;
  }

  private async inspect(name: string, file: string, root: string) {
    const r = await this.inspector.inspect(file, { root });
    return {
      sha256: r.sha256, bytes: r.bytes, architecture: r.header.architecture, parameterCount: r.header.parameterCount,
      quantization: r.header.quantization, trainContextLength: r.header.contextLength ?? 0, name,
    };
  }

  // ---- loading ----

  private async load(r: LoadRequest): Promise<ModelView> {
    const name = this.routes.resolve(r.name);
    const entry = this.catalog.get(name);
    const changes = r.context_size !== undefined || r.sequences !== undefined || r.pinned !== undefined || r.keep_alive_ms !== undefined || r.device !== undefined;
    if (r.path !== undefined && (!entry || entry.path !== r.path || changes)) {
      await this.register({ ...r, path: r.path });
    } else if (!entry) {
      throw errors.modelNotRegistered(r.name, 'register it (RegisterModel) or give a path');
    } else if (changes) {
      await this.register({ ...r, path: entry.path });
    }
    return this.ensureLoaded(name, { ...(r.device ? { device: r.device } : {}) });
  }

  /**
   * Load the catalog entry unless loaded; concurrent calls for one model share one load, if they agree on the
   * device. A call asking for another device than the running load's waits for it to end, then tries again: it
   * is refused (placeAndLoad: already loaded elsewhere) unless that load failed or landed where it asked.
   */
  ensureLoaded(name: string, o: { device?: string }): Promise<ModelView> {
    const entry = this.catalog.get(name);
    if (!entry) return Promise.reject(errors.modelNotFound(name, this.routes.names()));
    const current = this.routes.lookup(name);
    if (current?.state === 'loaded' && (!o.device || o.device === current.device)) return Promise.resolve(this.view(name));
    const running = this.loads.get(name);
    if (running) {
      if (!o.device || o.device === running.device) return running.done;
      return running.done.then(() => {}, () => {}).then(() => this.ensureLoaded(name, o));
    }
    const device = o.device ?? entry.device;
    const done = this.doLoad(entry, device).finally(() => this.loads.delete(name));
    this.loads.set(name, { device, done });
    return done;
  }

  private async doLoad(entry: CatalogEntry, wanted: string | undefined): Promise<ModelView> {
    const breaker = this.breakerOf(entry.name);
    breaker.admit(entry.name);
    try {
      // The path may name another file than the one registered (re-pointed link, rewritten file): checked again
      // here, before any device sees it; the engine checks `file` once more on the descriptor it loads from.
      const { root } = await recheckModelFile(this.config.modelsRoot, entry, { inspect: (f, o) => this.inspector.inspect(f, o) });
      this.realRoot = root;
      const spec: ModelSpec = {
        name: entry.name, path: path.join(this.config.modelsRoot, entry.path), contextSize: entry.contextSize,
        sequences: entry.sequences, keepAliveMs: entry.keepAliveMs, pinned: entry.pinned,
        file: { root, bytes: entry.bytes, mtimeMs: entry.mtimeMs },
      };
      await this.placeAndLoad(spec, wanted);
      breaker.success();
    } catch (err) {
      const e = toMocError(err);
      if (e.code === 'MOC_ERR_LOAD_FAILED' || e.code === 'MOC_ERR_INTERNAL') breaker.failure(e);
      else breaker.success(); // no memory, busy, restarting: not the model's fault
      throw e;
    }
    return this.view(entry.name);
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
        await this.ref(device.id).ask({ kind: 'unload', model: victim.name }, { timeoutMs: this.config.limits.loadTimeoutMs });
      }
      await this.ref(device.id).ask({ kind: 'load', model: spec }, { timeoutMs: this.config.limits.loadTimeoutMs });
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
    if (statuses.length === 0) throw errors.unavailable(`no device is up to load '${spec.name}' (${ids.join(', ')} restarting)`);
    if (current) return { id: current.device, evict: [] }; // loading or loaded there: the device joins or answers
    const est = await this.ref(statuses[0]!.id).ask({ kind: 'estimate', model: spec }, { timeoutMs: this.config.limits.loadTimeoutMs });
    const plan = planPlacement(spec.name, est.totalBytes, statuses, (m) => m.pinned || (this.catalog.get(m.name)?.pinned ?? false));
    return { id: plan.device, evict: plan.evict };
  }

  private async unload(name: string): Promise<UnloadResult> {
    const m = this.routes.lookup(name);
    if (!m) {
      if (this.catalog.has(name)) throw errors.modelNotLoaded(name);
      throw errors.modelNotFound(name, this.routes.names());
    }
    return this.ref(m.device).ask({ kind: 'unload', model: name }, { timeoutMs: this.config.limits.loadTimeoutMs });
  }

  // ---- aliases, hot swap, pinning ----

  /**
   * Re-point an alias. When the old target is serving, the new one is loaded first (the old keeps serving), then
   * the alias switches in one step (new requests go to the new model), then the old drains and unloads. Requests
   * routed before the switch reach the old model's device ahead of its unload (one ordered mailbox), so none fail.
   */
  private async setAlias(alias: string, target: string): Promise<AliasInfo> {
    // Early answers; the store checks both again inside its write transaction (see register).
    if (this.catalog.has(alias)) throw aliasIsModel(alias);
    if (!this.catalog.has(target)) throw errors.aliasTargetNotFound(target);
    const previous = this.routes.aliases.get(alias) ?? '';
    if (previous === target) return { alias, target, previous };
    const oldServing = previous !== '' && this.routes.lookup(previous)?.state === 'loaded';
    if (oldServing) await this.ensureLoaded(target, {});
    if (!(await this.store.setAlias(alias, target))) {
      throw this.store.getModel(alias) ? aliasIsModel(alias) : errors.aliasTargetNotFound(target);
    }
    this.routes.aliases.set(alias, target);
    this.emit(this.view(target));
    const stillUsed = [...this.routes.aliases.values()].includes(previous);
    if (oldServing && !stillUsed && !this.catalog.get(previous)?.pinned) {
      await this.unload(previous).catch(() => {}); // drains in-flight requests first
    }
    return { alias, target, previous };
  }

  private async pin(name: string, pinned: boolean): Promise<ModelView> {
    const real = this.routes.resolve(name);
    const entry = this.catalog.get(real);
    if (!entry) throw errors.modelNotFound(name, [...this.catalog.keys()]);
    await this.register({ name: real, path: entry.path, pinned });
    const m = this.routes.lookup(real);
    if (m) await this.ref(m.device).ask({ kind: 'update', model: real, pinned, keepAliveMs: entry.keepAliveMs }, { timeoutMs: STATUS_TIMEOUT_MS });
    return this.view(real);
  }

  // ---- views ----

  /**
   * Every catalog entry and loaded model. Counters that change per request (in flight, queued, last used) come
   * from fresh device status: the route table only follows state changes.
   */
  async list(): Promise<ModelView[]> {
    const fresh = new Map<string, ModelInfo>();
    await Promise.all([...this.devices.values()].filter((d) => d.attached).map(async (d) => {
      const s = await d.ask({ kind: 'status' }, { timeoutMs: STATUS_TIMEOUT_MS }).catch(() => null);
      for (const m of s?.models ?? []) fresh.set(m.name, m);
    }));
    const names = new Set([...this.catalog.keys(), ...this.routes.names()]);
    return [...names].sort().map((n) => this.view(n, fresh.get(n) ?? this.routes.lookup(n)));
  }

  private view(name: string, info: ModelInfo | undefined = this.routes.lookup(name)): ModelView {
    const e = this.catalog.get(name);
    const aliases = [...this.routes.aliases].filter(([, t]) => t === name).map(([a]) => a);
    const base: ModelInfo = info ?? {
      name, path: e ? path.join(this.config.modelsRoot, e.path) : '', device: '', state: 'registered',
      contextSize: e?.contextSize ?? 0, sequences: e?.sequences ?? 0, estimateBytes: 0, reservedBytes: 0, actualBytes: 0,
      inFlight: 0, queued: 0, loadedAt: 0, lastUsedAt: 0, pinned: e?.pinned ?? false, keepAliveMs: e?.keepAliveMs ?? -1, expiresAt: 0,
    };
    return {
      // Clients see the path as they gave it (relative to the models root), never the server's filesystem layout.
      ...base, path: e?.path ?? path.relative(this.config.modelsRoot, base.path), pinned: base.pinned || (e?.pinned ?? false),
      sha256: e?.sha256 ?? '', architecture: e?.architecture ?? '', parameterCount: e?.parameterCount ?? 0,
      quantization: e?.quantization ?? '', aliases, breaker: this.breakers.get(name)?.state ?? 'closed',
    };
  }

  private emit(v: ModelView): void { for (const w of this.watchers) w(v); }

  /**
   * Last line of defence for answers: paths relative to the models root, never the server's absolute layout. The
   * checks above word their own messages so; this catches what others (the engine) pass on with the root in it.
   */
  private withoutRoot(err: unknown): MocError {
    const e = toMocError(err);
    const roots = [...new Set([this.realRoot, path.resolve(this.config.modelsRoot)])].sort((a, b) => b.length - a.length);
    const clean = (v: string) => roots.reduce((s, r) => s.split(r + path.sep).join('').split(r).join(ROOT_HINT), v);
    const message = clean(e.message);
    const details = Object.fromEntries(Object.entries(e.details).map(([k, v]) => [k, typeof v === 'string' ? clean(v) : v]));
    if (message === e.message && Object.entries(details).every(([k, v]) => v === e.details[k])) return e;
    return e.reworded(message, details);
  }

  private breakerOf(name: string): Breaker {
    let b = this.breakers.get(name);
    if (!b) { b = new Breaker(this.config.lifecycle.breakerFailures, this.config.lifecycle.breakerCooldownMs); this.breakers.set(name, b); }
    return b;
  }

  private ref(id: string): DeviceRef {
    const d = this.devices.get(id);
    if (!d) throw errors.deviceNotFound(id, [...this.devices.keys()]);
    return d;
  }
}

