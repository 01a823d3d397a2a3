/**
 * SFT training throughput of the built-in `lora` trainer (src/trainers/lora/train.py), on the demo and the bench
 * model, against the bare torch loop of the same model at the same shape, in one run. Prints one JSON line.
 *
 *   perf/train.ts ──spawn──▶ /usr/bin/python3 -B perf/lib/torch_bare_loop.py   (the limit: seconds/2, before)
 *                 ──spawn──▶ the lora trainer, its fine-tune template's argv      (perf/lib/trainer-arm.ts)
 *                 ──spawn──▶ /usr/bin/python3 -B perf/lib/torch_bare_loop.py   (seconds/2, after)
 *
 * The dataset is generated: texts of `--seq` tokens each, the BOS included (letters without spaces, each one token
 * in MOC's generated vocabularies; checked with tokenizer.py, the trainer's own), so every batch of the trainer is
 * exactly the bare loop's shape (`--batch` x `--seq`) and the tokens trained are steps x batch x (seq - 1), as the
 * trainer counts them. tokens_per_s: training tokens per second of wall time in the window (after start-up, see
 * trainer-arm.ts); tokens_per_cpu_s: per second of the trainer process's CPU (all its threads). `ratio` and
 * `cpu_ratio`: the trainer's over the bare loop's (the mean of the two arms beside it: the machine's load drifts).
 * The bare loop is a separate Python process using the trainer's own model code (llama_torch.py, train.new_lora) and
 * AdamW, with its inputs made once and nothing else per step: what any trainer of this model in this torch must pay.
 *
 *   npx tsx perf/train.ts [--seconds 10] [--models demo,bench] [--rank 8] [--batch 4] [--seq 32] [--threads N]
 * --threads is passed to both (default: the trainer's own, min(2, cores)). Models are made once into the git-ignored
 * perf/.peer/models/ (perf/lib/peer-cache.ts).
 */
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { LORA_PYTHON } from '../actors/jobs/trainers.js';
import { prng } from '../src/model/demo-model.js';
import { packageRoot } from '../src/package-root.js';
import { spawnDying, stopDying } from './lib/dying-child.js';
import { ensurePeerModels } from './lib/peer-cache.js';
import { type TrainerArm, type TrainWindow, trainerArm } from './lib/trainer-arm.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    models: { type: 'string', default: 'demo,bench' },
    rank: { type: 'string', default: '8' },
    batch: { type: 'string', default: '4' },
    seq: { type: 'string', default: '32' },
    threads: { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const rank = Number(values.rank);
const batch = Number(values.batch);
const seq = Number(values.seq);
const threads = values.threads === undefined ? [] : ['--threads', values.threads];
if (!(seconds > 0 && rank >= 1 && batch >= 1 && seq >= 2))
  throw new Error('--seconds, --rank, --batch, --seq: out of range');
const LR = 1e-3;
/**
 * Timed steps each arm runs at least, however long they take: a bench step takes seconds (~8 CPU s at 4 x 32 on
 * Debian's reference BLAS), and the window needs two step lines to be more than one step's noise.
 */
const MIN_BARE_STEPS = 1;
const MIN_TRAINER_STEPS = 2;
const BARE = path.join(packageRoot(), 'perf', 'lib', 'torch_bare_loop.py');
const TOKENIZER = path.join(packageRoot(), 'src', 'trainers', 'lora', 'tokenizer.py');

const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

/** Runs a Python script to its end (bounded), its stdout as text. */
async function python(args: string[], timeoutMs: number): Promise<string> {
  const child = spawnDying(LORA_PYTHON, ['-B', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-4000)));
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([
    new Promise<number | null>((r) => child.once('exit', (c) => r(c))),
    new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs))),
  ]);
  clearTimeout(timer);
  await stopDying(child);
  if (code !== 0)
    throw new Error(`${path.basename(args[0]!)} ${code === 'timeout' ? 'timed out' : `exited ${code}`}: ${err}`);
  return out;
}

/** `n` texts of seq - 1 letters: with the BOS, seq tokens each (checked with the trainer's tokenizer). */
async function dataset(base: string, n: number, file: string): Promise<void> {
  const rand = prng(7);
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const texts = Array.from({ length: n }, () =>
    Array.from({ length: seq - 1 }, () => letters[Math.floor(rand() * letters.length)]).join(''),
  );
  const lengths = new Set<number>();
  // A sample is enough to check the vocabulary's shape; every text is made the same way.
  for (const ids of JSON.parse(await python([TOKENIZER, base, ...texts.slice(0, 64)], 60_000)) as number[][])
    lengths.add(ids.length);
  if (lengths.size !== 1 || !lengths.has(seq))
    throw new Error(`${base}: the generated texts tokenize to ${[...lengths].join(', ')} tokens, not ${seq}`);
  await writeFile(file, texts.map((text) => `${JSON.stringify({ text })}\n`).join(''));
}

type BareArm = TrainWindow;

async function bare(base: string, secs: number): Promise<BareArm> {
  const args = [BARE, '--base', base, '--batch', String(batch), '--seq', String(seq), '--rank', String(rank)];
  args.push('--lr', String(LR), '--seconds', String(secs), '--min-steps', String(MIN_BARE_STEPS), ...threads);
  const r = JSON.parse(await python(args, 600_000));
  return {
    startup_s: round(r.startup_s),
    steps: r.steps,
    tokens: r.tokens,
    wall_s: round(r.wall_s),
    cpu_s: round(r.cpu_s),
    tokens_per_s: round(r.tokens / r.wall_s, 1),
    tokens_per_cpu_s: round(r.tokens / r.cpu_s, 1),
  };
}

async function measure(name: string, base: string, dir: string) {
  const before = await bare(base, seconds / 2);
  // Enough texts for the start-up's overlap and the window at the bare loop's pace, and then some: the trainer is
  // killed when the window closes, so a dataset too large costs only its tokenization.
  const stepsPerS = before.steps / before.wall_s;
  const steps = Math.max(8, Math.ceil(stepsPerS * (seconds + 30) * 1.5));
  const data = path.join(dir, `${name}.jsonl`);
  await dataset(base, steps * batch, data);
  const tr: TrainerArm = await trainerArm({
    base,
    data,
    out: path.join(dir, `${name}-lora.gguf`),
    params: { method: 'sft', rank, batch, epochs: 1, lr: LR },
    tokensPerStep: batch * (seq - 1),
    seconds,
    minSteps: MIN_TRAINER_STEPS,
    timeoutMs: 600_000,
    extra: threads,
  });
  const after = await bare(base, seconds / 2);
  const limit = (before.tokens_per_s + after.tokens_per_s) / 2;
  const limitCpu = (before.tokens_per_cpu_s + after.tokens_per_cpu_s) / 2;
  return {
    model: name,
    model_bytes: (await stat(base)).size,
    trainer: {
      ...tr,
      ready_s: round(tr.ready_s),
      startup_s: round(tr.startup_s),
      wall_s: round(tr.wall_s),
      cpu_s: round(tr.cpu_s),
      tokens_per_s: round(tr.tokens_per_s, 1),
      tokens_per_cpu_s: round(tr.tokens_per_cpu_s, 1),
    },
    bare: { before, after },
    ratio: round(tr.tokens_per_s / limit),
    cpu_ratio: round(tr.tokens_per_cpu_s / limitCpu),
  };
}

const loadavg0 = os.loadavg()[0]!;
const files = await ensurePeerModels();
const wanted = values.models.split(',').filter(Boolean);
for (const m of wanted) if (!(m in files)) throw new Error(`--models: '${m}' is not one of demo, bench`);
const dir = await mkdtemp(path.join(os.tmpdir(), 'moc-perf-train-'));
const results = [];
try {
  for (const m of wanted) results.push(await measure(m, files[m as keyof typeof files], dir));
} finally {
  await rm(dir, { recursive: true, force: true });
}

console.log(
  JSON.stringify({
    script: 'perf/train',
    date: new Date().toISOString(),
    seconds,
    rank,
    batch,
    seq,
    threads: values.threads === undefined ? 'trainer default' : Number(values.threads),
    models: results,
    loadavg_1m: { start: round(loadavg0, 2), end: round(os.loadavg()[0]!, 2) },
  }),
);
