/**
 * Device side of the engine child process: forks it, matches replies to requests by id, and reports its death.
 * It does not restart anything itself; the device actor decides (it owns the models to reload).
 */
import type { ChildProcess } from 'node:child_process';
import { errors, MocError } from '../../src/errors.js';
import { forkEntry, siblingEntry } from '../../src/entry.js';
import type {
  EmbedOutcome,
  EmbedParams,
  EngineCallReq,
  EngineKind,
  EngineModel,
  EngineReply,
  EngineRequest,
  EngineResult,
  EngineStart,
  Estimate,
  EvaluateOutcome,
  EvaluateParams,
  GenerateOutcome,
  GenerateParams,
  Loaded,
  OnPiece,
} from './engine-protocol.js';

interface Waiting {
  resolve(v: EngineResult<EngineKind>): void;
  reject(e: MocError): void;
  /** Resolves when the engine has answered this request (or died): see EngineCall.answered. */
  answered(): void;
  onToken?: OnPiece;
  onProgress?: (fraction: number) => void;
  timer?: NodeJS.Timeout;
  /** The caller already got DEADLINE_EXCEEDED; the engine's answer only settles `answered` (and undoes a late load). */
  late?: boolean;
  req: EngineCallReq;
}

/** What a call streams back before its result: a generation's pieces, a load's progress. */
export interface CallHooks {
  onToken?: OnPiece;
  onProgress?: (fraction: number) => void;
}

/**
 * A request in the engine. `result` settles at the engine's answer or at the timeout, whichever is first; `answered`
 * resolves only once the engine has answered (or died), so whoever counts memory for a load that timed out keeps
 * counting it until the engine has really let go.
 */
export interface EngineCall<T> {
  id: number;
  result: Promise<T>;
  answered: Promise<void>;
}

export interface EngineClientOptions {
  device: string;
  start: EngineStart;
  /** Extra environment for the child (CUDA_VISIBLE_DEVICES on GPU hosts). */
  env: Record<string, string>;
  startTimeoutMs: number;
}

/** setTimeout's ceiling: a larger value would fire after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Undoing a load that finished after its timeout: the engine frees a context in milliseconds. */
const LATE_UNLOAD_TIMEOUT_MS = 30_000;

export class EngineClient {
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private exitedWith: string | null = null;
  /** Set when the IPC channel failed before the process exited: the engine counts as dead from then on. */
  private broken: string | null = null;
  /** Called once when the process exits for any reason; the reason is human-readable. */
  onExit: (reason: string) => void = () => {};

  private constructor(
    private readonly child: ChildProcess,
    private readonly device: string,
  ) {
    child.on('message', (r: EngineReply) => this.onReply(r));
    // A send on a channel that closed before 'exit' emits 'error' (ERR_IPC_CHANNEL_CLOSED); unheard, it would crash
    // the device worker. A broken channel is the engine's death: kill it so 'exit' runs the one recovery path.
    child.on('error', (err) => this.onChannelBroken(err));
    child.once('exit', (code, signal) => {
      this.exitedWith = signal ? `killed by ${signal}` : `exited with code ${code}`;
      const err = errors.unavailable(`the engine of device ${device} ${this.exitedWith}; it is restarting`);
      for (const w of this.waiting.values()) {
        if (w.timer) clearTimeout(w.timer);
        w.reject(err);
        w.answered();
      }
      this.waiting.clear();
      this.onExit(this.exitedWith);
    });
  }

  static async start(o: EngineClientOptions): Promise<EngineClient> {
    const child = forkEntry(siblingEntry(import.meta.url, './engine-process'), {
      preload: ['node-llama-cpp'],
      env: { ...process.env, ...o.env, MOC_ENGINE_START: JSON.stringify(o.start) },
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`engine of ${o.device} did not start within ${o.startTimeoutMs} ms`));
      }, o.startTimeoutMs);
      const onMsg = (r: EngineReply) => {
        if (r.t === 'ready') {
          done();
          resolve();
        }
      };
      const onExit = (code: number | null, sig: string | null) => {
        done();
        reject(new Error(`engine of ${o.device} exited during start (${sig ?? code})`));
      };
      // A fork that fails (or a channel that breaks) during start emits 'error': without a listener it would crash.
      const onError = (err: Error) => {
        done();
        child.kill('SIGKILL');
        reject(new Error(`engine of ${o.device} failed to start: ${err.message}`));
      };
      const done = () => {
        clearTimeout(timer);
        child.off('message', onMsg);
        child.off('exit', onExit);
        child.off('error', onError);
      };
      child.on('message', onMsg);
      child.once('exit', onExit);
      child.on('error', onError);
    });
    return new EngineClient(child, o.device);
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }
  get alive(): boolean {
    return this.exitedWith === null && !this.broken;
  }

  /** Sends one frame; false (and the engine treated as dead) when the channel is gone. Never throws, never emits. */
  private send(frame: EngineRequest): boolean {
    if (!this.alive || !this.child.connected) {
      this.onChannelBroken(new Error('the IPC channel is closed'));
      return false;
    }
    try {
      // The callback receives a send that failed asynchronously instead of an 'error' event.
      this.child.send(frame, (err) => {
        if (err) this.onChannelBroken(err);
      });
      return true;
    } catch (err) {
      this.onChannelBroken(err as Error);
      return false;
    }
  }

  /** The channel broke (or the child emitted 'error'): fail what waits as retryable now, and make sure it exits. */
  private onChannelBroken(err: Error): void {
    if (this.exitedWith !== null) return;
    const first = !this.broken;
    this.broken = `its IPC channel broke (${err.message})`;
    if (!first) return;
    const e = errors.unavailable(`the engine of device ${this.device} lost its IPC channel; it is restarting`);
    for (const w of this.waiting.values()) {
      if (w.timer) clearTimeout(w.timer);
      w.reject(e);
      w.answered();
    }
    this.waiting.clear();
    // 'exit' then reports the death to the device (onExit), which starts a new engine.
    try {
      this.child.kill('SIGKILL');
    } catch {
      /* already gone: 'exit' follows */
    }
  }

  /** One request to the engine; its result's type follows from `req.t` (EngineProtocol). */
  call<K extends EngineKind>(
    req: EngineCallReq<K> & { t: K },
    timeoutMs: number,
    { onToken, onProgress }: CallHooks = {},
  ): EngineCall<EngineResult<K>> {
    const id = this.nextId++;
    let answered!: () => void;
    const done = new Promise<void>((r) => {
      answered = r;
    });
    const result = new Promise<EngineResult<K>>((resolve, reject) => {
      if (!this.alive) {
        answered();
        return reject(errors.unavailable(`the engine of device ${this.device} is restarting`));
      }
      const w: Waiting = {
        // The answer to this id is the reply of this request's kind: engine-process answers through a helper typed
        // per kind, and onReply matches by id; the map holds calls of every kind, so the kind is forgotten here.
        resolve: resolve as (v: EngineResult<EngineKind>) => void,
        reject,
        answered,
        req,
        ...(onToken ? { onToken } : {}),
        ...(onProgress ? { onProgress } : {}),
      };
      w.timer = setTimeout(
        () => {
          // Every kind is cancelled in the engine (a load or estimate too: an orphan there is untracked memory).
          w.late = true;
          w.resolve = () => {};
          w.reject = () => {};
          delete w.onToken;
          delete w.onProgress;
          this.send({ t: 'cancel', id });
          reject(errors.deadline(`engine ${req.t}`, timeoutMs));
        },
        Math.min(timeoutMs, MAX_TIMER_MS),
      );
      this.waiting.set(id, w);
      this.send({ ...req, id });
    });
    return { id, result, answered: done };
  }

  estimate(spec: EngineModel, timeoutMs: number): Promise<Estimate> {
    return this.call({ t: 'estimate', spec }, timeoutMs).result;
  }
  /** A load whose `answered` says when the engine no longer works on it (see EngineCall). */
  startLoad(spec: EngineModel, timeoutMs: number, onProgress?: (fraction: number) => void): EngineCall<Loaded> {
    return this.call({ t: 'load', spec }, timeoutMs, onProgress ? { onProgress } : {});
  }
  load(spec: EngineModel, timeoutMs: number): Promise<Loaded> {
    return this.startLoad(spec, timeoutMs).result;
  }
  unload(model: string, timeoutMs: number): Promise<null> {
    return this.call({ t: 'unload', model }, timeoutMs).result;
  }

  /** Aborting the signal cancels in the engine; the promise then rejects with the engine's CANCELLED answer. */
  generate(
    params: GenerateParams,
    timeoutMs: number,
    signal: AbortSignal,
    onToken?: OnPiece,
  ): Promise<GenerateOutcome> {
    return this.cancellable(this.call({ t: 'generate', params }, timeoutMs, onToken ? { onToken } : {}), signal);
  }

  /**
   * Scores texts on one sequence (see EngineCore.evaluate); cancelled like a generation. `answered` says when the
   * engine has let go of the sequence: after a timeout `result` rejects at once, while the engine stops at its next chunk.
   */
  startEvaluate(params: EvaluateParams, timeoutMs: number, signal: AbortSignal): EngineCall<EvaluateOutcome> {
    const call = this.call({ t: 'evaluate', params }, timeoutMs);
    return { ...call, result: this.cancellable(call, signal) };
  }

  /** Embeds texts (see EngineCore.embed); cancelled like a generation. */
  embed(params: EmbedParams, timeoutMs: number, signal: AbortSignal): Promise<EmbedOutcome> {
    return this.cancellable(this.call({ t: 'embed', params }, timeoutMs), signal);
  }

  private cancellable<T>({ id, result }: EngineCall<T>, signal: AbortSignal): Promise<T> {
    const onAbort = () => {
      if (this.alive) this.send({ t: 'cancel', id });
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    return result.finally(() => signal.removeEventListener('abort', onAbort));
  }

  /** Fault injection: make the engine abort like a native crash. */
  injectAbort(): void {
    this.send({ t: 'abort' });
  }

  private onReply(r: EngineReply): void {
    if (r.t === 'ready') return;
    const w = this.waiting.get(r.id);
    if (!w) return; // cancelled, or the engine died and everything was failed already
    if (r.t === 'token') return w.onToken?.(r.text, r.call);
    if (r.t === 'progress') return w.onProgress?.(r.fraction);
    this.waiting.delete(r.id);
    if (w.timer) clearTimeout(w.timer);
    if (w.late && r.t === 'result' && w.req.t === 'load') {
      // The load finished just as it timed out (the cancel crossed the answer): nobody owns it, so unload it, and
      // only then say the engine is done with it.
      void this.call({ t: 'unload', model: w.req.spec.name }, LATE_UNLOAD_TIMEOUT_MS).answered.then(w.answered);
      return;
    }
    if (r.t === 'result') w.resolve(r.value);
    else w.reject(MocError.fromData(r.error));
    w.answered();
  }

  /** Graceful: close the IPC channel (the engine exits on disconnect); SIGKILL after graceMs. */
  async close(graceMs = 2000): Promise<void> {
    if (this.exitedWith !== null) return;
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    if (this.child.connected) this.child.disconnect();
    const t = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(t);
  }

  async destroy(): Promise<void> {
    if (this.exitedWith !== null) return;
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGKILL');
    await gone;
  }
}
