/**
 * `npm run make-model`: a mistake (unknown flag, missing value, a value that is not a number, no output path) is
 * answered with one line naming it, the usage, and exit code 2 — never a stack trace; a correct call writes the model
 * and prints what it wrote as JSON.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { toolArgs } from '../../src/entry.js';
import { parseGgufHeader } from '../../src/model/gguf-header.js';
import { checkLoraAdapter } from '../../src/model/adapter-check.js';

const run = (...args: string[]) =>
  spawnSync(process.execPath, [...toolArgs('make-model'), ...args], { encoding: 'utf8' });

t.test('mistakes get one line, the usage and exit 2', async (t) => {
  const out = path.join(t.testdir(), 'm.gguf');
  for (const [args, says] of [
    [['--bogus', out], "Unknown option '--bogus'"],
    [[out, '--ctx'], "Option '--ctx <value>' argument missing"],
    [[out, '--layers', 'two'], '--layers must be an integer >= 1, got "two"'],
    [[out, '--preset', 'huge'], '--preset must be one of demo, bench, got "huge"'],
    [['--lora', out], '--lora needs --base <model.gguf>'],
    [['--lora', out, '--base', out, '--embd', '8'], '--lora makes an adapter: --embd is for models'],
    [[out, '--rank', '4'], '--rank is for adapters (with --lora)'],
    [[], 'usage:'],
  ] as [string[], string][]) {
    const r = run(...args);
    const label = args.map((a) => (a === out ? 'm.gguf' : a)).join(' ') || '(no arguments)';
    t.equal(r.status, 2, `${label}: exit 2`);
    t.match(r.stderr, says, `${label}: says ${says}`);
    t.match(r.stderr, /^usage: /m, `${label}: shows the usage`);
    t.notMatch(r.stderr, /\n\s+at /, `${label}: no stack trace`);
  }
});

t.test('a correct call writes a GGUF and reports it', async (t) => {
  const out = path.join(t.testdir(), 'm.gguf');
  const r = run(out, '--ctx', '64', '--seed', '3');
  t.equal(r.status, 0, `exit 0 ${r.stderr}`);
  const report = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  const file = readFileSync(out);
  t.equal(file.subarray(0, 4).toString('latin1'), 'GGUF', 'the file starts with the GGUF magic');
  t.same(
    { path: report.path, bytes: report.bytes },
    { path: out, bytes: file.length },
    'it prints the file it wrote and its size',
  );
});

t.test('--preset bench gives its dimensions; flags given with it override them', async (t) => {
  const out = path.join(t.testdir(), 'bench-narrow.gguf');
  // bench's heads, layers and context, made narrow so the test writes kilobytes, not bench's 111 MB.
  const r = run(out, '--preset', 'bench', '--embd', '64', '--ff', '128');
  t.equal(r.status, 0, `exit 0 ${r.stderr}`);
  const h = parseGgufHeader(out);
  t.same(
    [h.embeddingLength, h.blockCount, h.headCount, h.feedForwardLength, h.contextLength],
    [64, 8, 8, 128, 2048],
    'embd and ff as given; layers 8, heads 8, context 2048 from the preset',
  );
});

t.test('--lora --base writes an adapter for that model', async (t) => {
  const dir = t.testdir();
  const base = path.join(dir, 'm.gguf');
  const lora = path.join(dir, 'lora.gguf');
  t.equal(run(base, '--ctx', '64').status, 0, 'the base is written');
  const r = run('--lora', lora, '--base', base, '--seed', '2', '--rank', '4', '--alpha', '16');
  t.equal(r.status, 0, `exit 0 ${r.stderr}`);
  const report = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  t.same(report, { path: lora, bytes: readFileSync(lora).length, tensors: 16, rank: 4, alpha: 16 }, 'it reports it');
  const facts = checkLoraAdapter(lora, base);
  t.same([facts.rank, facts.alpha, facts.pairs], [4, 16, 8], 'and it fits the base');
});
