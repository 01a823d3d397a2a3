/**
 * The generated tiny GGUF is a real model: REAL node-llama-cpp (prebuilt CPU binary, never a source build) loads it
 * and generates from it. Output is gibberish by design; what matters is that tokens come out.
 */
import t, { type Test } from 'tap';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { ensureDemoModel, writeTinyLlamaGguf } from '../../src/model/demo-model.js';

// Determinism per seed is checked in tiny-gguf-is-valid-and-deterministic.test.ts.

const { getLlama, LlamaCompletion, LlamaLogLevel } = await import('node-llama-cpp');
// Collected rather than printed, so the run shows them once, as comments, and the test can check for the one it cares about.
const warnings: string[] = [];
const llama = await getLlama({
  gpu: false,
  build: 'never',
  logLevel: LlamaLogLevel.warn,
  logger: (level, message) => {
    if (level !== LlamaLogLevel.info && level !== LlamaLogLevel.debug) warnings.push(`${level}: ${message.trim()}`);
  },
});
t.teardown(() => llama.dispose());

/** Loads `modelPath`, greedily generates up to 8 tokens from "Hello", and disposes the model when `t` ends. */
async function loadAndGenerate(t: Test, modelPath: string): Promise<void> {
  const started = performance.now();
  const model = await llama.loadModel({ modelPath });
  const loadMs = performance.now() - started;
  const ctx = await model.createContext({ contextSize: 256, threads: 1 });
  t.teardown(async () => {
    await ctx.dispose();
    await model.dispose();
  });
  t.comment(`${path.basename(modelPath)}: ${(await stat(modelPath)).size} bytes, loaded in ${loadMs.toFixed(1)} ms`);

  let generated = 0;
  const completion = new LlamaCompletion({ contextSequence: ctx.getSequence() });
  const text = await completion.generateCompletion('Hello', {
    maxTokens: 8,
    onToken: (tokens) => {
      generated += tokens.length;
    },
  });
  t.comment(`completion: ${JSON.stringify(text)}`);
  t.ok(model.tokenize('Hello').length >= 2, 'the prompt tokenizes to more than BOS');
  // Random weights: the greedy path may reach end-of-sequence before 8 tokens, but not before the first.
  t.ok(generated >= 1 && generated <= 8, `${generated} tokens generated`);
}

t.test('the demo model loads and generates', async (t) => {
  const dir = t.testdir();
  const modelPath = await ensureDemoModel(dir);
  t.equal(modelPath, path.resolve(dir, 'moc-demo.gguf'));
  const firstWrite = (await stat(modelPath)).mtimeMs;
  t.equal(await ensureDemoModel(dir), modelPath, 'a second call returns the same file');
  t.equal((await stat(modelPath)).mtimeMs, firstWrite, 'and does not rewrite it');
  await loadAndGenerate(t, modelPath);
});

t.test('a model with other dimensions loads and generates', async (t) => {
  const { path: modelPath } = await writeTinyLlamaGguf(path.join(t.testdir(), 'wide.gguf'), {
    dims: { embd: 128, layers: 3 },
    seed: 9,
  });
  await loadAndGenerate(t, modelPath);
});

t.test('loading warned of no tokenizer round-trip mismatch', async (t) => {
  for (const w of warnings) t.comment(w);
  t.notOk(
    warnings.some((w) => /detokenize/.test(w)),
    'the printable-ASCII tokens make tokenize/detokenize round-trip',
  );
});
