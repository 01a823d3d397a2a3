import t from 'tap';
import path from 'node:path';
import { readGgufFileInfo } from 'node-llama-cpp';
import { readdir, readFile, stat } from 'node:fs/promises';
import {
  buildTinyLlamaGguf,
  ensureDemoModel,
  writeAtomically,
  writeTinyLlamaGguf,
  DEMO_DIMS,
} from '../../src/model/demo-model.js';
import { EngineCore } from '../../actors/device/engine-core.js';

t.test('the generator is deterministic per seed', async (t) => {
  t.ok(buildTinyLlamaGguf({ seed: 5 }).equals(buildTinyLlamaGguf({ seed: 5 })), 'same seed, same bytes');
  t.notOk(buildTinyLlamaGguf({ seed: 5 }).equals(buildTinyLlamaGguf({ seed: 6 })), 'another seed, other weights');
  t.throws(() => buildTinyLlamaGguf({ dims: { embd: 66, heads: 4 } }), /multiple of heads/);
});

t.test('servers starting at once on one models root: the first demo model written stays, never replaced', async (t) => {
  // Each call checks, then writes: all four find no file and write one. A replacing write (rename) gives the file a new
  // inode and modification time after an earlier call returned, under a server that had registered it by then.
  const root = t.testdir();
  const seen = await Promise.all(
    Array.from({ length: 4 }, async () => {
      const file = await ensureDemoModel(root);
      const { ino, mtimeMs } = await stat(file);
      return `${ino}@${mtimeMs}`;
    }),
  );
  const { ino, mtimeMs } = await stat(path.join(root, 'moc-demo.gguf'));
  t.same(new Set(seen), new Set([`${ino}@${mtimeMs}`]), 'every caller saw the file that is there at the end');
  t.ok(buildTinyLlamaGguf().equals(await readFile(path.join(root, 'moc-demo.gguf'))), 'and it is whole');
  t.same(
    (await readdir(root)).filter((f) => f.endsWith('.tmp')),
    [],
    'no temp file left behind',
  );
  await writeAtomically(path.join(root, 'moc-demo.gguf'), Buffer.from('other'), { replace: false });
  t.equal((await stat(path.join(root, 'moc-demo.gguf'))).ino, ino, 'a later write leaves it as it is');
});

t.test('the file is a GGUF llama.cpp reads back as written, and it generates', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'm.gguf');
  const { bytes } = await writeTinyLlamaGguf(file, { dims: { embd: 96, layers: 3, heads: 4 } });
  const info = await readGgufFileInfo(file, { readTensorInfo: true });
  const meta = info.metadata as any;
  t.equal(meta.general.architecture, 'llama');
  t.equal(meta.llama.embedding_length, 96);
  t.equal(meta.llama.block_count, 3);
  t.equal(meta.llama.context_length, DEMO_DIMS.contextLength);
  t.equal(info.tensorInfo?.length, 3 + 3 * 9, 'embeddings, norm, output + 9 tensors per layer');
  t.ok(bytes > 100_000, `${bytes} bytes`);

  const core = await EngineCore.create({ threads: 1, gpu: 'cpu' });
  t.teardown(() => core.dispose());
  await core.load({ name: 'm', path: file, contextSize: 128, sequences: 1 });
  const signal = new AbortController().signal;
  let total = 0;
  for (const prompt of ['Hello', 'abc', 'The quick brown fox']) {
    const out = await core.generate(
      { model: 'm', prompt, maxTokens: 8, temperature: 0, stop: [], stream: false },
      signal,
    );
    t.ok(out.promptTokens >= 2, 'the prompt was tokenized (BOS + bytes)');
    // Random weights: the greedy path may hit end-of-sequence early; otherwise it runs to max_tokens.
    t.ok(
      out.finishReason === 'eos' ? out.tokensGenerated < 8 : out.finishReason === 'length' && out.tokensGenerated === 8,
      `${JSON.stringify(prompt)}: ${out.tokensGenerated} tokens, ${out.finishReason}`,
    );
    total += out.tokensGenerated;
  }
  t.ok(total > 0, `${total} tokens generated in all`);
});
