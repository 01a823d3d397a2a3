/**
 * Structured log: one JSON object per line on stderr, `event` names a thing that happened (declared in EVENTS so
 * operators can grep and alert on a fixed vocabulary). Line format, levels and precedence: docs/logging.md.
 *
 *   caller ── log(level, event, fields) ──> redact ──> pino (level filter, JSON) ──> Batch ──> fd 2
 *
 * Secrets and user text (prompts, keys) are removed unless `sensitive` is on (config log.sensitive).
 * Cost matters: with one `request` line per request, the line is on every request's path (docs/performance.md).
 */
import { pino, type DestinationStream } from 'pino';

export const EVENTS = [
  'server.listening',
  'server.stopping',
  'server.stopped',
  'server.escalated',
  'config.invalid',
  'model.demo_ready',
  'model.preload_failed',
  'model.preloaded',
  'device.restarted',
  'actor.crashed',
  'error.dropped',
  'lifecycle.notice_lost',
  'rest.internal_error',
  'rest.slow_reader',
  'rest.body_timeout',
  'request',
  'zmq.client_refused',
  'zmq.receive_failed',
  'zmq.reply_undeliverable',
  // a run that found its lease taken over (it stalled past it): it stops and writes nothing
  'job.fenced',
  // store.kind postgres: the follower of the shared event log could not read (once per outage) and read again
  'store.follow_failed',
  'store.follow_recovered',
  'fleet.heartbeat_failed',
  // another host's fine-tune output, found on this host's (shared) models root: registered, and promoted, here too
  'fleet.output_registered',
  'fleet.output_promoted',
  'fleet.output_not_registered',
  'fleet.heartbeat_recovered',
  // device threads and engine processes (their lines carry `device`; the engine's also `engine_pid`)
  'device.inference',
  'engine.exited',
  'engine.generation',
] as const;
export type LogEvent = (typeof EVENTS)[number];
export type Level = 'debug' | 'info' | 'warn' | 'error';
export const LEVELS: readonly Level[] = ['debug', 'info', 'warn', 'error'];

export interface Logger {
  log(level: Level, event: LogEvent, fields?: Record<string, unknown>): void;
  /** Whether a line at this level would be written: per-request debug lines skip building their fields otherwise. */
  enabled?(level: Level): boolean;
}

export interface LoggerOptions {
  /** Write prompts, texts and keys as given (config log.sensitive). Never in production. */
  sensitive?: boolean;
  /** Where lines go; default stderr (fd 2). Tests pass a stream to read what would have been written. */
  destination?: DestinationStream;
  /** Fields on every line: where it comes from (a device thread's `device`, an engine process's `engine_pid`). */
  bindings?: Record<string, unknown>;
}

/** What a device thread or an engine process needs to log as the main thread does (it cannot share its logger). */
export interface LogSettings {
  level: Level;
  sensitive: boolean;
}

/** Field names that are never written unless `sensitive` is on: user text and credentials. */
export const SENSITIVE_KEYS = ['prompt', 'text', 'key', 'apiKey', 'authorization'] as const;

export function isLevel(v: unknown): v is Level {
  return typeof v === 'string' && (LEVELS as readonly string[]).includes(v);
}

/** MOC_LOG_LEVEL, when set to a level, wins over the configured one (so one run can be made verbose without editing the file). */
export function logLevel(configured: Level = 'info', env: NodeJS.ProcessEnv = process.env): Level {
  return isLevel(env.MOC_LOG_LEVEL) ? env.MOC_LOG_LEVEL : configured;
}

const SENSITIVE = new Set<string>(SENSITIVE_KEYS);

/** The fields without the sensitive keys (top level), unless sensitive; for callers that build fields to pass on. */
export function redact(fields: Record<string, unknown>, sensitive: boolean): Record<string, unknown> {
  if (sensitive) return fields;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) if (!SENSITIVE.has(k)) out[k] = v;
  return out;
}

/**
 * The safety net whatever a caller passes: the sensitive keys at the top level and one object down (a request's
 * fields), removed. Lines without them (nearly all) are passed on as they are, without a copy. Hand-written instead of
 * pino's `redact`: its wildcard paths (`*.prompt`) cost ~4 µs a line, more than the rest of the line together.
 */
function scrub(fields: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | null = null;
  for (const k in fields) {
    const v = fields[k];
    if (SENSITIVE.has(k)) {
      out ??= { ...fields };
      delete out[k];
    } else if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const inner = v as Record<string, unknown>;
      let nested: Record<string, unknown> | null = null;
      for (const n in inner) {
        if (!SENSITIVE.has(n)) continue;
        nested ??= { ...inner };
        delete nested[n];
      }
      if (nested) (out ??= { ...fields })[k] = nested;
    }
  }
  return out ?? fields;
}

/** Every batch of this thread, flushed at exit (a worker thread's 'exit' is the thread ending). */
const batches = new Set<Batch>();

/** A batch is written once it holds this much, or LINGER_MS after its first line, whichever is first. */
const BATCH_BYTES = 64 * 1024;
const LINGER_MS = 20;

/**
 * Lines are gathered and written to fd 2 in one synchronous write per batch: a write per line cost more than the line
 * itself (a syscall per request at thousands of requests a second). Order is kept (every write is synchronous, in
 * order). A warn or error line is written at once with whatever waits before it, and everything is written at exit,
 * so a crash or process.exit right after a line (escalation, failed start) does not lose it; a kill -9 loses at most
 * the last LINGER_MS of info and debug lines.
 */
class Batch implements DestinationStream {
  private pending = '';
  private timer: NodeJS.Timeout | null = null;
  private readonly sink = pino.destination({ fd: 2, sync: true });

  constructor() {
    if (batches.size === 0)
      process.once('exit', () => {
        for (const b of batches) b.flush();
      });
    // Held as long as the process (loggers live that long); at most one per Coordinator.
    batches.add(this);
  }

  write(line: string): void {
    this.pending += line;
    if (this.pending.length >= BATCH_BYTES) return this.flush();
    // Unref'd: a pending batch never keeps a process alive (exit writes it).
    this.timer ??= setTimeout(() => this.flush(), LINGER_MS).unref();
  }

  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (!this.pending) return;
    const out = this.pending;
    this.pending = '';
    this.sink.write(out);
  }
}

/**
 * pino's isoTime builds a Date and its ISO string for every line (~1.5 µs); lines within one millisecond share one.
 */
let lastMs = 0;
let lastTime = '';
function isoTime(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastTime = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastTime;
}

/**
 * The events written once per request (at info: `request`; at debug: the device thread's and the engine's lines).
 * Their fields are flat (names, codes, numbers), so they are serialized here with one JSON.stringify into the same
 * line pino writes — `{"level","time",<bindings>,"event",<fields>}` — instead of through pino, which cost ~13 µs of
 * CPU a line inside the server against ~1 µs this way (docs/performance.md, perf/telemetry-cost.ts). Every other
 * line goes through pino.
 */
const PER_REQUEST = new Set<LogEvent>(['request', 'device.inference', 'engine.generation']);

export function createLogger(minLevel: Level = logLevel(), opts: LoggerOptions = {}): Logger {
  const batch = opts.destination ? null : new Batch();
  const out: DestinationStream = opts.destination ?? batch!;
  const p = pino(
    {
      level: isLevel(minLevel) ? minLevel : 'info',
      // No pid/hostname: one process per host's GPUs, and the supervisor (systemd, Kubernetes) already labels its lines.
      base: opts.bindings ?? undefined,
      timestamp: isoTime,
      // The level as its name: tools and alerts match "level":"error", not pino's 50.
      formatters: { level: (label) => ({ level: label }) },
    },
    out,
  );
  const sensitive = !!opts.sensitive;
  const bindings =
    opts.bindings && Object.keys(opts.bindings).length ? `,${JSON.stringify(opts.bindings).slice(1, -1)}` : '';
  return {
    log(level, event, fields = {}) {
      if (!p.isLevelEnabled(level)) return;
      const clean = sensitive ? fields : scrub(fields);
      if (PER_REQUEST.has(event)) {
        const rest = JSON.stringify(clean);
        out.write(
          `{"level":"${level}"${isoTime()}${bindings},"event":"${event}"${rest.length > 2 ? `,${rest.slice(1)}` : '}'}\n`,
        );
      } else {
        p[level]({ event, ...clean });
      }
      if (batch && (level === 'warn' || level === 'error')) batch.flush();
    },
    enabled: (level) => p.isLevelEnabled(level),
  };
}

export const silentLogger: Logger = { log() {}, enabled: () => false };
