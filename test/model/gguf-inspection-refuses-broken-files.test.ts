import t from 'tap';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readGgufFileInfo } from 'node-llama-cpp';
import { DEMO_DIMS, writeTinyLlamaGguf } from '../../src/model/demo-model.js';
import { writeGguf } from '../../src/model/gguf-writer.js';
import { ModelInspector } from '../../src/model/inspector.js';
import { MocError } from '../../src/errors.js';

const inspector = new ModelInspector();
t.teardown(() => inspector.close());

const dir = t.testdir();
const good = path.join(dir, 'good.gguf');
await writeTinyLlamaGguf(good);
const goodBytes = readFileSync(good);

/** Where the bytes right after a length-prefixed GGUF string (a key or a tensor name) start. */
function after(buf: Buffer, name: string): number {
  const prefixed = Buffer.alloc(8 + Buffer.byteLength(name));
  prefixed.writeBigUInt64LE(BigInt(Buffer.byteLength(name)));
  prefixed.write(name, 8);
  const at = buf.indexOf(prefixed);
  if (at < 0) throw new Error(`${name} not found in the fixture`);
  return at + prefixed.length;
}

function patched(edit: (b: Buffer) => void): Buffer {
  const b = Buffer.from(goodBytes);
  edit(b);
  return b;
}

t.test('a good file: header facts and sha256', async (t) => {
  const r = await inspector.inspect(good);
  t.equal(r.sha256, createHash('sha256').update(goodBytes).digest('hex'));
  t.equal(r.bytes, goodBytes.length);
  t.match(r.header, {
    version: 3,
    architecture: 'llama',
    name: 'moc-demo',
    quantization: 'F32',
    fileType: 0,
    embeddingLength: DEMO_DIMS.embd,
    blockCount: DEMO_DIMS.layers,
    contextLength: DEMO_DIMS.contextLength,
    headCount: DEMO_DIMS.heads,
    headCountKv: DEMO_DIMS.heads,
    feedForwardLength: DEMO_DIMS.ff,
    fileBytes: goodBytes.length,
  });
  // Cross-checked against node-llama-cpp's own GGUF reader.
  const info = await readGgufFileInfo(good, { readTensorInfo: true });
  const elements = (info.tensorInfo ?? []).reduce(
    (sum, ti) => sum + ti.dimensions.reduce<number>((a, d) => a * Number(d), 1),
    0,
  );
  t.equal(r.header.tensorCount, info.tensorInfo?.length);
  t.equal(r.header.parameterCount, elements, `${elements} parameters`);
  t.equal(r.header.tensorDataBytes, elements * 4, 'F32: 4 bytes per parameter');
  t.equal(r.header.vocabSize, info.metadata.tokenizer?.ggml.tokens.length);
});

const tokensCountAt = after(goodBytes, 'tokenizer.ggml.tokens') + 8; // after the value type and element type
const normOffsetAt = after(goodBytes, 'output_norm.weight') + 4 + 8 + 4; // after n_dims, its one dim and the type

const broken: Array<[string, Buffer | null, RegExp]> = [
  ['bad-magic', patched((b) => b.write('GGML', 0)), /bad magic "GGML"/],
  ['version-9', patched((b) => b.writeUInt32LE(9, 4)), /unsupported GGUF version 9/],
  [
    'truncated-data',
    goodBytes.subarray(0, goodBytes.length - 1000),
    /tensor .* data ends at byte \d+, past the end of the file .*: the file is truncated/,
  ],
  ['truncated-header', goodBytes.subarray(0, 100), /truncated/],
  ['absurd-tensor-count', patched((b) => b.writeBigUInt64LE(2n ** 40n, 8)), /absurd tensor count 1099511627776/],
  ['absurd-kv-count', patched((b) => b.writeBigUInt64LE(2n ** 40n, 16)), /absurd metadata key count 1099511627776/],
  [
    'offset-past-end',
    patched((b) => b.writeBigUInt64LE(1n << 30n, normOffsetAt)),
    /tensor output_norm.weight data starts at byte \d+, past the end of the file/,
  ],
  [
    'misaligned-offset',
    patched((b) => b.writeBigUInt64LE(4n, normOffsetAt)),
    /output_norm.weight has offset 4, not a multiple of the alignment 32/,
  ],
  [
    'huge-array',
    patched((b) => b.writeBigUInt64LE(2n ** 40n, tokensCountAt)),
    /tokenizer.ggml.tokens claims an array of 1099511627776 elements/,
  ],
  [
    'bad-array-type',
    patched((b) => b.writeUInt32LE(13, tokensCountAt - 4)),
    /tokenizer.ggml.tokens is an array of unknown type 13/,
  ],
  [
    'no-architecture',
    writeGguf({ 'general.name': { type: 'string', value: 'x' } }, [
      { name: 'w', dims: [8], data: new Float32Array(8) },
    ]),
    /general.architecture is missing/,
  ],
  ['empty', Buffer.alloc(0), /empty/],
  ['a-directory', null, /not a regular file/],
  ['missing', null, /cannot open .*ENOENT/],
];

for (const [name, bytes, what] of broken) {
  t.test(`refused: ${name}`, async (t) => {
    const file = path.join(dir, `${name}.gguf`);
    if (bytes) writeFileSync(file, bytes);
    if (name === 'a-directory') mkdirSync(file);
    const err = await inspector.inspect(file).then(
      () => null,
      (e: unknown) => e,
    );
    t.type(err, MocError);
    t.match(err, { code: 'MOC_ERR_LOAD_FAILED', message: what });
    t.match((err as MocError).message, file, 'the message names the file');
  });
}

t.test('the pool survived the corpus: a good file still inspects', async (t) => {
  const r = await inspector.inspect(good);
  t.equal(r.header.architecture, 'llama');
});

t.test('a full queue answers MOC_ERR_BUSY at once', async (t) => {
  const small = new ModelInspector({ maxQueue: 1 });
  t.teardown(() => small.destroy());
  const results = await Promise.allSettled(Array.from({ length: 5 }, () => small.inspect(good)));
  const busy = results.filter((r) => r.status === 'rejected');
  t.ok(busy.length >= 3, `${busy.length} of 5 refused (one runs, one waits)`);
  for (const r of busy) t.match((r as PromiseRejectedResult).reason, { code: 'MOC_ERR_BUSY' });
  t.ok(
    results.some((r) => r.status === 'fulfilled'),
    'the accepted ones finish',
  );
});
