/**
 * Device side of the engine child process: forks it, matches replies to requests by id, and reports its death.
 * It does not restart anything itself; the device actor decides (it owns the models to reload).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { errors, MocError } from '../../src/errors.js';
import { siblingEntry } from '../../src/entry.js';
import type { EngineModel, EngineReply, EngineRequest, EngineStart, Estimate, GenerateOutcome, GenerateParams, Loaded } from './engine-protocol.js';

interface Waiting { resolve(v: unknown): void; reject(e: MocError): void; onToken?: (text: string) => void; timer?: NodeJS.Timeout }
type WithoutId<T> = T extends { id: number } ? Omit<T, 'id'> : never;

export interface EngineClientOptions {
  device: string;
  start: EngineStart;
  /** Extra environment for the child (CUDA_VISIBLE_DEVICES on GPU hosts). */
  env: Record<string, string>;
  startTimeoutMs: number;
}

export class EngineClient {
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private exitedWith: string | null = null;
  /** Called once when the process exits for any reason; the reason is human-readable. */
  onExit: (reason: string) => void = () => {};

  private constructor(private readonly child: ChildProcess, private readonly device: string) {
    child.on('message', (r: EngineReply) => this.onReply(r));
    child.once('exit', (code, signal) => {
      this.exitedWith = signal ? `killed by ${signal}` : `exited with code ${code}`;
      const err = errors.unavailable(`the engine of device ${device} ${this.exitedWith}; it is restarting`);
      for (const w of this.waiting.values()) { if (w.timer) clearTimeout(w.timer); w.reject(err); }
      this.waiting.clear();
      this.onExit(this.exitedWith);
    });
  }

  static async start(o: EngineClientOptions): Promise<EngineClient> {
    const entry = fileURLToPath(siblingEntry(import.meta.url, './engine-process'));
    const child = fork(entry, [], {
      env: { ...process.env, ...o.env, MOC_ENGINE_START: JSON.stringify(o.start) },
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`engine of ${o.device} did not start within ${o.startTimeoutMs} ms`)); }, o.startTimeoutMs);
      const onMsg = (r: EngineReply) => { if (r.t === 'ready') { done(); resolve(); } };
      const onExit = (code: number | null, sig: string | null) => { done(); reject(new Error(`engine of ${o.device} exited during start (${sig ?? code})`)); };
      const done = () => { clearTimeout(timer); child.off('message', onMsg); child.off('exit', onExit); };
      child.on('message', onMsg);
      child.once('exit', onExit);
    });
    return new EngineClient(child, o.device);
  }

  get pid(): number { return this.child.pid ?? 0; }
  get alive(): boolean { return this.exitedWith === null; }

  private call<T>(req: WithoutId<EngineRequest>, timeoutMs: number, onToken?: (text: string) => void): { id: number; promise: Promise<T> } {
    const id = this.nextId++;
    const promise = new Promise<T>((resolve, reject) => {
      if (!this.alive) return reject(errors.unavailable(`the engine of device ${this.device} is restarting`));
      const w: Waiting = { resolve: resolve as (v: unknown) => void, reject, ...(onToken ? { onToken } : {}) };
      w.timer = setTimeout(() => {
        this.waiting.delete(id);
        if (req.t === 'generate') this.child.send({ t: 'cancel', id });
        reject(errors.deadline(`engine ${req.t}`, timeoutMs));
      }, timeoutMs);
      this.waiting.set(id, w);
      this.child.send({ ...req, id } as EngineRequest);
    });
    return { id, promise };
  }

  estimate(spec: EngineModel, timeoutMs: number): Promise<Estimate> { return this.call<Estimate>({ t: 'estimate', spec }, timeoutMs).promise; }
  load(spec: EngineModel, timeoutMs: number): Promise<Loaded> { return this.call<Loaded>({ t: 'load', spec }, timeoutMs).promise; }
  unload(model: string, timeoutMs: number): Promise<void> { return this.call<void>({ t: 'unload', model }, timeoutMs).promise; }

  /** Aborting the signal cancels in the engine; the promise then rejects with the engine's CANCELLED answer. */
  generate(params: GenerateParams, timeoutMs: number, signal: AbortSignal, onToken?: (text: string) => void): Promise<GenerateOutcome> {
    const { id, promise } = this.call<GenerateOutcome>({ t: 'generate', params }, timeoutMs, onToken);
    const onAbort = () => { if (this.alive) this.child.send({ t: 'cancel', id }); };
    signal.addEventListener('abort', onAbort, { once: true });
    return promise.finally(() => signal.removeEventListener('abort', onAbort));
  }

  /** Fault injection: make the engine abort like a native crash. */
  injectAbort(): void { this.child.send({ t: 'abort' }); }

  private onReply(r: EngineReply): void {
    if (r.t === 'ready') return;
    const w = this.waiting.get(r.id);
    if (!w) return; // timed out or cancelled already
    if (r.t === 'token') return w.onToken?.(r.text);
    this.waiting.delete(r.id);
    if (w.timer) clearTimeout(w.timer);
    if (r.t === 'result') w.resolve(r.value);
    else w.reject(MocError.fromData(r.error));
  }

  /** Graceful: close the IPC channel (the engine exits on disconnect); SIGKILL after graceMs. */
  async close(graceMs = 2000): Promise<void> {
    if (!this.alive) return;
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.disconnect();
    const t = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(t);
  }

  async destroy(): Promise<void> {
    if (!this.alive) return;
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGKILL');
    await gone;
  }
}
