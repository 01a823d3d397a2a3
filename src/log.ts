/**
 * Structured log: one JSON object per line on stderr, `event` names a thing that happened (declared in EVENTS so
 * operators can grep and alert on a fixed vocabulary). Never pass secrets (API keys, prompts) as fields.
 */
export const EVENTS = [
  'server.listening', 'server.stopping', 'server.stopped', 'server.escalated', 'config.invalid',
  'model.demo_ready', 'model.preload_failed', 'model.preloaded',
  'device.restarted', 'actor.crashed', 'lifecycle.notice_lost', 'rest.internal_error', 'rest.slow_reader',
  'zmq.client_refused', 'zmq.receive_failed', 'zmq.reply_undeliverable',
] as const;
export type LogEvent = (typeof EVENTS)[number];
export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger { log(level: Level, event: LogEvent, fields?: Record<string, unknown>): void }

export function createLogger(minLevel: Level = (process.env.MOC_LOG_LEVEL as Level) || 'info'): Logger {
  const min = ORDER[minLevel] ?? ORDER.info;
  return {
    log(level, event, fields = {}) {
      if (ORDER[level] < min) return;
      process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level, event, ...fields }) + '\n');
    },
  };
}

export const silentLogger: Logger = { log() {} };
