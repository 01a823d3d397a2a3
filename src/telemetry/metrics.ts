/**
 * Every metric MOC exports, declared here and nowhere else (docs/metrics.md lists each with its meaning and labels).
 * One Registry per Coordinator (tests run several in one process), served as Prometheus text on `GET /metrics`.
 *
 * Two kinds: counters and histograms observed as things happen on the main thread (requests, inferences, commits,
 * restarts), which never go backwards because nothing in a worker holds them; and gauges read at scrape time from the
 * sources that own the state (device statuses, the store), so a scrape never shows a stale copy.
 *
 * Label cardinality is bounded: transport (3), operation (the operation table), code (the error table), model
 * (the catalog), device (the config), state (the enums). Never a request id, a prompt, a key or a job id.
 */
import { statSync } from 'node:fs';
import client from 'prom-client';
import type { ModelView, DeviceView, InferResult } from '../../schemas/messages.js';
import type { JobSummary } from '../store/work-store.js';
import type { GoalState } from '../../schemas/goals.js';
import { LoopLag } from './loop-lag.js';
import { RequestStats } from './request-stats.js';
import { modelLoads, registerGatewayGauges } from './gateway-gauges.js';

/**
 * Seconds, for whole requests and queue waits: LLM requests span 5 ms (a cached short answer) to minutes (a long
 * generation, a model load under way); these edges follow vLLM's e2e and queue buckets, trimmed to 15.
 */
export const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120];
/** Seconds, per token (time to first token, between tokens): 1 ms (tiny model, CPU) to 2.5 s (a GPU under load). */
export const TOKEN_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5];
/** Seconds, for a model load (read, map, allocate): 50 ms (the demo model) to 5 min (tens of GB from disk). */
export const LOAD_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Seconds, for a job's run: an evaluation of a few lines (0.1 s) to a fine-tune of hours. */
export const JOB_BUCKETS = [0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200, 14400, 43200];
/** Seconds, for an LMDB commit as a writer waits for it (batched, one fsync per batch): 0.1 ms to 1 s. */
export const COMMIT_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

export type Transport = 'grpc' | 'rest' | 'zmq';

/** What the scrape-time gauges read. Each may throw or time out: the gauge is then left out of that scrape. */
export interface MetricsSources {
  /** Every device as GetDevices shows it (asks each device thread; a restarting one shows available false). */
  devices(): Promise<DeviceView[]>;
  /** Every model as ListModels shows it. */
  models(): Promise<ModelView[]>;
  /** The store's active jobs (queued, running, retrying), when jobs are enabled. */
  activeJobs?(): Map<string, JobSummary>;
  /** Every goal's state, when jobs are enabled. */
  goalStates?(): GoalState[];
  /** The LMDB data file (its size is the store's footprint on disk). */
  storeFile?: string;
  /** Every actor's mailbox, by name (main-thread actors and the device refs): depth now, refusals since start. */
  mailboxes?: () => Array<{ actor: string; depth: number; refused: number }>;
  /** Readiness as /health/ready answers it. */
  ready?: () => boolean;
  /** Inferences waiting at the router for their model to load, per model (the router's count). */
  waitingForLoad?: () => ReadonlyMap<string, number>;
}

const JOB_STATES = ['queued', 'running', 'retrying'] as const;
const GOAL_STATES: GoalState[] = ['pending', 'active', 'achieved', 'failed', 'cancelled'];
const MODEL_STATES = ['registered', 'loading', 'loaded', 'unloading', 'failed'] as const;

interface Snapshot {
  devices: Promise<DeviceView[] | null>;
  models: Promise<ModelView[] | null>;
}

export class Metrics {
  readonly registry = new client.Registry();

  // ---- requests, every transport: moc_requests_total and moc_request_duration_seconds (./request-stats.ts) ----
  private readonly requestStats = new RequestStats(this.registry, REQUEST_BUCKETS, {
    count: 'moc_requests_total',
    countHelp: 'Requests answered, by transport, operation and outcome code (OK or an MOC_ERR_* code)',
    duration: 'moc_request_duration_seconds',
    durationHelp: 'Time from a request reaching the operation table to its answer (end to end inside MOC)',
  });

  // ---- inference ----
  readonly queueSeconds = new client.Histogram({
    name: 'moc_infer_queue_duration_seconds',
    help: "Time an inference waited in its model's queue on the device for a free sequence",
    labelNames: ['model'] as const,
    buckets: REQUEST_BUCKETS,
    registers: [this.registry],
  });
  readonly computeSeconds = new client.Histogram({
    name: 'moc_infer_compute_duration_seconds',
    help: 'Time an inference ran on its sequence (prompt evaluation and generation)',
    labelNames: ['model'] as const,
    buckets: REQUEST_BUCKETS,
    registers: [this.registry],
  });
  readonly firstTokenSeconds = new client.Histogram({
    name: 'moc_time_to_first_token_seconds',
    help: 'Queue wait plus the time to the first generated token',
    labelNames: ['model'] as const,
    buckets: TOKEN_BUCKETS,
    registers: [this.registry],
  });
  readonly interTokenSeconds = new client.Histogram({
    name: 'moc_inter_token_latency_seconds',
    help: 'Mean time between generated tokens of one inference (after the first)',
    labelNames: ['model'] as const,
    buckets: TOKEN_BUCKETS,
    registers: [this.registry],
  });
  readonly promptTokens = new client.Counter({
    name: 'moc_prompt_tokens_total',
    help: 'Prompt tokens of finished inferences (those found in the prompt cache included)',
    labelNames: ['model'] as const,
    registers: [this.registry],
  });
  /** vLLM's prefix_cache_queries / prefix_cache_hits, in tokens: their ratio is the prompt cache's hit rate. */
  readonly prefixCacheQueries = new client.Counter({
    name: 'moc_prefix_cache_queries_total',
    help: 'Prompt tokens looked up in the prompt cache',
    labelNames: ['model'] as const,
    registers: [this.registry],
  });
  readonly prefixCacheHits = new client.Counter({
    name: 'moc_prefix_cache_hits_total',
    help: 'Prompt tokens found in the prompt cache (not evaluated again)',
    labelNames: ['model'] as const,
    registers: [this.registry],
  });
  readonly generatedTokens = new client.Counter({
    name: 'moc_generated_tokens_total',
    help: 'Tokens generated',
    labelNames: ['model'] as const,
    registers: [this.registry],
  });

  // ---- supervision, store ----
  readonly restarts = new client.Counter({
    name: 'moc_actor_restarts_total',
    help: 'Actors restarted by their supervisor (a device worker thread), by actor and reason',
    labelNames: ['actor', 'reason'] as const,
    registers: [this.registry],
  });
  readonly actorCrashes = new client.Counter({
    name: 'moc_actor_crashes_total',
    help: "Non-coded errors out of a main-thread actor's receive (a bug; past the restart intensity the process escalates), by actor",
    labelNames: ['actor'] as const,
    registers: [this.registry],
  });
  readonly droppedErrors = new client.Counter({
    name: 'moc_dropped_errors_total',
    help: 'Errors of background work nobody waits for (src/telemetry/dropped.ts lists the sites), by where',
    labelNames: ['where'] as const,
    registers: [this.registry],
  });
  readonly engineRestarts = new client.Counter({
    name: 'moc_engine_restarts_total',
    help: 'Engine processes that died and were restarted by their device, by device and reason (killed by SIGKILL, exited with code N)',
    labelNames: ['device', 'reason'] as const,
    registers: [this.registry],
  });
  readonly loads = new client.Counter({
    name: 'moc_model_loads_total',
    help: 'Model loads by result (OK or the MOC_ERR_* code it failed with)',
    labelNames: ['model', 'result'] as const,
    registers: [this.registry],
  });
  readonly loadSeconds = new client.Histogram({
    name: 'moc_model_load_duration_seconds',
    help: "Time a model load took: placement, eviction, the engine's load",
    labelNames: ['model'] as const,
    buckets: LOAD_BUCKETS,
    registers: [this.registry],
  });
  readonly evictions = new client.Counter({
    name: 'moc_model_evictions_total',
    help: 'Models unloaded to make room (lru) or because their keep-alive passed (keep-alive)',
    labelNames: ['model', 'reason'] as const,
    registers: [this.registry],
  });
  readonly jobRunSeconds = new client.Histogram({
    name: 'moc_job_run_duration_seconds',
    help: 'Jobs this process ran to their end, by type and final state: time of their last attempt',
    labelNames: ['type', 'state'] as const,
    buckets: JOB_BUCKETS,
    registers: [this.registry],
  });
  readonly commitSeconds = new client.Histogram({
    name: 'moc_store_commit_duration_seconds',
    help: 'Time a store write waited for its LMDB commit (acknowledgements wait for this)',
    buckets: COMMIT_BUCKETS,
    registers: [this.registry],
  });

  private readonly sources: MetricsSources;
  private snapshot: Snapshot | null = null;
  /** The main thread's event-loop lag (each device thread measures its own: DeviceStatus.eventLoopLag). */
  private readonly loopLag = new LoopLag();

  constructor(sources: MetricsSources) {
    client.collectDefaultMetrics({ register: this.registry });
    const reg = [this.registry];

    // Devices and models: read from their owners once per scrape (text() starts the reads; every gauge of that scrape
    // shares them). A read that fails leaves its gauges out of that scrape rather than failing the whole scrape.
    this.sources = sources;
    const snapshot = () => this.snapshot ?? this.read();
    const perDevice = (
      name: string,
      help: string,
      labelNames: string[],
      fill: (g: client.Gauge, d: DeviceView) => void,
    ) =>
      new client.Gauge({
        name,
        help,
        labelNames,
        registers: reg,
        async collect() {
          const list = await snapshot().devices;
          if (!list) return;
          this.reset();
          for (const d of list) fill(this, d);
        },
      });
    perDevice(
      'moc_device_memory_bytes',
      "A device's memory ledger: hard_limit, soft_limit, reserved (models and jobs), free",
      ['device', 'kind'],
      (g, d) => {
        g.set({ device: d.id, kind: 'hard_limit' }, d.memory.hardLimit);
        g.set({ device: d.id, kind: 'soft_limit' }, d.memory.softLimit);
        g.set({ device: d.id, kind: 'reserved' }, d.memory.reserved);
        g.set({ device: d.id, kind: 'free' }, d.memory.free);
      },
    );
    const mainLag = this.loopLag;
    new client.Gauge({
      name: 'moc_event_loop_lag_seconds',
      help: 'How late timers fire on a thread (main, device:<id>): p99 and max over the last 10 s window',
      labelNames: ['thread', 'stat'],
      registers: reg,
      async collect() {
        const main = mainLag.read();
        this.reset();
        this.set({ thread: 'main', stat: 'p99' }, main.p99Ms / 1000);
        this.set({ thread: 'main', stat: 'max' }, main.maxMs / 1000);
        for (const d of (await snapshot().devices) ?? []) {
          if (!d.eventLoopLag) continue; // restarting
          this.set({ thread: `device:${d.id}`, stat: 'p99' }, d.eventLoopLag.p99Ms / 1000);
          this.set({ thread: `device:${d.id}`, stat: 'max' }, d.eventLoopLag.maxMs / 1000);
        }
      },
    });
    perDevice('moc_device_up', "1 while a device's worker answers, 0 while it restarts", ['device'], (g, d) =>
      g.set({ device: d.id }, d.available ? 1 : 0),
    );
    perDevice(
      'moc_device_mailbox_depth',
      'Messages waiting for a device thread (its bounded mailbox)',
      ['device'],
      (g, d) => g.set({ device: d.id }, d.mailboxDepth),
    );
    perDevice('moc_device_job_reserved_bytes', 'Memory held on a device for running jobs', ['device'], (g, d) =>
      g.set(
        { device: d.id },
        d.reservations.reduce((s, r) => s + r.bytes, 0),
      ),
    );
    perDevice('moc_model_in_flight', "Inferences running on a model's sequences now", ['model', 'device'], (g, d) => {
      for (const m of d.models) g.set({ model: m.name, device: d.id }, m.inFlight);
    });
    perDevice(
      'moc_model_queued',
      "Inferences waiting in a model's queue for a sequence",
      ['model', 'device'],
      (g, d) => {
        for (const m of d.models) g.set({ model: m.name, device: d.id }, m.queued);
      },
    );
    perDevice(
      'moc_kv_cache_usage_ratio',
      "Tokens a model's sequences hold (the prompt cache) over what they can hold, after its last generation (vLLM's kv_cache_usage_perc)",
      ['model', 'device'],
      (g, d) => {
        for (const m of d.models)
          if (m.kvCacheUsage !== undefined) g.set({ model: m.name, device: d.id }, m.kvCacheUsage);
      },
    );
    perDevice(
      'moc_model_memory_bytes',
      "A model's memory on its device: reserved (the ledger) and actual (what the engine reported)",
      ['model', 'device', 'kind'],
      (g, d) => {
        for (const m of d.models) {
          g.set({ model: m.name, device: d.id, kind: 'reserved' }, m.reservedBytes);
          g.set({ model: m.name, device: d.id, kind: 'actual' }, m.actualBytes);
        }
      },
    );
    // What a model-aware gateway reads (./gateway-gauges.ts): per registered model, from both reads and the router.
    const waitingForLoad = sources.waitingForLoad ?? (() => new Map<string, number>());
    registerGatewayGauges(reg, async () => {
      const [devices, models] = await Promise.all([snapshot().devices, snapshot().models]);
      return devices && models ? modelLoads(devices, models, waitingForLoad()) : null;
    });
    new client.Gauge({
      name: 'moc_models',
      help: 'Registered models by state',
      labelNames: ['state'],
      registers: reg,
      async collect() {
        const list = await snapshot().models;
        if (!list) return;
        this.reset();
        for (const s of MODEL_STATES) this.set({ state: s }, 0);
        for (const m of list) this.inc({ state: m.state });
      },
    });
    new client.Gauge({
      name: 'moc_model_breaker_open',
      help: "1 while a model's load circuit breaker refuses loads (repeated load failures)",
      labelNames: ['model'],
      registers: reg,
      async collect() {
        const list = await snapshot().models;
        if (!list) return;
        this.reset();
        for (const m of list) this.set({ model: m.name }, m.breaker === 'open' ? 1 : 0);
      },
    });

    if (sources.activeJobs) {
      const read = sources.activeJobs;
      new client.Gauge({
        name: 'moc_jobs',
        help: 'Jobs not yet ended in the store, by state (the whole data directory: every process on it reports the same)',
        labelNames: ['state'],
        registers: reg,
        collect() {
          const counts = new Map<string, number>(JOB_STATES.map((s) => [s, 0]));
          for (const j of read().values()) counts.set(j.state, (counts.get(j.state) ?? 0) + 1);
          for (const [state, n] of counts) this.set({ state }, n);
        },
      });
    }
    if (sources.goalStates) {
      const read = sources.goalStates;
      new client.Gauge({
        name: 'moc_goals',
        help: 'Goals in the store by state',
        labelNames: ['state'],
        registers: reg,
        collect() {
          const counts = new Map<string, number>(GOAL_STATES.map((s) => [s, 0]));
          for (const s of read()) counts.set(s, (counts.get(s) ?? 0) + 1);
          for (const [state, n] of counts) this.set({ state }, n);
        },
      });
    }
    if (sources.mailboxes) {
      const read = sources.mailboxes;
      new client.Gauge({
        name: 'moc_actor_mailbox_depth',
        help: "Messages waiting in an actor's bounded mailbox (and internal queue)",
        labelNames: ['actor'],
        registers: reg,
        collect() {
          for (const m of read()) this.set({ actor: m.actor }, m.depth);
        },
      });
      new client.Counter({
        name: 'moc_actor_busy_rejections_total',
        help: 'Messages an actor refused because its mailbox was full (MOC_ERR_BUSY)',
        labelNames: ['actor'],
        registers: reg,
        // Read from the actor's own count (never reset while the process lives), so it only goes up.
        collect() {
          this.reset();
          for (const m of read()) this.inc({ actor: m.actor }, m.refused);
        },
      });
    }
    if (sources.ready) {
      const read = sources.ready;
      new client.Gauge({
        name: 'moc_ready',
        help: '1 while /health/ready (and gRPC health) says ready, 0 when not: alert on how often it flips',
        registers: reg,
        collect() {
          this.set(read() ? 1 : 0);
        },
      });
    }
    if (sources.storeFile) {
      const file = sources.storeFile;
      new client.Gauge({
        name: 'moc_store_file_bytes',
        help: 'Size of the LMDB data file (jobs, goals, feedback, catalog, event log)',
        registers: reg,
        collect() {
          try {
            this.set(statSync(file).size);
          } catch {
            /* not there yet */
          }
        },
      });
    }
  }

  /** An answered request (any outcome). `code` is 'OK' or the MOC_ERR_* code it was answered with. */
  request(transport: Transport, operation: string, code: string, seconds: number): void {
    this.requestStats.observe(transport, operation, code, seconds);
  }

  /** What the Lifecycle tells of loads and evictions (LifecycleObserver). */
  lifecycleObserver() {
    return {
      loadEnded: (model: string, result: string, seconds: number) => {
        this.loads.inc({ model, result });
        this.loadSeconds.observe({ model }, seconds);
      },
      evicted: (model: string, reason: 'lru' | 'keep-alive') => this.evictions.inc({ model, reason }),
    };
  }

  /** A finished inference, from the device's own timings. */
  inference(
    r: Pick<
      InferResult,
      'model' | 'queueMs' | 'computeMs' | 'firstTokenMs' | 'promptTokens' | 'cachedTokens' | 'tokensGenerated'
    >,
  ): void {
    const model = r.model;
    this.queueSeconds.observe({ model }, r.queueMs / 1000);
    this.computeSeconds.observe({ model }, r.computeMs / 1000);
    this.promptTokens.inc({ model }, r.promptTokens);
    this.prefixCacheQueries.inc({ model }, r.promptTokens);
    this.prefixCacheHits.inc({ model }, r.cachedTokens);
    this.generatedTokens.inc({ model }, r.tokensGenerated);
    if (r.tokensGenerated > 0 && r.firstTokenMs >= 0) {
      this.firstTokenSeconds.observe({ model }, (r.queueMs + r.firstTokenMs) / 1000);
      if (r.tokensGenerated > 1)
        this.interTokenSeconds.observe({ model }, (r.computeMs - r.firstTokenMs) / (r.tokensGenerated - 1) / 1000);
    }
  }

  close(): Promise<void> {
    this.loopLag.close();
    return Promise.resolve();
  }
  destroy(): Promise<void> {
    return this.close();
  }

  /** Prometheus text exposition of everything above. Concurrent scrapes share one read of devices and models. */
  async text(): Promise<{ contentType: string; body: string }> {
    const own = this.snapshot === null;
    if (own) this.snapshot = this.read();
    try {
      return { contentType: this.registry.contentType, body: await this.registry.metrics() };
    } finally {
      if (own) this.snapshot = null;
    }
  }

  private read(): Snapshot {
    // A read that fails leaves its gauges out of this scrape (see the constructor): the scrape shows the gap.
    return { devices: this.sources.devices().catch(() => null), models: this.sources.models().catch(() => null) };
  }
}
