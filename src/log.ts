/**
 * Structured log: one JSON object per line on stderr, `event` names a thing that happened (declared in EVENTS so
 * operators can grep and alert on a fixed vocabulary). Line format, levels and precedence: docs/logging.md.
 *
 *   caller ── log(level, event, fields) ──> pino (level filter, redact) ──> fd 2, written synchronously
 *
 * Secrets and user text (prompts, keys) are removed by pino's redact unless `sensitive` is on (config log.sensitive).
 */
import { pino, type DestinationStream } from 'pino';

export const EVENTS = [
  'server.listening', 'server.stopping', 'server.stopped', 'server.escalated', 'config.invalid',
  'model.demo_ready', 'model.preload_failed', 'model.preloaded',
  'device.restarted', 'actor.crashed', 'lifecycle.notice_lost', 'rest.internal_error', 'rest.slow_reader',
  'request', 'zmq.client_refused', 'zmq.receive_failed', 'zmq.reply_undeliverable',
  // device threads and engine processes (their lines carry `device`; the engine's also `engine_pid`)
  'device.inference', 'engine.exited', 'engine.generation',
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
export interface LogSettings { level: Level; sensitive: boolean }

/** Field names that are never written unless `sensitive` is on: user text and credentials. */
export const SENSITIVE_KEYS = ['prompt', 'text', 'key', 'apiKey', 'authorization'] as const;

export function isLevel(v: unknown): v is Level {
  return typeof v === 'string' && (LEVELS as readonly string[]).includes(v);
}

/** MOC_LOG_LEVEL, when set to a level, wins over the configured one (so one run can be made verbose without editing the file). */
export function logLevel(configured: Level = 'info', env: NodeJS.ProcessEnv = process.env): Level {
  return isLevel(env.MOC_LOG_LEVEL) ? env.MOC_LOG_LEVEL : configured;
}

/** The fields without the sensitive keys (top level), unless sensitive; for callers that build fields to pass on. */
export function redact(fields: Record<string, unknown>, sensitive: boolean): Record<string, unknown> {
  if (sensitive) return fields;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) if (!(SENSITIVE_KEYS as readonly string[]).includes(k)) out[k] = v;
  return out;
}

export function createLogger(minLevel: Level = logLevel(), opts: LoggerOptions = {}): Logger {
  const p = pino({
    level: isLevel(minLevel) ? minLevel : 'info',
    // No pid/hostname: one process per host's GPUs, and the supervisor (systemd, Kubernetes) already labels its lines.
    base: opts.bindings ?? undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    // The level as its name: tools and alerts match "level":"error", not pino's 50.
    formatters: { level: (label) => ({ level: label }) },
    // The safety net whatever a caller passes: the keys at the top level and one object down (e.g. a request's fields).
    ...(opts.sensitive ? {} : { redact: { paths: SENSITIVE_KEYS.flatMap((k) => [k, `*.${k}`]), remove: true } }),
  // Synchronous: a crash or process.exit right after a line (escalation, failed start) must not lose it.
  }, opts.destination ?? pino.destination({ fd: 2, sync: true }));
  return {
    log(level, event, fields = {}) {
      p[level]({ event, ...fields });
    },
    enabled: (level) => p.isLevelEnabled(level),
  };
}

export const silentLogger: Logger = { log() {}, enabled: () => false };
