/**
 * Router actor (main thread): every transport hands it the same messages. It validates (one set of rules for
 * gRPC, REST and ZMQ), routes inference straight to the device holding the model (RouteTable, no extra hop), and
 * passes model management to Lifecycle. It never blocks: each message is forwarded and answered when its ask
 * settles, with the caller's deadline and cancellation carried through. What it has admitted and not yet answered is
 * bounded (server.mailboxCapacity): past it, MOC_ERR_BUSY at once.
 */
import type { FleetSource } from '../../src/fleet/registry.js';
import path from 'node:path';
import { errors, toMocError } from '../../src/errors.js';
import { validate } from '../../src/validate.js';
import type { Config } from '../../schemas/config.js';
import {
  AliasRequest,
  EmbedRequest,
  ListModelsRequest,
  LoadRequest,
  MAX_LIST_MODELS,
  NameRequest,
  PinRequest,
  RegisterRequest,
  type DeviceView,
  type EmbedResult,
  type Inference,
  type InferResult,
  type LifecycleProtocol,
  type RouterProtocol,
} from '../../schemas/messages.js';
import type { ActorRef, Behavior, Envelope } from '../../src/kernel/types.js';
import type { DeviceRef } from '../device/index.js';
import type { Lifecycle } from '../lifecycle/lifecycle.js';
import type { RouteTable } from '../lifecycle/route-table.js';
import { FleetRoom } from './fleet-room.js';
import { cursorName, modelCursor } from './model-cursor.js';
import { checkToolUse, inputBytes } from './tool-use.js';
import { JobIdRequest, ListJobsRequest, SubmitJobRequest } from '../../schemas/jobs.js';
import type { JobsProtocol } from '../jobs/jobs.js';
import type { FeedbackProtocol } from '../feedback/feedback.js';
import { RecordFeedbackRequest } from '../../schemas/feedback.js';
import { CreateGoalRequest, GoalIdRequest, ListGoalsRequest, UpdateGoalRequest } from '../../schemas/goals.js';
import type { GoalsProtocol } from '../goals/goals.js';

/** Sampling default when a request gives none (Ollama and llama-server use 0.8 too). */
export const DEFAULT_TEMPERATURE = 0.8;
/** Loads on demand a request may go through when its model keeps leaving the device before it arrives. */
const REROUTES = 3;

/** The actors the router forwards to; feedback and jobs are absent when not running (a coded refusal then). */
export interface RouterRefs {
  lifecycle: ActorRef<LifecycleProtocol>;
  feedback?: ActorRef<FeedbackProtocol> | null;
  jobs?: ActorRef<JobsProtocol> | null;
  goals?: ActorRef<GoalsProtocol> | null;
  fleet?: FleetSource | null;
}

export class Router implements Behavior<RouterProtocol> {
  private readonly lifecycle: ActorRef<LifecycleProtocol>;
  private readonly feedback: ActorRef<FeedbackProtocol> | null;
  private readonly jobs: ActorRef<JobsProtocol> | null;
  private readonly goals: ActorRef<GoalsProtocol> | null;
  private readonly fleet: FleetSource | null;
  /** In a fleet: a job no live host's device can hold is refused at submit (fleet-room.ts). */
  private readonly fleetRoom: FleetRoom | null;
  /** Whether served inferences are told to the feedback actor (feedback.recordInferences). */
  private readonly recordInferences: boolean;
  private readonly promptLimit: number;
  private readonly capacity: number;
  private requestSeq = 0;
  /**
   * Requests admitted and not yet answered. receive() only starts each one (the router must not serialize
   * inference), so its mailbox alone would bound nothing: this count is the bound (server.mailboxCapacity), BUSY past it.
   */
  private inFlight = 0;
  /** Of those, inferences waiting for a load on demand: bounded on their own, so loads cannot take every slot. */
  private waitingForLoad = 0;
  /** The same, per model name: requests waiting in queue for that model (docs/metrics.md, For a gateway). */
  private readonly waitingForLoadOf = new Map<string, number>();
  /**
   * Inferences sent to a model's device and not answered yet, per model name. Past what the device can hold for the
   * model (its sequences + the device's maxQueue) a request is refused Busy here, on the main thread, without the hop
   * to a device thread that is busiest exactly then: under 3x overload, refusals from the device's queue took ~11 ms
   * at p99 inside the server (perf/overload.ts). The device's own check stays the authority; this count is never below
   * what the device holds (it includes requests in transit), so it refuses only what the device would.
   */
  private readonly sentTo = new Map<string, number>();
  private readonly maxQueue: Map<string, number>;

  constructor(
    private readonly config: Config,
    private readonly catalog: Pick<Lifecycle, 'isRegistered'> &
      Partial<Pick<Lifecycle, 'desiredReservations' | 'draining'>>,
    private readonly routes: RouteTable,
    private readonly devices: Map<string, DeviceRef>,
    refs: RouterRefs,
  ) {
    this.lifecycle = refs.lifecycle;
    this.feedback = refs.feedback ?? null;
    this.jobs = refs.jobs ?? null;
    this.goals = refs.goals ?? null;
    this.fleet = refs.fleet ?? null;
    this.fleetRoom = this.fleet && config.store.kind === 'postgres' ? new FleetRoom(this.fleet) : null;
    this.recordInferences = !!refs.feedback && config.feedback.recordInferences;
    this.promptLimit = config.limits.maxPromptBytes;
    this.capacity = config.server.mailboxCapacity;
    this.maxQueue = new Map(config.devices.map((d) => [d.id, d.maxQueue]));
  }

  get outstanding(): number {
    return this.inFlight;
  }

  /** Inferences waiting for their model to load, per model name (absent: none); read at each metrics scrape. */
  waitingForLoadByModel(): ReadonlyMap<string, number> {
    return this.waitingForLoadOf;
  }

  receive(env: Envelope<RouterProtocol>): void {
    if (this.inFlight >= this.capacity) throw errors.busy('the router (requests in flight)', this.capacity, 100);
    const work = this.handle(env); // validation errors throw here: answered at once, nothing admitted
    this.inFlight++;
    work
      .then(
        // handle() answers every kind through one switch typed Promise<unknown>: each case must return its kind's
        // Reply<RouterProtocol, K>, unchecked here — the one reply cast left (typing handle per kind is still to do).
        (r) => env.reply(r as never),
        (e) => env.fail(e),
      )
      .finally(() => {
        this.inFlight--;
      });
  }

  /** Starts one request; the promise settles with its answer. */
  private handle(env: Envelope<RouterProtocol>): Promise<unknown> {
    const msg = env.msg;
    const timeoutMs = Math.max(1, env.deadline - Date.now());
    // The signal is read (and its AbortController made, see Letter) only by the asks that take it.
    const opts = {
      timeoutMs,
      get signal() {
        return env.signal;
      },
    };
    // Reads the lifecycle answers at once from its live view carry no signal: nothing to stop, and a signal per call
    // (an AbortController behind it) was a measurable part of a list's cost.
    const readOpts = { timeoutMs };
    switch (msg.kind) {
      case 'infer':
        return this.recorded(
          env as Envelope<RouterProtocol, 'infer'>,
          this.infer(env as Envelope<RouterProtocol, 'infer'>),
        );
      case 'embed':
        return this.embed(env as Envelope<RouterProtocol, 'embed'>);
      case 'register':
        return this.lifecycle.ask({ kind: 'register', request: validate(RegisterRequest, msg.request) }, opts);
      case 'load':
        return this.lifecycle.ask({ kind: 'load', request: validate(LoadRequest, msg.request) }, opts);
      case 'set-alias':
        return this.lifecycle.ask({ kind: 'set-alias', request: validate(AliasRequest, msg.request) }, opts);
      case 'pin':
        return this.lifecycle.ask({ kind: 'pin', request: validate(PinRequest, msg.request) }, opts);
      case 'unload':
        return this.lifecycle.ask({ kind: 'unload', name: validate(NameRequest, msg.request).name }, opts);
      case 'get-model': {
        // "By name or by alias" answered here once, for every transport.
        const { name } = validate(NameRequest, msg.request);
        return this.lifecycle.ask({ kind: 'view', name }, readOpts).then((found) => {
          if (!found)
            throw errors.modelNotRegistered(
              name,
              'no alias has that name either: register it first (RegisterModel, POST /v1/models or register_model)',
            );
          return found;
        });
      }
      case 'list-models': {
        const r = validate(ListModelsRequest, msg.request ?? {});
        return this.lifecycle
          .ask(
            { kind: 'list', after: r.cursor ? cursorName(r.cursor) : '', limit: r.limit ?? MAX_LIST_MODELS },
            readOpts,
          )
          .then((page) => ({ models: page.models, nextCursor: page.nextCursor ? modelCursor(page.nextCursor) : '' }));
      }
      case 'submit-job': {
        const request = validate(SubmitJobRequest, msg.request);
        const submit = () => this.jobsRef().ask({ kind: 'submit', request, owner: msg.owner }, opts);
        if (!this.fleetRoom || !request.memory_bytes) return submit();
        const key = request.request_id;
        const isRetry =
          key === undefined
            ? undefined
            : () => this.jobsRef().ask({ kind: 'known', owner: msg.owner, requestId: key }, opts);
        return this.fleetRoom.check(request.memory_bytes, request.device, isRetry).then(submit);
      }
      case 'get-job':
        return this.jobsRef().ask({ kind: 'get', id: validate(JobIdRequest, msg.request).id }, opts);
      case 'list-jobs':
        return this.jobsRef().ask({ kind: 'list', request: validate(ListJobsRequest, msg.request) }, opts);
      case 'cancel-job':
        return this.jobsRef().ask({ kind: 'cancel', id: validate(JobIdRequest, msg.request).id }, opts);
      case 'create-goal':
        return this.goalsRef().ask(
          { kind: 'create', request: validate(CreateGoalRequest, msg.request), owner: msg.owner },
          opts,
        );
      case 'get-goal':
        return this.goalsRef().ask({ kind: 'get', id: validate(GoalIdRequest, msg.request).id }, opts);
      case 'list-goals':
        return this.goalsRef().ask({ kind: 'list', request: validate(ListGoalsRequest, msg.request) }, opts);
      case 'update-goal':
        return this.goalsRef().ask({ kind: 'update', request: validate(UpdateGoalRequest, msg.request) }, opts);
      case 'cancel-goal':
        return this.goalsRef().ask({ kind: 'cancel', id: validate(GoalIdRequest, msg.request).id }, opts);
      case 'goal-history':
        return this.goalsRef().ask({ kind: 'history', id: validate(GoalIdRequest, msg.request).id }, opts);
      case 'record-feedback':
        return this.feedbackRef().ask(
          { kind: 'record', request: validate(RecordFeedbackRequest, msg.request), owner: msg.owner },
          opts,
        );
      case 'devices':
        return this.deviceViews(timeoutMs);
      case 'fleet':
        if (!this.fleet) throw errors.unavailable('the fleet registry is not running on this server');
        return this.fleet.hosts();
      default:
        throw new Error(`router: unknown message kind ${JSON.stringify((msg as { kind: unknown }).kind)}`);
    }
  }

  private goalsRef(): ActorRef<GoalsProtocol> {
    if (!this.goals) throw errors.unavailable('goals are not running on this server');
    return this.goals;
  }

  private feedbackRef(): ActorRef<FeedbackProtocol> {
    if (!this.feedback) throw errors.unavailable('feedback is not running on this server');
    return this.feedback;
  }

  private jobsRef(): ActorRef<JobsProtocol> {
    if (!this.jobs) throw errors.jobsDisabled();
    return this.jobs;
  }

  /** With feedback.recordInferences, each served answer goes to the feedback actor's (bounded, in-memory) record. */
  private recorded(env: Envelope<RouterProtocol, 'infer'>, served: Promise<InferResult>): Promise<InferResult> {
    if (!this.recordInferences) return served;
    // Checked by infer() before this runs; a chat is recorded as its JSON.
    const req = env.msg.request;
    const prompt = req.prompt ?? JSON.stringify(req.messages);
    return served.then((res) => {
      try {
        this.feedback!.tell({ kind: 'inferred', requestId: res.requestId, model: res.model, prompt, text: res.text });
      } catch {
        /* its mailbox is full: this answer is not in the record (feedback by request id will say so) */
      }
      return res;
    });
  }

  private infer(env: Envelope<RouterProtocol, 'infer'>): Promise<InferResult> {
    // Validated as the client spelled it at the wire's edge (src/transports/operations.ts); the rules across fields
    // are checked here, once for every transport, naming the fields as every wire spells them.
    const r = env.msg.request;
    if ((r.prompt === undefined) === (r.messages === undefined)) {
      throw errors.invalidArgument(
        r.prompt === undefined ? 'prompt' : 'messages',
        'send exactly one of prompt (a text to continue) and messages (a chat)',
      );
    }
    if (r.maxTokens === 0)
      throw errors.invalidArgument(
        'max_tokens',
        'is 0, which generates nothing; send 1 or more, or -1 for the rest of the context',
      );
    checkToolUse(r);
    const promptBytes = inputBytes(r);
    if (promptBytes > this.promptLimit) {
      throw errors.invalidArgument(
        'prompt',
        `is ${promptBytes} bytes; the limit is ${this.promptLimit} (limits.maxPromptBytes); shorten it`,
      );
    }
    // The alias is resolved once, here: a hot swap switches it between two requests, never during one.
    const name = this.routes.resolve(r.model);
    const route = this.routes.lookup(name);
    const servable = route && (route.state === 'loaded' || route.state === 'loading');
    const onDemand = !r.requireLoaded && this.catalog.isRegistered(name);
    // What the request may wait for its model, from now (docs/models.md, "Two models that do not fit together").
    const waitUntil = Date.now() + this.config.lifecycle.maxWaitMs;
    // A model draining for a swap is sent no new request that may wait: it waits for the model's reload instead.
    if (servable && !(onDemand && this.catalog.draining?.(name))) {
      if (!onDemand) return this.dispatch(env, r, name);
      return this.rerouted(env, r, name, this.dispatch(env, r, name), REROUTES, waitUntil);
    }
    if (!onDemand) throw this.notServable(r.model, name);
    return this.rerouted(env, r, name, this.loadThenDispatch(env, r, name, waitUntil), REROUTES, waitUntil);
  }

  /**
   * Embeddings: the model (or alias) as inference finds it — loaded on demand when registered — then its device's
   * queue (actors/device/device-actor.ts embed). Not counted in sentTo: the device's own bound refuses past its queue.
   */
  private async embed(env: Envelope<RouterProtocol, 'embed'>): Promise<EmbedResult> {
    const r = validate(EmbedRequest, env.msg.request);
    // limits.maxPromptBytes bounds each text, as it bounds one prompt: each is embedded on its own, one after another,
    // so a batch of short texts (OpenAI takes 2,048) is not refused for their sum. The batch is bounded by its count
    // (MAX_EMBED_INPUTS) and the transport's message size (rest.maxBodyBytes).
    r.input.forEach((text, i) => {
      const bytes = Buffer.byteLength(text, 'utf8');
      if (bytes > this.promptLimit)
        throw errors.invalidArgument(
          `input[${i}]`,
          `is ${bytes} bytes; each text may have at most ${this.promptLimit} (limits.maxPromptBytes); split it`,
        );
    });
    const name = this.routes.resolve(r.model);
    const waitUntil = Date.now() + this.config.lifecycle.maxWaitMs;
    const ask = async (): Promise<EmbedResult> => {
      const route = this.routes.lookup(name);
      const draining = !r.require_loaded && this.catalog.draining?.(name);
      if (!route || (route.state !== 'loaded' && route.state !== 'loading') || draining) {
        if (r.require_loaded || !this.catalog.isRegistered(name)) throw this.notServable(r.model, name);
        await this.waitForModel(env, r.model, name, waitUntil);
      }
      const loaded = this.routes.lookup(name);
      const device = loaded && this.devices.get(loaded.device);
      if (!device) throw errors.modelNotFound(r.model, this.routes.names());
      return device.ask(
        { kind: 'embed', model: name, texts: r.input },
        { timeoutMs: Math.max(1, env.deadline - Date.now()), signal: env.signal },
      );
    };
    // As for inference: a model that left its device just after its route was read is loaded again, once.
    return ask().catch((err) => {
      if (
        toMocError(err).code !== 'MOC_ERR_MODEL_NOT_FOUND' ||
        env.signal.aborted ||
        r.require_loaded ||
        !this.catalog.isRegistered(name)
      )
        throw err;
      return ask();
    });
  }

  /**
   * The model may leave its device after its route was read (keep-alive expiry, eviction, an unload: the route table
   * follows the device's notices). The device answers NOT_FOUND then, before any token, and the request is served as
   * one arriving a moment later would be: the model loads on demand. With a keep-alive of 0 the model may expire
   * again between that load and the request's arrival, so this is tried a few times, not once.
   */
  private rerouted(
    env: Envelope<RouterProtocol, 'infer'>,
    r: Inference,
    name: string,
    attempt: Promise<InferResult>,
    left: number,
    waitUntil: number,
  ): Promise<InferResult> {
    return attempt.catch((err) => {
      if (
        left === 0 ||
        toMocError(err).code !== 'MOC_ERR_MODEL_NOT_FOUND' ||
        env.signal.aborted ||
        !this.catalog.isRegistered(name)
      )
        throw err;
      return this.rerouted(env, r, name, this.loadThenDispatch(env, r, name, waitUntil), left - 1, waitUntil);
    });
  }

  /** Load on demand (coalesced with any load of the same model), then run. */
  private loadThenDispatch(
    env: Envelope<RouterProtocol, 'infer'>,
    r: Inference,
    name: string,
    waitUntil: number,
  ): Promise<InferResult> {
    if (this.waitingForLoad >= this.capacity)
      return Promise.reject(errors.busy('requests waiting for a model to load', this.capacity, 500));
    this.waitingForLoad++;
    this.waitingForLoadOf.set(name, (this.waitingForLoadOf.get(name) ?? 0) + 1);
    return this.waitForModel(env, r.model, name, waitUntil)
      .finally(() => {
        this.waitingForLoad--;
        const left = this.waitingForLoadOf.get(name)! - 1;
        if (left > 0) this.waitingForLoadOf.set(name, left);
        else this.waitingForLoadOf.delete(name);
      })
      .then(() => this.dispatch(env, r, name));
  }

  /**
   * The load on demand a request waits for, through a pending swap if need be, until its deadline or `waitUntil`
   * (lifecycle.maxWaitMs after it arrived), whichever comes first: past the latter, MOC_ERR_MODEL_WAIT_EXCEEDED.
   */
  private async waitForModel(
    env: Envelope<RouterProtocol, 'infer' | 'embed'>,
    asked: string,
    name: string,
    waitUntil: number,
  ): Promise<void> {
    const start = Date.now();
    const bounded = waitUntil < env.deadline;
    try {
      await this.lifecycle.ask(
        { kind: 'ensure', name, forRequest: true },
        { timeoutMs: Math.max(1, Math.min(env.deadline, waitUntil) - start), signal: env.signal },
      );
    } catch (err) {
      if (!bounded || env.signal.aborted || toMocError(err).code !== 'MOC_ERR_DEADLINE_EXCEEDED') throw err;
      const waited = Date.now() - waitUntil + this.config.lifecycle.maxWaitMs;
      throw errors.modelWaitExceeded(asked, waited, this.holders());
    }
  }

  /** What holds the devices' memory, as a wait's refusal names it. */
  private holders(): string {
    return this.config.devices
      .flatMap((d) =>
        this.routes.onDevice(d.id).map((m) => {
          const busy = m.inFlight + m.queued > 0 ? ', busy' : '';
          const draining = this.catalog.draining?.(m.name) ? ', draining' : '';
          return `${m.name} on ${d.id} (${m.state}${busy}${draining})`;
        }),
      )
      .join(', ');
  }

  /** Not loaded and not to be loaded on demand: unregistered (register it), or require_loaded (load it). */
  private notServable(asked: string, name: string) {
    return this.catalog.isRegistered(name)
      ? errors.modelNotFound(asked, this.routes.names())
      : errors.modelUnknown(asked, this.routes.names());
  }

  /** Whose prompt cache a request of `caller` uses (docs/models.md): none when off, one scope for all when shared. */
  private cacheScope(caller: string | undefined): { cacheScope?: string } {
    const c = this.config.promptCache;
    if (!c.enabled) return {};
    // Prefixed, so that no caller's name (a JWT subject is anything) can be the shared scope.
    return { cacheScope: c.scope === 'shared' ? 'shared' : `caller:${caller ?? 'open'}` };
  }

  private dispatch(env: Envelope<RouterProtocol, 'infer'>, r: Inference, name: string): Promise<InferResult> {
    const route = this.routes.lookup(name);
    if (!route) return Promise.reject(errors.modelNotFound(r.model, this.routes.names()));
    const device = this.devices.get(route.device);
    if (!device) return Promise.reject(errors.internal(`route to unknown device ${route.device}`));
    const maxQueue = this.maxQueue.get(route.device) ?? Infinity;
    const sent = this.sentTo.get(name) ?? 0;
    // The device's own refusal, word for word (actors/device/device-actor.ts admit).
    if (sent >= route.sequences + maxQueue)
      return Promise.reject(errors.busy(`queue of model ${name} on ${route.device}`, maxQueue, 50));
    this.sentTo.set(name, sent + 1);
    // The request goes on as it came (a field the router does not know passes through), with what the router decides.
    const { requireLoaded: _routerOnly, cachePrompt: _scoped, ...request } = r;
    return device
      .ask(
        {
          ...request,
          kind: 'infer',
          requestId: r.requestId || `moc-${process.pid}-${++this.requestSeq}`,
          ...(env.msg.traceId ? { traceId: env.msg.traceId } : {}),
          model: name,
          maxTokens: r.maxTokens ?? this.config.limits.defaultMaxTokens,
          temperature: r.temperature ?? DEFAULT_TEMPERATURE,
          stop: r.stop ?? [],
          priority: r.priority ?? 0,
          stream: env.msg.stream,
          ...(r.cachePrompt === false ? {} : this.cacheScope(env.msg.caller)),
        },
        {
          timeoutMs: Math.max(1, env.deadline - Date.now()),
          signal: env.signal,
          ...(env.msg.stream ? { onEvent: (e: { kind: 'token'; text: string }) => env.emit(e) } : {}),
        },
      )
      .finally(() => {
        const left = this.sentTo.get(name)! - 1;
        if (left > 0) this.sentTo.set(name, left);
        else this.sentTo.delete(name);
      });
  }

  private async deviceViews(timeoutMs: number): Promise<DeviceView[]> {
    return Promise.all(
      this.config.devices.map(async (d): Promise<DeviceView> => {
        const ref = this.devices.get(d.id)!;
        try {
          const s = await ref.ask({ kind: 'status' }, { timeoutMs: Math.min(timeoutMs, 5000) });
          // Paths relative to the models root, as clients registered them (no server filesystem layout in answers).
          const models = s.models.map((m) => ({ ...m, path: path.relative(this.config.modelsRoot, m.path) }));
          return { ...s, models, mailboxDepth: ref.depth, available: true };
        } catch {
          // A restarting device still shows its budget and what it is expected to bring back.
          const reservations = this.catalog.desiredReservations?.(d.id) ?? []; // held again once it is back
          const reserved = this.routes.reservedOn(d.id) + reservations.reduce((s, r) => s + r.bytes, 0);
          return {
            id: d.id,
            kind: d.kind,
            threads: d.threads,
            models: this.routes
              .onDevice(d.id)
              .map((m) => ({ ...m, path: path.relative(this.config.modelsRoot, m.path) })),
            memory: { hardLimit: d.memory, softLimit: d.softLimit, reserved, free: d.memory - reserved },
            reservations,
            engine: { pid: 0, state: 'restarting', restarts: 0 },
            mailboxDepth: ref.depth,
            available: false,
          };
        }
      }),
    );
  }
}
