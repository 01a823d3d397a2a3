/**
 * prepare-dataset, through its runner with a hand-made RunContext: REAL tokenization (node-llama-cpp, vocabulary only,
 * on the dataset worker pool) of a generated tiny GGUF. Only the models port is a stub, and only for modelFile.
 */
import t from 'tap';
import { existsSync, readdirSync, readFileSync, realpathSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { resolveConfig } from '../../src/config.js';
import { writeTinyLlamaGguf } from '../../src/model/demo-model.js';
import { DatasetPool } from '../../actors/jobs/dataset-pool.js';
import { prepareDataset } from '../../actors/jobs/prepare-dataset.js';
import type { JobOutputs, RunContext } from '../../actors/jobs/runners.js';
import type { ModelsPort } from '../../actors/jobs/models-port.js';
import type { Job } from '../../schemas/jobs.js';
import type { Config } from '../../schemas/config.js';
import { until } from '../helpers/coordinator.js';

const dir = t.testdir();
const config: Config = resolveConfig({}, { baseDir: dir });
const root = config.jobs.datasetsRoot;
mkdirSync(root, { recursive: true });
const { path: modelPath } = await writeTinyLlamaGguf(path.join(config.modelsRoot, 'tiny.gguf'));

// The expectation: node-llama-cpp's tokenizer of the same model, loaded here (vocabulary only).
const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false });
const vocab = await llama.loadModel({ modelPath, vocabOnly: true });
const count = (s: string) => vocab.tokenize(s).length;

const pool = new DatasetPool({ keepModelsMs: 300 });
t.teardown(async () => {
  await pool.close();
  await vocab.dispose();
  await llama.dispose();
});
const runner = prepareDataset(pool);

const notUsed = () => {
  throw new Error('not used by prepare-dataset');
};
const models: ModelsPort = {
  modelFile: () => modelPath,
  evaluate: notUsed,
  resolve: notUsed,
  register: notUsed,
  setAlias: notUsed,
  reserve: notUsed,
  release: notUsed,
  room: notUsed,
};

let jobs = 0;
interface Run {
  ctx: RunContext;
  progress: { fraction: number; message: string }[];
  logs: string[];
  abort: AbortController;
  job: Job;
}
function context(spec: Record<string, unknown>, onProgress?: (fraction: number, abort: AbortController) => void): Run {
  const abort = new AbortController();
  const job = { id: `job-t${++jobs}`, type: 'prepare-dataset', spec } as unknown as Job;
  const progress: Run['progress'] = [];
  const logs: string[] = [];
  const ctx: RunContext = {
    job,
    config,
    models,
    signal: abort.signal,
    progress: (fraction, message) => {
      progress.push({ fraction, message });
      onProgress?.(fraction, abort);
    },
    log: (line) => {
      logs.push(line);
    },
    process: () => undefined,
    // One runner alone: its lease is never taken over.
    fence: async () => {},
  };
  return { ctx, progress, logs, abort, job };
}

const writeLines = (name: string, lines: string[]) => {
  mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
  writeFileSync(path.join(root, name), `${lines.join('\n')}\n`);
  return name;
};
const outputLines = (out: JobOutputs, i: 0 | 1) =>
  readFileSync(path.join(root, out.files[i]!), 'utf8')
    .split('\n')
    .filter((l) => l !== '');

// ~200 distinct texts, then copies (exact, and differing only in whitespace or Unicode normalization), invalid lines, blanks.
const WORDS = [
  'the',
  'quick',
  'brown',
  'fox',
  'jumps',
  'over',
  'a',
  'lazy',
  'dog',
  'model',
  'serves',
  'agents',
  'été',
  'naïve',
  'tokens',
];
const texts = Array.from(
  { length: 200 },
  (_, i) => `${i}: ${Array.from({ length: 3 + (i % 11) }, (_, k) => WORDS[(i * 7 + k * 3) % WORDS.length]).join(' ')}`,
);
const lines: string[] = texts.map((text) => JSON.stringify({ text }));
lines.push(
  JSON.stringify({ text: texts[3] }),
  JSON.stringify({ text: texts[4] }),
  JSON.stringify({ text: `  ${texts[5]!.replace(' ', '   ')} ` }),
);
lines.push(JSON.stringify({ text: texts[12]!.normalize('NFD') })); // texts[12] holds 'été'? not necessarily: checked below
lines.push(
  '{not json',
  JSON.stringify({ text: '' }),
  JSON.stringify({ foo: 1 }),
  '[1,2]',
  JSON.stringify({ prompt: 'p', chosen: 'c', rejected: 'r' }),
  '',
);
const DATASET = writeLines('chat/main.jsonl', lines);
const distinct = new Set(texts);
const nfdIsCopy = texts[12]!.normalize('NFD') !== texts[12]; // an accented text: a copy only after normalization

t.test('tokenizes with the model tokenizer, dedupes, counts invalid lines and splits', async (t) => {
  const r = context({ model: 'tiny', dataset: DATASET, eval_fraction: 0.2, seed: 7 });
  const out = await runner(r.ctx);
  const m = out.metrics;
  const duplicates = 3 + (nfdIsCopy ? 1 : 0);
  const kept = distinct.size + (nfdIsCopy ? 0 : 1);
  t.equal(m.lines, 200 + 4 + 5, 'non-blank lines');
  t.equal(m.invalid, 5, 'invalid lines counted');
  t.equal(m.valid, 204);
  t.equal(m.duplicates, duplicates, 'copies (exact, whitespace, NFC) dropped');
  t.equal(m.train! + m.eval!, kept, 'every kept example is in one of the files');
  t.same(out.models, []);

  const trainL = outputLines(out, 0);
  const evalL = outputLines(out, 1);
  t.equal(trainL.length, m.train);
  t.equal(evalL.length, m.eval);
  const written = [...trainL, ...evalL].map((l) => (JSON.parse(l) as { text: string }).text);
  t.equal(new Set(written).size, written.length, 'no example written twice');
  for (const x of texts) t.ok(written.includes(x), `kept: ${x}`, { diagnostic: false });
  t.ok(
    trainL.every((l) => !evalL.includes(l)),
    'train and eval are disjoint',
  );

  const tokens = written.map(count);
  t.equal(
    m.tokens,
    tokens.reduce((a, b) => a + b, 0),
    "token total is node-llama-cpp's count",
  );
  t.equal(m.tokens_max, Math.max(...tokens));
  t.equal(m.tokens_min, Math.min(...tokens));
  t.ok(Math.abs(m.tokens_mean! - m.tokens! / kept) < 1e-9);

  const share = m.eval! / kept;
  t.ok(share > 0.1 && share < 0.3, `eval share ${share.toFixed(3)} ≈ 0.2`);

  t.same(
    out.files,
    [`prepared/${r.job.id}/main.train.jsonl`, `prepared/${r.job.id}/main.eval.jsonl`],
    'outputs named after the input',
  );
  const realRoot = realpathSync(root);
  for (const f of out.files)
    t.ok(realpathSync(path.join(root, f)).startsWith(realRoot + path.sep), `${f} is inside the datasets root`);
  t.same(
    readdirSync(path.join(root, 'prepared', r.job.id)).sort(),
    ['main.eval.jsonl', 'main.train.jsonl'],
    'no partial file left',
  );

  const log = r.logs.join('\n');
  const n = (s: string) => lines.indexOf(s) + 1;
  for (const l of [n('{not json'), n('[1,2]'), n(JSON.stringify({ foo: 1 }))])
    t.match(log, new RegExp(`line ${l}: `), `line ${l} reported`);
  t.match(log, /not JSON/);
  t.match(log, /preference pair in a dataset of texts \(line 1 set the kind\)/);
  const fractions = r.progress.map((p) => p.fraction);
  t.ok(
    fractions.every((f, i) => f >= 0 && f <= 1 && (i === 0 || f >= fractions[i - 1]!)),
    'progress rises within [0, 1]',
  );
  t.equal(fractions.at(-1), 1);
});

t.test('the split is deterministic per seed', async (t) => {
  const a = await runner(context({ model: 'tiny', dataset: DATASET, eval_fraction: 0.2, seed: 7 }).ctx);
  const b = await runner(context({ model: 'tiny', dataset: DATASET, eval_fraction: 0.2, seed: 7 }).ctx);
  const c = await runner(context({ model: 'tiny', dataset: DATASET, eval_fraction: 0.2, seed: 8 }).ctx);
  const file = (o: JobOutputs, i: 0 | 1) => readFileSync(path.join(root, o.files[i]!), 'utf8');
  t.equal(file(a, 0), file(b, 0), 'same seed: identical train file');
  t.equal(file(a, 1), file(b, 1), 'same seed: identical eval file');
  t.not(file(a, 1), file(c, 1), 'another seed: another eval set');
  t.equal(c.metrics.train! + c.metrics.eval!, a.metrics.train! + a.metrics.eval!);
});

t.test('dedupe: false keeps copies, on the same side of the split', async (t) => {
  const out = await runner(context({ model: 'tiny', dataset: DATASET, dedupe: false, seed: 7 }).ctx);
  t.equal(out.metrics.duplicates, 0);
  t.equal(out.metrics.train! + out.metrics.eval!, 204);
  const evalTexts = outputLines(out, 1).map((l) => norm((JSON.parse(l) as { text: string }).text));
  const trainTexts = new Set(outputLines(out, 0).map((l) => norm((JSON.parse(l) as { text: string }).text)));
  t.ok(
    evalTexts.every((x) => !trainTexts.has(x)),
    'no example is on both sides',
  );
  t.equal(out.metrics.eval! / 204 < 0.25, true, 'default eval_fraction 0.1');
});
const norm = (s: string) => s.normalize('NFC').replace(/\s+/gu, ' ').trim();

t.test('preference pairs count prompt+chosen and prompt+rejected', async (t) => {
  const pairs = Array.from({ length: 30 }, (_, i) => ({
    prompt: `Q${i}: what is ${WORDS[i % WORDS.length]}? `,
    chosen: `a ${WORDS[(i + 1) % WORDS.length]}`,
    rejected: `no idea ${i}`,
  }));
  const name = writeLines('pairs.jsonl', [
    ...pairs.map((p) => JSON.stringify(p)),
    JSON.stringify({ text: 'a text' }),
    JSON.stringify({ prompt: 'p', chosen: '', rejected: 'r' }),
  ]);
  const r = context({ model: 'tiny', dataset: name, eval_fraction: 0.5, seed: 1 });
  const out = await runner(r.ctx);
  t.equal(out.metrics.valid, 30);
  t.equal(out.metrics.invalid, 2);
  t.equal(
    out.metrics.tokens,
    pairs.reduce((s, p) => s + count(p.prompt + p.chosen) + count(p.prompt + p.rejected), 0),
  );
  t.match(r.logs.join('\n'), /line 32: a preference pair needs non-empty strings in "chosen"/);
  t.same(
    [...outputLines(out, 0), ...outputLines(out, 1)]
      .map((l) => JSON.parse(l))
      .sort((x, y) => x.prompt.localeCompare(y.prompt)),
    [...pairs].sort((x, y) => x.prompt.localeCompare(y.prompt)),
    'pairs written as given',
  );
});

t.test('a dataset of only invalid lines fails with a clear message and no outputs', async (t) => {
  const name = writeLines('bad.jsonl', ['nope', JSON.stringify({ text: 3 }), JSON.stringify({ prompt: 'p' })]);
  const r = context({ model: 'tiny', dataset: name });
  const err = await runner(r.ctx).then(
    () => null,
    (e: unknown) => e as { code: string; message: string },
  );
  t.equal(err?.code, 'MOC_ERR_JOB_FAILED');
  t.match(
    err?.message,
    /dataset 'bad\.jsonl': none of its 3 lines is a valid example \(line 1: not JSON; line 2: "text" must be a non-empty string; line 3: a preference pair needs/,
  );
  t.same(readdirSync(path.join(root, 'prepared', r.job.id)), [], 'nothing written');
  const empty = writeLines('empty.jsonl', ['', '  ']);
  const e2 = await runner(context({ model: 'tiny', dataset: empty }).ctx).then(
    () => null,
    (e: unknown) => e as { code: string; message: string },
  );
  t.equal(e2?.code, 'MOC_ERR_JOB_FAILED');
  t.match(e2?.message, /has no lines/);
});

t.test('a dataset outside the root is refused', async (t) => {
  const err = await runner(context({ model: 'tiny', dataset: '../outside.jsonl' }).ctx).then(
    () => null,
    (e: unknown) => e as { code: string },
  );
  t.equal(err?.code, 'MOC_ERR_INVALID_ARGUMENT');
});

t.test('cancellation stops a big preparation mid-run, leaves nothing, and the pool goes on', async (t) => {
  const big = Array.from({ length: 300_000 }, (_, i) => JSON.stringify({ text: `${i} ${texts[i % texts.length]}` }));
  const name = writeLines('big.jsonl', big);
  let abortedAt = -1;
  const r = context({ model: 'tiny', dataset: name }, (fraction, abort) => {
    if (fraction > 0 && fraction < 0.5 && abortedAt < 0) {
      abortedAt = fraction;
      abort.abort();
    }
  });
  const started = Date.now();
  const err = await runner(r.ctx).then(
    () => null,
    (e: unknown) => e as { code: string; message: string },
  );
  t.ok(abortedAt > 0 && abortedAt < 0.5, `aborted at ${(abortedAt * 100).toFixed(1)}% read`);
  t.equal(err?.code, 'MOC_ERR_CANCELLED', `rejects with a coded error: ${err?.message}`);
  t.comment(`cancelled after ${Date.now() - started} ms`);
  const left = path.join(root, 'prepared', r.job.id);
  t.same(existsSync(left) ? readdirSync(left) : [], [], 'no output or partial file left');

  const after = await runner(context({ model: 'tiny', dataset: DATASET, seed: 7 }).ctx);
  t.ok(after.metrics.valid === 204, 'the pool still prepares datasets after a cancellation');
});

t.test('an already-aborted job does not run', async (t) => {
  const r = context({ model: 'tiny', dataset: DATASET });
  r.abort.abort();
  const err = await runner(r.ctx).then(
    () => null,
    (e: unknown) => e as { code: string },
  );
  t.equal(err?.code, 'MOC_ERR_CANCELLED');
});

t.test('the workers release their vocabularies when idle, and load them again', async (t) => {
  t.equal(pool.heldVocabularies, 1, 'the worker keeps the vocabulary between jobs');
  // keepModelsMs: 300 after the last job; until() fails, naming what it waited for, if it never comes.
  await until('the idle worker to release its vocabulary', async () => pool.heldVocabularies === 0, 10_000, 20);
  t.equal(pool.heldVocabularies, 0, 'and releases it when idle');
  const out = await runner(context({ model: 'tiny', dataset: DATASET, seed: 7 }).ctx);
  t.equal(out.metrics.valid, 204, 'a released worker loads it again');
  t.equal(pool.heldVocabularies, 1);
});
