/**
 * Generated LoRA adapters are real ones: REAL node-llama-cpp (prebuilt CPU binary) applies one to the generated demo
 * model and its next-token logits move at scale 1 and stay exactly the base's at scale 0. checkLoraAdapter accepts
 * it and refuses, from the headers alone, each broken adapter with MOC_ERR_ADAPTER_REFUSED naming the problem.
 * It also prints what an adapter costs: its file, llama.cpp's buffer for it, and the process's RSS around loading it.
 */
import t from 'tap';
import { copyFileSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkLoraAdapter } from '../../src/model/adapter-check.js';
import { writeTinyLlamaGguf } from '../../src/model/demo-model.js';
import { writeGguf, type GgufValue } from '../../src/model/gguf-writer.js';
import { buildLoraAdapterGguf, writeLoraAdapterGguf } from '../../src/model/lora-adapter.js';
import { MocError } from '../../src/errors.js';

const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
type Model = Awaited<ReturnType<Awaited<ReturnType<typeof getLlama>>['loadModel']>>;

const dir = t.testdir();
const base = (await writeTinyLlamaGguf(path.join(dir, 'base.gguf'))).path;
const adapter = await writeLoraAdapterGguf(path.join(dir, 'lora.gguf'), base, { seed: 7 });
// The same architecture and tensor names, twice as wide: its adapter's shapes fit no demo-model tensor.
const wide = (await writeTinyLlamaGguf(path.join(dir, 'wide.gguf'), { dims: { embd: 128 } })).path;
const wideAdapter = (await writeLoraAdapterGguf(path.join(dir, 'wide-lora.gguf'), wide)).path;

// llama.cpp's info lines say how much memory it allocates for an adapter; the rest is kept for failures only.
const bufferLines: string[] = [];
const llama = await getLlama({
  gpu: false,
  build: 'never',
  logLevel: LlamaLogLevel.info,
  logger: (_level, message) => {
    if (/LoRA buffer size/.test(message)) bufferLines.push(message.trim());
  },
});
t.teardown(() => llama.dispose());

/** The logits after "Hello" in a fresh context of `model`, with the adapter at `scale` (none when undefined). */
async function logitsAfterHello(model: Model, lora?: { filePath: string; scale: number }): Promise<number[]> {
  const ctx = await model.createContext({
    contextSize: 128,
    threads: 1,
    ...(lora ? { lora: { adapters: [lora] } } : {}),
  });
  try {
    const tokens = model.tokenize('Hello');
    const out = await ctx
      .getSequence()
      .controlledEvaluate([...tokens.slice(0, -1), [tokens.at(-1)!, { generateNext: { logits: true } }]]);
    const logits = out.at(-1)?.next.logits;
    if (!logits) throw new Error('no logits came back');
    return [...logits].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
  } finally {
    await ctx.dispose();
  }
}

t.test('the adapter is deterministic per seed and laid out as convert_lora_to_gguf.py writes it', async (t) => {
  t.same(buildLoraAdapterGguf(base, { seed: 7 }), readFileSync(adapter.path), 'the same seed, the same bytes');
  t.notSame(buildLoraAdapterGguf(base, { seed: 8 }), readFileSync(adapter.path), 'another seed, other bytes');
  t.same(
    { bytes: statSync(adapter.path).size, tensors: adapter.tensors, rank: adapter.rank, alpha: adapter.alpha },
    { bytes: adapter.bytes, tensors: 16, rank: 8, alpha: 8 },
    'a pair for attn_q/k/v/output of both layers, rank 8, alpha = rank',
  );
  t.comment(`demo-model adapter (rank 8, F32): ${adapter.bytes} bytes beside the model's ${statSync(base).size}`);
});

t.test('llama.cpp applies it: scale 1 moves the logits, scale 0 leaves them exactly as the base', async (t) => {
  const model = await llama.loadModel({ modelPath: base });
  t.teardown(() => model.dispose());
  const plain = await logitsAfterHello(model);
  const one = await logitsAfterHello(model, { filePath: adapter.path, scale: 1 });
  const zero = await logitsAfterHello(model, { filePath: adapter.path, scale: 0 });
  const again = await logitsAfterHello(model);
  const maxDiff = Math.max(...plain.map((v, i) => Math.abs(v - one[i]!)));
  t.comment(
    `largest logit change at scale 1: ${maxDiff.toFixed(3)} (logits span ${Math.min(...plain).toFixed(3)}..${Math.max(...plain).toFixed(3)})`,
  );
  t.ok(maxDiff > 0.1, 'at scale 1 the logits move clearly');
  t.same(zero, plain, 'at scale 0 they are exactly the base model');
  t.same(again, plain, 'a context without the adapter is unaffected by it (adapters are per context)');
});

t.test('llama.cpp refuses an adapter for a wider model, as the check does', async (t) => {
  const model = await llama.loadModel({ modelPath: base });
  t.teardown(() => model.dispose());
  await t.rejects(logitsAfterHello(model, { filePath: wideAdapter, scale: 1 }), 'creating the context fails');
  t.ok((await logitsAfterHello(model)).length > 0, 'and the model still serves');
});

t.test('checkLoraAdapter accepts it and returns its facts', async (t) => {
  const facts = checkLoraAdapter(adapter.path, base);
  t.same(facts, {
    bytes: adapter.bytes,
    tensorDataBytes: 8 * 2 * 64 * 8 * 4,
    tensorCount: 16,
    pairs: 8,
    rank: 8,
    alpha: 8,
    architecture: 'llama',
  });
});

/** An adapter-shaped GGUF with the given metadata and (name, dims) tensors, F32 zeros. */
function fakeAdapter(name: string, meta: Record<string, GgufValue>, tensors: [string, number[]][]): string {
  const file = path.join(dir, name);
  const metadata: Record<string, GgufValue> = {
    'general.architecture': { type: 'string', value: 'llama' },
    'general.type': { type: 'string', value: 'adapter' },
    'adapter.type': { type: 'string', value: 'lora' },
    'adapter.lora.alpha': { type: 'f32', value: 8 },
    ...meta,
  };
  const data = tensors.map(([n, dims]) => ({ name: n, dims, data: new Float32Array(dims[0]! * dims[1]!) }));
  writeFileSync(file, writeGguf(metadata, data));
  return file;
}

t.test('checkLoraAdapter refuses what llama.cpp would refuse, saying what is wrong', async (t) => {
  const truncated = path.join(dir, 'truncated.gguf');
  copyFileSync(adapter.path, truncated);
  truncateSync(truncated, Math.floor(adapter.bytes / 2));
  const notGguf = path.join(dir, 'notes.gguf');
  writeFileSync(notGguf, 'these are notes, not weights\n');
  const q = 'blk.0.attn_q.weight';
  const cases: [string, string, RegExp][] = [
    [
      'an adapter for a wider model',
      wideAdapter,
      /blk\.0\.attn_q\.weight: its lora_a is \[128, 8\] and lora_b \[8, 128\].*of \[64, 64\]/,
    ],
    ['a model, not an adapter', base, /general\.type is missing, not 'adapter'/],
    [
      'another adapter type',
      fakeAdapter('ia3.gguf', { 'adapter.type': { type: 'string', value: 'ia3' } }, [
        [`${q}.lora_a`, [64, 8]],
        [`${q}.lora_b`, [8, 64]],
      ]),
      /adapter\.type is 'ia3', not 'lora'/,
    ],
    ['a truncated file', truncated, /it is not a valid GGUF file: .*truncated/],
    ['a file that is not a GGUF', notGguf, /it is not a valid GGUF file: bad magic/],
    [
      'a lora_a without its lora_b',
      fakeAdapter('half.gguf', {}, [[`${q}.lora_a`, [64, 8]]]),
      /blk\.0\.attn_q\.weight\.lora_a has no partner blk\.0\.attn_q\.weight\.lora_b/,
    ],
    [
      'a tensor the base does not have',
      fakeAdapter('extra.gguf', {}, [
        ['blk.7.attn_q.weight.lora_a', [64, 8]],
        ['blk.7.attn_q.weight.lora_b', [8, 64]],
      ]),
      /adapts blk\.7\.attn_q\.weight, which the base .* does not have/,
    ],
    [
      'an alpha that is not f32 (llama.cpp would abort)',
      fakeAdapter('alpha.gguf', { 'adapter.lora.alpha': { type: 'u32', value: 8 } }, [
        [`${q}.lora_a`, [64, 8]],
        [`${q}.lora_b`, [8, 64]],
      ]),
      /adapter\.lora\.alpha has GGUF value type 4, not f32/,
    ],
    [
      'a pair whose ranks disagree',
      fakeAdapter('ranks.gguf', {}, [
        [`${q}.lora_a`, [64, 8]],
        [`${q}.lora_b`, [4, 64]],
      ]),
      /its lora_a is \[64, 8\] and lora_b \[4, 64\]/,
    ],
  ];
  for (const [label, file, says] of cases) {
    try {
      checkLoraAdapter(file, base, { adapter: path.basename(file), base: 'base.gguf' });
      t.fail(`${label}: accepted`);
    } catch (err) {
      t.ok(err instanceof MocError && err.code === 'MOC_ERR_ADAPTER_REFUSED', `${label}: MOC_ERR_ADAPTER_REFUSED`);
      const message = (err as Error).message;
      t.match(message, says, `${label}: ${message}`);
      t.match(message, new RegExp(`^LoRA adapter ${path.basename(file)} is refused: `), `${label}: names the file`);
      t.notMatch(message, dir, `${label}: without the server's paths`);
    }
  }
});

t.test('what an adapter costs in memory', async (t) => {
  // Wide enough that the adapter is megabytes, not lost in RSS noise: 512 wide, rank 64 → 8 pairs of 2 × 128 KiB.
  const big = (await writeTinyLlamaGguf(path.join(dir, 'big.gguf'), { dims: { embd: 512, heads: 8, ff: 1536 } })).path;
  const lora = await writeLoraAdapterGguf(path.join(dir, 'big-lora.gguf'), big, { rank: 64 });
  const facts = checkLoraAdapter(lora.path, big);
  const model = await llama.loadModel({ modelPath: big });
  t.teardown(() => model.dispose());
  const mib = (b: number) => `${(b / 1048576).toFixed(2)} MiB`;
  await logitsAfterHello(model); // a first context, so the next readings compare like with like
  const before = process.memoryUsage.rss();
  bufferLines.length = 0;
  await logitsAfterHello(model, { filePath: lora.path, scale: 1 });
  const afterFirst = process.memoryUsage.rss();
  await logitsAfterHello(model, { filePath: lora.path, scale: 1 });
  const afterSecond = process.memoryUsage.rss();
  t.comment(
    `model ${mib(statSync(big).size)}; adapter (rank 64, F32) file ${mib(lora.bytes)}, tensor data ${mib(facts.tensorDataBytes)}`,
  );
  for (const line of bufferLines) t.comment(`llama.cpp: ${line}`);
  t.comment(
    `RSS ${mib(before)} → ${mib(afterFirst)} after a context with the adapter (+${mib(afterFirst - before)}, context disposed, adapter kept by the model) → ${mib(afterSecond)} after a second one (+${mib(afterSecond - afterFirst)})`,
  );
  const reported = bufferLines.map((l) => Number(/=\s*([\d.]+) MiB/.exec(l)?.[1]));
  t.equal(reported.length, 1, 'llama.cpp allocated one buffer for the adapter, once');
  t.ok(
    Math.abs(reported[0]! * 1048576 - facts.tensorDataBytes) <= 0.01 * 1048576,
    `its size (${reported[0]} MiB) is the adapter's tensor data (${mib(facts.tensorDataBytes)})`,
  );
});
