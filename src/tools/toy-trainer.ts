/**
 * A toy trainer that speaks MOC's trainer protocol (see actors/jobs/trainer-process.ts): it reads a real JSONL
 * dataset, reports progress and a "loss" per example and epoch on stdout as JSON lines, and writes a LoRA adapter for
 * the base model (src/model/lora-adapter.ts: a pair per attention projection, shaped for the base's tensors) whose
 * weights are seeded from the dataset's hash (other data, another file), reporting it as {"kind":"lora"}: a fine-tune
 * registers it as an adapter on its base. With --full-model it writes a whole new tiny model instead (kind "model"),
 * as it did before adapters. It learns nothing: it exists so fine-tune jobs can run end to end on machines without a
 * real trainer, and so tests can make it misbehave.
 *
 * Usage: node --import tsx src/tools/toy-trainer.ts --base <in.gguf> --data <dataset.jsonl> --out <out.gguf>
 *          [--epochs N] [--step-ms N] [--fail-at <fraction>] [--hang] [--garbage] [--broken-output]
 *          [--full-model] [--report-kind model|lora]
 *
 * Dataset lines: {"text": "..."} or preference pairs {"prompt": "...", "chosen": "...", "rejected": "..."}.
 * Exit codes: 0 trained, 2 bad usage or input, 3 the failure --fail-at asked for.
 *
 *   --step-ms N       sleep N ms per example, so a run lasts long enough to be cancelled
 *   --fail-at F       exit 3 with a message on stderr once progress reaches F
 *   --hang            ignore SIGTERM, fork a worker that ignores it too, and sleep forever (only SIGKILL stops it)
 *   --garbage         print 3 non-JSON lines, 1 invalid event and 1 line of 100 KiB among the real ones
 *   --broken-output   write a truncated GGUF (valid magic, missing tensor data: half an adapter, or half a model
 *                     with --full-model) and report it as the output
 *   --full-model      write a whole new tiny model (the demo model's shape, seeded from the data), not an adapter
 *   --report-kind K   report the output as kind K whatever was written: a trainer that misreports its output
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildTinyLlamaGguf, writeAtomically } from '../model/demo-model.js';
import { parseGgufHeader } from '../model/gguf-header.js';
import { buildLoraAdapterGguf } from '../model/lora-adapter.js';

const USAGE =
  'usage: node --import tsx src/tools/toy-trainer.ts --base <in.gguf> --data <dataset.jsonl> --out <out.gguf> ' +
  '[--epochs N] [--step-ms N] [--fail-at <fraction>] [--hang] [--garbage] [--broken-output] [--full-model] ' +
  '[--report-kind model|lora]';

function usage(problem: string): never {
  process.stderr.write(`toy-trainer: ${problem}\n${USAGE}\n`);
  process.exit(2);
}

// stdin is the coordinator's pipe (docs/jobs.md): it ends when the coordinator is gone, even after a SIGKILL that ran
// none of its cleanup. Nobody is left to read what we report, so we stop. Unref'd: it does not keep a run alive.
const coordinatorGone = () => {
  process.stderr.write('toy-trainer: stdin closed, the coordinator is gone: stopping\n');
  process.exit(1);
};
process.stdin.on('end', coordinatorGone);
process.stdin.on('error', coordinatorGone);
process.stdin.resume();
(process.stdin as unknown as { unref?: () => void }).unref?.();

function send(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

function parse() {
  try {
    return parseArgs({
      options: {
        base: { type: 'string' },
        data: { type: 'string' },
        out: { type: 'string' },
        epochs: { type: 'string' },
        'step-ms': { type: 'string' },
        'fail-at': { type: 'string' },
        hang: { type: 'boolean' },
        garbage: { type: 'boolean' },
        'broken-output': { type: 'boolean' },
        'full-model': { type: 'boolean' },
        'report-kind': { type: 'string' },
      },
    });
  } catch (err) {
    return usage((err as Error).message);
  }
}
const { values } = parse();
const { base, data, out } = values;
if (!base || !data || !out) usage('--base, --data and --out are required');
const epochs = Number(values.epochs ?? 1);
if (!Number.isSafeInteger(epochs) || epochs < 1) usage(`--epochs must be an integer >= 1, got ${values.epochs}`);
const stepMs = Number(values['step-ms'] ?? 0);
if (!Number.isFinite(stepMs) || stepMs < 0) usage(`--step-ms must be a number >= 0, got ${values['step-ms']}`);
const failAt = values['fail-at'] === undefined ? undefined : Number(values['fail-at']);
if (failAt !== undefined && !(failAt >= 0 && failAt <= 1))
  usage(`--fail-at must be a fraction in [0, 1], got ${values['fail-at']}`);
const fullModel = values['full-model'] === true;
const reportKind = values['report-kind'] ?? (fullModel ? 'model' : 'lora');
if (reportKind !== 'model' && reportKind !== 'lora') usage(`--report-kind must be model or lora, got ${reportKind}`);

process.stderr.write(`toy-trainer: pid ${process.pid}, base ${base}, data ${data}, ${epochs} epoch(s)\n`);

// The base must be a model: a real trainer would load it. Reading its header is the toy's equivalent.
let baseName: string;
try {
  baseName = parseGgufHeader(base).name ?? 'model';
} catch (err) {
  usage(`--base: ${(err as Error).message}`);
}

// Each example's size in characters; the only thing the stand-in loss looks at.
const raw = await readFile(data).catch((err: Error) => usage(`--data: ${err.message}`));
const examples: number[] = [];
raw
  .toString('utf8')
  .split('\n')
  .forEach((line, i) => {
    if (line.trim() === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      usage(`--data line ${i + 1} is not JSON`);
    }
    // Its fields are checked before use; a line that is not an object has none.
    const o: Partial<Record<'text' | 'prompt' | 'chosen' | 'rejected', unknown>> =
      typeof parsed === 'object' && parsed !== null ? parsed : {};
    if (typeof o.text === 'string') examples.push(o.text.length);
    else if (typeof o.prompt === 'string' && typeof o.chosen === 'string' && typeof o.rejected === 'string') {
      examples.push(o.prompt.length + o.chosen.length + o.rejected.length);
    } else usage(`--data line ${i + 1} is neither {"text"} nor {"prompt","chosen","rejected"}`);
  });
if (examples.length === 0) usage('--data has no examples');
const digest = createHash('sha256').update(raw).digest();

if (values.hang) {
  // A trainer stuck in native code: SIGTERM does nothing, here or in its worker, which shares our stdout so the
  // runner's 'close' waits for it too. Only SIGKILL to the whole process group ends this.
  process.on('SIGTERM', () => send({ type: 'log', message: 'SIGTERM ignored' }));
  spawn(
    process.execPath,
    [
      '-e',
      `process.on('SIGTERM', () => {});
    process.stdin.on('end', () => process.exit(1)); process.stdin.resume();
    process.stdout.write(JSON.stringify({ type: 'log', message: 'worker ' + process.pid + ' ready' }) + '\\n');
    setInterval(() => {}, 60_000);`,
    ],
    // Our stdin too: the worker also goes when the coordinator is gone (the one thing besides SIGKILL it obeys).
    { stdio: ['inherit', 'inherit', 'inherit'] },
  );
  send({ type: 'progress', fraction: 0, message: 'hanging' });
  setInterval(() => {}, 60_000);
  await new Promise(() => {});
}

if (values.garbage) {
  process.stdout.write('this is not JSON\n{"type":"progress",\n[1,2,3]\n');
  send({ type: 'progress', fraction: 2 });
  process.stdout.write(`${'x'.repeat(100 * 1024)}\n`);
}

// Stand-in loss, not learning: it starts at ln(1 + mean example length) and shrinks with every step, scaled by
// each example's length relative to the mean, so it is deterministic per dataset and strictly decreasing.
const mean = examples.reduce((a, b) => a + b, 0) / examples.length;
const start = Math.log(1 + mean);
const total = epochs * examples.length;
let step = 0;
for (let epoch = 1; epoch <= epochs; epoch++) {
  for (let i = 0; i < examples.length; i++) {
    if (stepMs > 0) await sleep(stepMs);
    step++;
    const fraction = step / total;
    const wobble = 1 + (0.1 * Math.tanh(examples[i]! / mean - 1)) / total; // < 1 step's worth of decrease
    const loss = (start / (1 + step / examples.length)) * wobble;
    send({ type: 'progress', fraction, message: `epoch ${epoch}/${epochs}, example ${i + 1}/${examples.length}` });
    send({ type: 'metric', name: 'loss', value: Number(loss.toFixed(6)), step });
    if (failAt !== undefined && fraction >= failAt) {
      process.stderr.write(`toy-trainer: simulated failure at ${Math.round(fraction * 100)}%\n`);
      process.exit(3);
    }
  }
  send({ type: 'log', message: `epoch ${epoch} done` });
}

const seed = digest.readUInt32LE(0);
const name = `${baseName}-ft-${digest.toString('hex').slice(0, 8)}`;
let bytes: Buffer;
try {
  bytes = fullModel ? buildTinyLlamaGguf({ seed, name }) : buildLoraAdapterGguf(base, { seed, name });
} catch (err) {
  // A base with nothing to adapt (no attention projections) is bad input, as a base that is no GGUF is.
  usage(`--base: ${(err as Error).message}`);
}
if (values['broken-output']) await writeFile(out, bytes.subarray(0, bytes.length >> 1));
else await writeAtomically(out, bytes);
send({ type: 'output', path: out, kind: reportKind });
