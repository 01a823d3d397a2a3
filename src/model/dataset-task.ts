/**
 * piscina task: prepares a JSONL dataset for training with a model's own tokenizer. It reads the file line by line
 * (each line bounded), validates it, deduplicates, tokenizes, and splits train/eval deterministically, writing the
 * two outputs. Runs on DatasetPool's worker threads, so tokenizing millions of lines never blocks an actor thread.
 *
 * Lines are read as every dataset job reads them (src/dataset-lines.ts: bounded, strict UTF-8, one JSON object each).
 * Lines: `{"text": string}` or preference pairs `{"prompt", "chosen", "rejected"}`, all non-empty strings. The first
 * valid line sets the dataset's kind; a line of the other kind, bad JSON, a non-object or a line over MAX_LINE_BYTES
 * is counted as invalid (its line number and reason kept for the first INVALID_SAMPLES) and skipped. Only a dataset
 * with no valid line fails. Blank lines are skipped and not counted.
 *
 * Tokens: `model.tokenize(text)` (no BOS/EOS, special-token text kept as text); a pair counts the tokens of
 * prompt+chosen plus those of prompt+rejected (what a preference trainer processes). Statistics cover the examples
 * written (duplicates are dropped before they are tokenized).
 *
 * Dedupe: sha256 of the normalized example (NFC, whitespace runs collapsed, trimmed), first one kept. Split: an
 * example goes to eval when sha256(seed, its hash) read as a fraction of 2^32 is below evalFraction: the same input and
 * seed give the same files, and copies of an example (dedupe off) always land on the same side. Outputs keep each
 * line as it was given (whitespace-trimmed).
 *
 * Outputs are written to `<path>.partial` and renamed when complete: a failed or cancelled run leaves no output (the
 * pool removes the partials).
 *
 * Cancellation is cooperative: the caller sets `cancel[0]` (a SharedArrayBuffer) and the task stops at the next line.
 * piscina's own abort terminates the worker thread, and terminating a thread holding a live node-llama-cpp instance
 * aborts the whole process (Napi::Error during teardown), so it is never used. For the same reason the cached
 * vocabularies (one per model path, reloaded if the file changes) are disposed before piscina may end the thread:
 * after `keepMs` idle, or when the pool sets the release flag of its control array (checked every RELEASE_POLL_MS
 * while a vocabulary is held; close/destroy wait for the live count to reach 0).
 *
 * Progress: posted on `progress` (a MessagePort) at most every PROGRESS_MS, as bytes read of the file size.
 *
 * It never throws: errors come back as `{ error: ErrorData }` (a MocError crossing the thread would lose its code).
 */
import { createHash } from 'node:crypto';
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { MessagePort } from 'node:worker_threads';
import type { Llama, LlamaModel } from 'node-llama-cpp';
import { errors, toMocError, type ErrorData } from '../errors.js';
import { boundedLines, isBlank, leadingWs, lineObject, MAX_LINE_BYTES, trailingWs } from '../dataset-lines.js';

/** Invalid lines whose number and reason are reported. */
export const INVALID_SAMPLES = 10;
/** Outputs are written under this suffix and renamed when complete. */
export const PARTIAL_SUFFIX = '.partial';
const PROGRESS_MS = 100;
const WRITE_BUFFER = 1 << 20;

/** The pool's control array (Int32Array on a SharedArrayBuffer), shared by all its workers. */
export const CONTROL_LIVE = 0; // live node-llama-cpp instances across the pool's workers
export const CONTROL_RELEASE = 1; // 1: dispose them as soon as no task runs

/** How often a worker holding vocabularies checks the release flag. */
const RELEASE_POLL_MS = 50;

export interface DatasetTask {
  modelPath: string;
  /** The dataset file (absolute, already confined to the datasets root by the caller). */
  dataset: string;
  /** How messages name the dataset (its path relative to the datasets root). */
  shown: string;
  /** Output files (absolute, inside the datasets root). */
  train: string;
  eval: string;
  evalFraction: number;
  dedupe: boolean;
  seed: number;
  /** Shared: cancel[0] = 1 stops the task at the next line. */
  cancel: Int32Array;
  /** Shared by all tasks of a pool: [CONTROL_LIVE, CONTROL_RELEASE]. */
  control: Int32Array;
  /** How long a worker keeps loaded vocabularies after its last task. */
  keepMs: number;
  progress?: MessagePort;
}

export interface DatasetProgress {
  bytes: number;
  totalBytes: number;
  lines: number;
}

export interface InvalidLine {
  line: number;
  reason: string;
}

export interface DatasetStats {
  kind: 'text' | 'preference' | null;
  /** Non-blank lines read; valid + invalid. */
  lines: number;
  valid: number;
  invalid: number;
  invalidSamples: InvalidLine[];
  duplicates: number;
  train: number;
  eval: number;
  /** Over the examples written. */
  tokens: { total: number; min: number; max: number; mean: number };
  trainFile: string;
  evalFile: string;
}

export type DatasetResult = DatasetStats | { error: ErrorData };

// ---- the cached vocabularies of this worker ----

interface Cache {
  llama: Promise<Llama>;
  models: Map<string, { key: string; model: Promise<LlamaModel> }>;
}
let cache: Cache | null = null;
let running = 0;
let idleTimer: NodeJS.Timeout | null = null;
let control: Int32Array | null = null;
let releasing: Promise<void> | null = null;
let releaseWatch: NodeJS.Timeout | null = null;

async function vocabulary(modelPath: string, ctl: Int32Array): Promise<LlamaModel> {
  control ??= ctl;
  while (releasing) await releasing; // never reuse an instance being disposed
  if (!cache) {
    Atomics.add(ctl, CONTROL_LIVE, 1);
    // The pool asks for a release at close/destroy: honoured as soon as no task runs.
    releaseWatch = setInterval(() => {
      if (Atomics.load(ctl, CONTROL_RELEASE) === 1) void release();
    }, RELEASE_POLL_MS);
    const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
    cache = {
      llama: getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false }),
      models: new Map(),
    };
  }
  const st = await stat(modelPath);
  const key = `${st.size}:${st.mtimeMs}`; // a file replaced in place is loaded again
  const hit = cache.models.get(modelPath);
  if (hit && hit.key === key) return hit.model;
  if (hit)
    await hit.model.then(
      (m) => m.dispose(),
      () => undefined,
    );
  const llama = await cache.llama;
  const model = llama.loadModel({ modelPath, vocabOnly: true });
  cache.models.set(modelPath, { key, model });
  model.catch(() => {
    if (cache?.models.get(modelPath)?.model === model) cache.models.delete(modelPath);
  });
  return model;
}

function release(): Promise<void> {
  if (idleTimer) {
    clearTimeout(idleTimer);
    idleTimer = null;
  }
  const c = cache;
  if (!c || running > 0) return releasing ?? Promise.resolve();
  cache = null;
  if (releaseWatch) {
    clearInterval(releaseWatch);
    releaseWatch = null;
  }
  releasing = (async () => {
    for (const { model } of c.models.values())
      await model.then(
        (m) => m.dispose(),
        () => undefined,
      );
    await c.llama.then(
      (l) => l.dispose(),
      () => undefined,
    );
    if (control) {
      Atomics.sub(control, CONTROL_LIVE, 1);
      Atomics.notify(control, CONTROL_LIVE);
    }
  })().finally(() => {
    releasing = null;
  });
  return releasing;
}

const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';
const norm = (s: string) => s.normalize('NFC').replace(/\s+/gu, ' ').trim();

type Example =
  | { kind: 'text'; text: string }
  | { kind: 'preference'; prompt: string; chosen: string; rejected: string };

function parse(data: Buffer): Example | string {
  const o = lineObject(data);
  if (typeof o === 'string') return o;
  if ('text' in o) return nonEmpty(o.text) ? { kind: 'text', text: o.text } : '"text" must be a non-empty string';
  if ('prompt' in o || 'chosen' in o || 'rejected' in o) {
    const bad = (['prompt', 'chosen', 'rejected'] as const).filter((k) => !nonEmpty(o[k]));
    if (bad.length) return `a preference pair needs non-empty strings in ${bad.map((k) => `"${k}"`).join(', ')}`;
    return {
      kind: 'preference',
      prompt: o.prompt as string,
      chosen: o.chosen as string,
      rejected: o.rejected as string,
    };
  }
  return 'expected {"text": …} or {"prompt": …, "chosen": …, "rejected": …}';
}

const exampleHash = (e: Example) =>
  createHash('sha256')
    .update(
      JSON.stringify(
        e.kind === 'text' ? [e.kind, norm(e.text)] : [e.kind, norm(e.prompt), norm(e.chosen), norm(e.rejected)],
      ),
    )
    .digest();

/** Deterministic per (seed, example): a fraction in [0, 1). */
function splitPoint(seed: number, hash: Buffer): number {
  const seedBytes = Buffer.alloc(4);
  seedBytes.writeUInt32BE(seed >>> 0);
  return createHash('sha256').update(seedBytes).update(hash).digest().readUInt32BE(0) / 2 ** 32;
}

/** An output written through a buffer, to `<path>.partial` until commit. */
class Output {
  private fh: FileHandle | null = null;
  private parts: Buffer[] = [];
  private size = 0;
  constructor(readonly path: string) {}
  async openIt(): Promise<void> {
    this.fh = await open(this.path + PARTIAL_SUFFIX, 'w');
  }
  async write(line: Buffer): Promise<void> {
    this.parts.push(line, NEWLINE);
    this.size += line.length + 1;
    if (this.size >= WRITE_BUFFER) await this.flush();
  }
  private async flush(): Promise<void> {
    if (this.size === 0) return;
    const buf = Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    await this.fh!.write(buf);
  }
  async commit(): Promise<void> {
    await this.flush();
    await this.fh!.sync();
    await this.fh!.close();
    this.fh = null;
    await rename(this.path + PARTIAL_SUFFIX, this.path);
  }
  async discard(): Promise<void> {
    await this.fh?.close().catch(() => undefined);
    this.fh = null;
    await rm(this.path + PARTIAL_SUFFIX, { force: true });
  }
}
const NEWLINE = Buffer.from('\n');

export default async function prepare(task: DatasetTask): Promise<DatasetResult> {
  running++;
  if (idleTimer) {
    clearTimeout(idleTimer);
    idleTimer = null;
  }
  try {
    return await run(task);
  } catch (err) {
    const io = err instanceof Error && typeof (err as NodeJS.ErrnoException).syscall === 'string';
    return {
      error: (io
        ? errors.jobFailed(
            `preparing ${task.shown}: ${(err as NodeJS.ErrnoException).code ?? 'I/O error'} (${(err as NodeJS.ErrnoException).syscall})`,
          )
        : toMocError(err)
      ).toData(),
    };
  } finally {
    task.progress?.close();
    running--;
    if (running === 0 && cache) {
      if (Atomics.load(task.control, CONTROL_RELEASE) === 1 || task.keepMs <= 0) await release();
      else idleTimer = setTimeout(() => void release(), task.keepMs);
    }
  }
}

async function run(task: DatasetTask): Promise<DatasetResult> {
  const cancelled = () => Atomics.load(task.cancel, 0) !== 0;
  const cancelError = () => ({ error: errors.cancelled(`preparing ${task.shown}`).toData() });
  if (cancelled()) return cancelError();
  const model = await vocabulary(task.modelPath, task.control).catch((err: unknown) => {
    const problem = (err instanceof Error ? err.message : String(err)).replaceAll(
      task.modelPath,
      path.basename(task.modelPath),
    );
    throw errors.jobFailed(`the model's tokenizer could not be loaded: ${problem}`);
  });
  const totalBytes = (await stat(task.dataset)).size;
  const train = new Output(task.train);
  const evl = new Output(task.eval);
  await train.openIt();
  await evl.openIt();
  let committed = false;
  try {
    const s: DatasetStats = {
      kind: null,
      lines: 0,
      valid: 0,
      invalid: 0,
      invalidSamples: [],
      duplicates: 0,
      train: 0,
      eval: 0,
      tokens: { total: 0, min: 0, max: 0, mean: 0 },
      trainFile: task.train,
      evalFile: task.eval,
    };
    let kindLine = 0;
    const seen = new Set<string>();
    let bytes = 0;
    let lastPost = Date.now();
    const post = (force = false) => {
      if (!task.progress || (!force && Date.now() - lastPost < PROGRESS_MS)) return;
      lastPost = Date.now();
      task.progress.postMessage({ bytes, totalBytes, lines: s.lines } satisfies DatasetProgress);
    };
    const invalid = (line: number, reason: string) => {
      s.invalid++;
      if (s.invalidSamples.length < INVALID_SAMPLES) s.invalidSamples.push({ line, reason });
    };
    for await (const { line, data } of boundedLines(task.dataset, MAX_LINE_BYTES, (n) => {
      bytes += n;
    })) {
      if (cancelled()) return cancelError();
      post();
      if (isBlank(data)) continue;
      s.lines++;
      if (data === null) {
        invalid(line, `over ${MAX_LINE_BYTES} bytes`);
        continue;
      }
      const ex = parse(data);
      if (typeof ex === 'string') {
        invalid(line, ex);
        continue;
      }
      if (s.kind === null) {
        s.kind = ex.kind;
        kindLine = line;
      } else if (ex.kind !== s.kind) {
        invalid(
          line,
          `a ${ex.kind === 'text' ? 'text' : 'preference pair'} in a dataset of ${s.kind === 'text' ? 'texts' : 'preference pairs'} (line ${kindLine} set the kind)`,
        );
        continue;
      }
      s.valid++;
      const hash = exampleHash(ex);
      if (task.dedupe) {
        const k = hash.toString('base64');
        if (seen.has(k)) {
          s.duplicates++;
          continue;
        }
        seen.add(k);
      }
      const n =
        ex.kind === 'text'
          ? model.tokenize(ex.text).length
          : model.tokenize(ex.prompt + ex.chosen).length + model.tokenize(ex.prompt + ex.rejected).length;
      const kept = s.train + s.eval;
      s.tokens.total += n;
      s.tokens.min = kept === 0 ? n : Math.min(s.tokens.min, n);
      s.tokens.max = Math.max(s.tokens.max, n);
      const toEval = splitPoint(task.seed, hash) < task.evalFraction;
      if (toEval) s.eval++;
      else s.train++;
      const trimmed = data.subarray(leadingWs(data), data.length - trailingWs(data));
      await (toEval ? evl : train).write(trimmed);
    }
    if (cancelled()) return cancelError();
    if (s.lines === 0) return { error: errors.jobFailed(`dataset '${task.shown}' has no lines`).toData() };
    if (s.valid === 0) {
      const shown = s.invalidSamples
        .slice(0, 3)
        .map((x) => `line ${x.line}: ${x.reason}`)
        .join('; ');
      return {
        error: errors
          .jobFailed(
            `dataset '${task.shown}': none of its ${s.lines} lines is a valid example (${shown}); ` +
              'each line must be {"text": "..."} or {"prompt": "...", "chosen": "...", "rejected": "..."} with non-empty strings',
          )
          .toData(),
      };
    }
    const kept = s.train + s.eval;
    s.tokens.mean = kept ? s.tokens.total / kept : 0;
    await train.commit();
    await evl.commit();
    committed = true;
    bytes = totalBytes;
    post(true);
    return s;
  } finally {
    if (!committed) await Promise.all([train.discard(), evl.discard()]);
  }
}
