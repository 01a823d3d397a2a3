/**
 * The LoRA trainer's foundation (src/trainers/lora/): its GGUF reader reads the generated demo model as MOC's own
 * header parser does, and its llama forward pass in torch gives the logits REAL llama.cpp (node-llama-cpp, prebuilt
 * CPU binary, via src/tools/engine-logits.ts) gives, for the same token ids, within the stated tolerance — with and
 * without a LoRA adapter applied. A deliberately wrong forward (NeoX rope, no RMSNorm) is reported as off, saying by
 * how much. Debian's python3-torch at /usr/bin/python3 (a pyenv python3 earlier on PATH has no torch); without it the
 * test skips, saying what to install.
 */
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { toolArgs } from '../../src/entry.js';
import { writeTinyLlamaGguf } from '../../src/model/demo-model.js';
import { readGgufContents } from '../../src/model/gguf-header.js';
import { writeLoraAdapterGguf } from '../../src/model/lora-adapter.js';
import { packageRoot } from '../../src/package-root.js';
import { runChild } from '../helpers/child.js';

const PY = '/usr/bin/python3';
const TRAINER = path.join(packageRoot(), 'src', 'trainers', 'lora');
const TEXTS = ['Hello world', 'The quick brown fox jumps over the lazy dog.', 'x = [1, 2, 3]  # a list'];

const engineLogits = (t: Test, args: string[]) =>
  runChild(t, process.execPath, [...toolArgs('engine-logits'), ...args]);
// -B: no __pycache__ written into the source tree.
const python = (t: Test, script: string, args: string[]) =>
  runChild(t, PY, ['-B', path.join(TRAINER, script), ...args]);

interface CheckResult {
  ok: boolean;
  max_abs_diff: number;
  logit_scale: number;
  relative: number;
  rtol: number;
  precision: string;
  positions: number;
}

const torch = spawnSync(PY, ['-c', 'import torch, numpy'], { stdio: 'ignore', timeout: 30_000 }).status === 0;
if (!torch) {
  t.plan(0, `${PY} cannot import torch and numpy: apt-get install -y python3-torch python3-numpy (.ci/run does)`);
} else {
  const dir = t.testdir();
  const model = (await writeTinyLlamaGguf(path.join(dir, 'demo.gguf'))).path;
  // The same model with its matrices in F16: the reader's other type, and ggml's other matmul kernel.
  const model16 = (await writeTinyLlamaGguf(path.join(dir, 'demo-f16.gguf'), { weightType: 'F16' })).path;
  // alpha ≠ rank, so the check covers llama.cpp's scale · alpha / rank and not just B·A.
  const lora = (await writeLoraAdapterGguf(path.join(dir, 'lora.gguf'), model, { seed: 7, rank: 4, alpha: 8 })).path;

  t.test('the Python GGUF reader reads the demo model (F32 and F16) as gguf-header.ts does', async (t) => {
    for (const file of [model, model16]) await sameAsGgufHeader(t, file);
  });

  async function sameAsGgufHeader(t: Test, file: string): Promise<void> {
    const r = await python(t, 'gguf_reader.py', [file]);
    t.equal(r.code, 0, r.err);
    const py = JSON.parse(r.out);
    const ts = readGgufContents(file);
    t.same(
      { version: py.version, tensors: py.tensor_count, kvs: py.kv_count },
      { version: ts.header.version, tensors: ts.header.tensorCount, kvs: ts.header.kvCount },
      'version and counts',
    );
    t.same(
      py.tensors.map((x: { name: string; dims: number[]; type: string; offset: number; bytes: number }) => [
        x.name,
        x.dims,
        x.type,
        x.offset,
        x.bytes,
      ]),
      ts.tensors.map((x) => [x.name, x.dims, x.typeName, x.offset, x.bytes]),
      'every tensor: name, dims (ne[0] first), type, offset, bytes',
    );
    for (const [key, entry] of ts.metadata) {
      if (entry.value === undefined)
        t.ok(py.metadata[key]?.length > 0, `${key}: an array (${py.metadata[key]?.length})`);
      else t.equal(py.metadata[key], entry.value, `${key} = ${JSON.stringify(entry.value)}`);
    }
  }

  t.test('torch gives llama.cpp logits, without and with a LoRA adapter', async (t) => {
    // Both engine runs at once: each is mostly tsx's and llama.cpp's start-up.
    const [base, adapted, half] = await Promise.all([
      engineLogits(t, ['--model', model, ...TEXTS]),
      engineLogits(t, ['--model', model, '--lora', lora, '--lora-scale', '0.5', ...TEXTS]),
      engineLogits(t, ['--model', model16, ...TEXTS]),
    ]);
    t.equal(base.code, 0, base.err);
    const baseRef = path.join(dir, 'base.json');
    writeFileSync(baseRef, base.out);
    const ref = JSON.parse(base.out);
    t.same(ref.texts[0].tokens.slice(0, 1), [1], 'the engine put its BOS token (1) first');
    t.equal(ref.precision, 'exact', 'F32 K/V, no flash attention');
    t.equal(adapted.code, 0, adapted.err);
    const loraRef = path.join(dir, 'lora.json');
    writeFileSync(loraRef, adapted.out);
    t.equal(half.code, 0, half.err);
    const halfRef = path.join(dir, 'f16.json');
    writeFileSync(halfRef, half.out);

    const cases: [string, string[]][] = [
      ['base', ['--model', model, '--reference', baseRef]],
      [
        'with the adapter at scale 0.5',
        ['--model', model, '--reference', loraRef, '--lora', lora, '--lora-scale', '0.5'],
      ],
      ['F16 weights', ['--model', model16, '--reference', halfRef]],
    ];
    const checks = await Promise.all(cases.map(([, args]) => python(t, 'check_forward.py', args)));
    for (const [i, [label]] of cases.entries()) {
      const r = checks[i]!;
      t.equal(r.code, 0, `${label}: within the tolerance ${r.err}`);
      const res: CheckResult = JSON.parse(r.out);
      t.ok(res.ok && res.relative <= res.rtol, `${label}: ok`);
      t.equal(
        res.positions,
        ref.texts.reduce((n: number, x: { tokens: number[] }) => n + x.tokens.length, 0),
      );
      t.comment(
        `${label}: max |torch - llama.cpp| ${res.max_abs_diff.toExponential(2)} over ${res.positions} positions, ` +
          `${res.relative.toExponential(2)} of the logits' scale ${res.logit_scale.toFixed(3)} (tolerance ${res.rtol})`,
      );
    }
    // The adapter really moved the engine's logits: agreeing with it is not agreeing with the base again.
    const moved = JSON.parse(adapted.out).texts[0].logits[2].map((v: number, i: number) =>
      Math.abs(v - ref.texts[0].logits[2][i]),
    );
    t.ok(Math.max(...moved) > 0.05, `the adapter moves the logits (by up to ${Math.max(...moved).toFixed(3)})`);

    t.test('a wrong forward is reported as off, by how much', async (t) => {
      const faults = ['neox-rope', 'no-rmsnorm'];
      const ran = await Promise.all(
        faults.map((fault) =>
          python(t, 'check_forward.py', ['--model', model, '--reference', baseRef, '--fault', fault]),
        ),
      );
      for (const [i, fault] of faults.entries()) {
        const r = ran[i]!;
        t.equal(r.code, 1, `${fault}: exit 1`);
        const res: CheckResult = JSON.parse(r.out);
        t.ok(!res.ok && res.relative > 100 * res.rtol, `${fault}: ${res.relative.toFixed(3)} of the scale`);
        t.match(r.err, /the torch forward is off: max \|torch - llama\.cpp\| = .* over the tolerance/, r.err.trim());
      }
      const mismatch = await python(t, 'check_forward.py', ['--model', model, '--reference', baseRef, '--lora', lora]);
      t.equal(mismatch.code, 2, 'an adapter the reference was computed without: refused');
      t.match(mismatch.err, /the reference was computed with adapter None/);
    });
  });

  t.test('a tensor type other than F32 and F16 is refused by name', async (t) => {
    // The same model with token_embd.weight's type id patched to Q8_0 (8): its data is then smaller, still in the file.
    const buf = readFileSync(model);
    const name = Buffer.from('token_embd.weight');
    const at = buf.indexOf(name);
    t.ok(at > 0, 'the tensor info is found');
    buf.writeUInt32LE(8, at + name.length + 4 + 8 * 2); // after the name: n_dims (u32), 2 dims (u64), then the type
    const q8 = path.join(dir, 'q8.gguf');
    writeFileSync(q8, buf);
    t.equal(readGgufContents(q8).tensors[0]!.typeName, 'Q8_0', 'gguf-header.ts reads it as Q8_0');
    const ref = path.join(dir, 'empty-ref.json');
    writeFileSync(ref, JSON.stringify({ precision: 'exact', lora: null, vocab: 448, texts: [] }));
    const r = await python(t, 'check_forward.py', ['--model', q8, '--reference', ref]);
    t.equal(r.code, 2);
    t.match(r.err, /tensor token_embd\.weight of .* is Q8_0; this reader reads F32 and F16 tensors only/);
  });
}
