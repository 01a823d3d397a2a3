/**
 * Entry of the engine child process. One per device, forked by the device actor with CUDA_VISIBLE_DEVICES pinned on
 * GPU hosts. It exists so a native abort inside llama.cpp (node-llama-cpp #551) kills this process, not the
 * coordinator: the device actor sees the exit, fails what was running as retryable, and starts a new engine.
 *
 *   device worker ──IPC: estimate/load/unload/generate/evaluate/cancel──▶ engine process (EngineCore)
 *                 ◀──────── result/error/token ─────────────────┘
 */
import { errors, toMocError } from '../../src/errors.js';
import { EngineCore } from './engine-core.js';
import { createLogger } from '../../src/log.js';
import {
  LOAD_PROGRESS_STEP,
  type OnPiece,
  type EngineKind,
  type EngineReply,
  type EngineRequest,
  type EngineResult,
  type EngineStart,
  type GenerateOutcome,
  type GenerateParams,
} from './engine-protocol.js';

if (!process.send) throw new Error('engine-process must be started with an IPC channel (child_process.fork)');

const send = (r: EngineReply) => {
  if (process.connected) process.send!(r);
};
/** The answer to `req`, its value checked against the reply of req's kind (EngineProtocol). */
const result = <K extends EngineKind>(req: { t: K; id: number }, value: NoInfer<EngineResult<K>>) =>
  send({ t: 'result', id: req.id, value });
const start: EngineStart = JSON.parse(
  process.env.MOC_ENGINE_START ?? '{"device":"cpu0","threads":1,"gpu":"cpu","log":{"level":"info","sensitive":false}}',
);
// Its own lines on the stderr it shares with the coordinator, marked with the device and this process.
const log = createLogger(start.log.level, {
  sensitive: start.log.sensitive,
  bindings: { device: start.device, engine_pid: process.pid },
});
/** Requests that a cancel can stop, with what a cancelled one is called in its CANCELLED answer. */
const running = new Map<number, { ac: AbortController; what: string }>();
let core: EngineCore;

// The parent going away (device worker crashed or was terminated) must not leave an orphan holding memory.
process.on('disconnect', () => process.exit(0));

async function handle(req: EngineRequest): Promise<void> {
  switch (req.t) {
    case 'estimate':
    case 'load': {
      // Cancellable like a generation: the device cancels a load whose timeout passed (see EngineCore.load).
      const ac = new AbortController();
      running.set(req.id, { ac, what: req.t });
      try {
        let sent = 0;
        const onProgress = (f: number) => {
          if (f - sent < LOAD_PROGRESS_STEP || f >= 1) return; // 1 is the answer itself
          sent = f;
          send({ t: 'progress', id: req.id, fraction: f });
        };
        if (req.t === 'load') return result(req, await core.load(req.spec, ac.signal, onProgress));
        return result(req, await core.estimate(req.spec, ac.signal));
      } finally {
        running.delete(req.id);
      }
    }
    case 'unload':
      await core.unload(req.model);
      return result(req, null);
    case 'generate': {
      const ac = new AbortController();
      running.set(req.id, { ac, what: 'generation' });
      try {
        const onText: OnPiece | undefined = req.params.stream
          ? (text, call) => send({ t: 'token', id: req.id, text, ...(call ? { call } : {}) })
          : undefined;
        const value = await core.generate(req.params, ac.signal, onText).catch((err) => {
          generationLine(req.params, toMocError(err).code);
          throw err;
        });
        generationLine(req.params, 'OK', value);
        return result(req, value);
      } finally {
        running.delete(req.id);
      }
    }
    case 'evaluate': {
      const ac = new AbortController();
      running.set(req.id, { ac, what: 'evaluation' });
      try {
        return result(req, await core.evaluate(req.params, ac.signal));
      } finally {
        running.delete(req.id);
      }
    }
    case 'embed': {
      const ac = new AbortController();
      running.set(req.id, { ac, what: 'embedding' });
      try {
        return result(req, await core.embed(req.params, ac.signal));
      } finally {
        running.delete(req.id);
      }
    }
    case 'cancel': {
      const r = running.get(req.id);
      r?.ac.abort(errors.cancelled(r.what));
      return;
    }
    case 'abort':
      process.abort(); // never returns
      break;
    default:
      throw new Error(`engine: unknown request ${JSON.stringify(req)}`);
  }
}

/** Debug: the engine's part of a request, under the ids of the coordinator's `request` line (docs/logging.md). */
function generationLine(p: GenerateParams, code: string, o?: GenerateOutcome): void {
  if (!log.enabled?.('debug')) return;
  log.log('debug', 'engine.generation', {
    model: p.model,
    code,
    ...(p.requestId ? { request_id: p.requestId } : {}),
    ...(p.traceId ? { trace_id: p.traceId } : {}),
    ...(o
      ? {
          prompt_tokens: o.promptTokens,
          cached_tokens: o.cachedTokens,
          tokens: o.tokensGenerated,
          compute_ms: Math.round(o.computeMs * 10) / 10,
          finish_reason: o.finishReason,
        }
      : {}),
  });
}

core = await EngineCore.create(start);
// The device sends nothing before 'ready', so no request can arrive before the engine exists.
process.on('message', (req: EngineRequest) => {
  handle(req).catch((err) => {
    if ('id' in req) send({ t: 'error', id: req.id, error: toMocError(err).toData() });
  });
});
send({ t: 'ready', pid: process.pid });
