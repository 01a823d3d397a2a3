import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';
import { orderDecodesBySequence } from '../../actors/device/batch-order.js';
import { writeTinyLlamaGguf } from '../../src/model/demo-model.js';

interface Native {
  addToBatch(seq: number, first: number, tokens: Uint32Array, logits: Uint32Array): Uint32Array;
  decodeBatch(): Promise<void>;
}

t.test('concurrent generations go to llama.cpp as one batch per step, their sequences in id order', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'moc-batch-order-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'model.gguf');
  await writeTinyLlamaGguf(file);
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false });
  const model = await llama.loadModel({ modelPath: file });
  const context = await model.createContext({ contextSize: 128, sequences: 8, threads: 1 });
  t.teardown(async () => {
    await context.dispose();
    await model.dispose();
  });
  t.ok(orderDecodesBySequence(context, { waitTurn: true }), "node-llama-cpp's decode queue is found");

  // Every batch's sequence ids, in the order they were added (the native calls, shadowed on this context).
  const ctx = (context as unknown as { _ctx: Native })._ctx;
  const batches: number[][] = [];
  let current: number[] = [];
  const add = ctx.addToBatch.bind(ctx);
  const decode = ctx.decodeBatch.bind(ctx);
  Object.defineProperty(ctx, 'addToBatch', {
    configurable: true,
    value: (seq: number, first: number, tokens: Uint32Array, logits: Uint32Array) => {
      current.push(seq);
      return add(seq, first, tokens, logits);
    },
  });
  Object.defineProperty(ctx, 'decodeBatch', {
    configurable: true,
    value: () => {
      batches.push(current);
      current = [];
      return decode();
    },
  });

  const tokensEach = 6;
  const prompt = model.tokenize('hi there');
  // Started in decreasing id order: node-llama-cpp alone would queue, and batch, them so.
  const sequences = Array.from({ length: 8 }, () => context.getSequence()).reverse();
  const generated = await Promise.all(
    sequences.map(async (seq) => {
      const out: number[] = [];
      for await (const token of seq.evaluate(prompt, { temperature: 0, yieldEogToken: true })) {
        out.push(token);
        if (out.length >= tokensEach) break;
      }
      return out.length;
    }),
  );
  t.same(generated, Array(8).fill(tokensEach), `every generation has its ${tokensEach} tokens`);
  for (const [i, b] of batches.entries()) {
    t.same(
      b,
      [...b].sort((x, y) => x - y),
      `batch ${i} adds its sequences in increasing id order`,
    );
  }
  // The prompts in one batch, then one batch per further token with all eight sequences in it: llama.cpp then decodes
  // each step as one ubatch (batch-order.ts).
  t.equal(batches.length, tokensEach, `${tokensEach} batches for ${tokensEach} tokens of 8 sequences`);
  for (const [i, b] of batches.entries()) t.equal(new Set(b).size, 8, `batch ${i} holds all 8 sequences`);
});
