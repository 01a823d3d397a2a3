/**
 * The model that ships with MOC: a tiny llama-architecture GGUF with random weights and a byte-level tokenizer,
 * generated locally (no model hub is reachable from these machines). It runs real llama.cpp inference and writes
 * gibberish by design. Dimensions are parameters so tests can make models of different sizes.
 */
import { randomUUID } from 'node:crypto';
import { link, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { writeGguf, type GgufTensor, type GgufValue } from './gguf-writer.js';

export interface TinyModelDims {
  embd: number;
  layers: number;
  heads: number;
  ff: number;
  contextLength: number;
}
export const DEMO_DIMS: TinyModelDims = { embd: 64, layers: 2, heads: 4, ff: 128, contextLength: 2048 };
export const DEMO_MODEL_FILE = 'moc-demo.gguf';

// Token types of llama.cpp's vocab: NORMAL=1, UNKNOWN=2, CONTROL=3, BYTE=6.
export function vocabulary(specialTokens: string[] = []): { tokens: string[]; types: number[] } {
  const tokens = ['<unk>', '<s>', '</s>', ...specialTokens];
  const types = [2, 3, 3, ...specialTokens.map(() => 3)];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6);
  }
  // The SentencePiece space marker and printable ASCII as normal tokens: without them node-llama-cpp warns that
  // tokenize/detokenize do not round-trip (byte tokens alone decode differently).
  tokens.push('\u2581');
  types.push(1);
  for (let c = 0x21; c <= 0x7e; c++) {
    tokens.push(String.fromCharCode(c));
    types.push(1);
  }
  for (let c = 0x21; c <= 0x7e; c++) {
    tokens.push(`\u2581${String.fromCharCode(c)}`);
    types.push(1);
  }
  return { tokens, types };
}

/** mulberry32: small, fast, deterministic; the same seed gives the same file byte for byte. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface TinyModelOptions {
  dims?: Partial<TinyModelDims>;
  seed?: number;
  name?: string;
  /** A Jinja chat template stored as `tokenizer.chat_template` (the demo model has none: chats use the fallback). */
  chatTemplate?: string;
  /** Control tokens added after `</s>` (e.g. a template's `<|im_start|>`), so the template's markers are single tokens. */
  specialTokens?: string[];
  /** F16 stores the matrices (embeddings, projections, output) in F16, norms in F32, as llama.cpp's converters do for
   * an F16 model (general.file_type 1); the default, F32, stores everything in F32. */
  weightType?: 'F32' | 'F16';
}

export function buildTinyLlamaGguf(opts: TinyModelOptions = {}): Buffer {
  const d: TinyModelDims = { ...DEMO_DIMS, ...opts.dims };
  if (d.embd % d.heads !== 0) throw new Error(`embd (${d.embd}) must be a multiple of heads (${d.heads})`);
  const rand = prng(opts.seed ?? 1);
  const { tokens, types } = vocabulary(opts.specialTokens ?? []);
  const vocab = tokens.length;
  const random = (n: number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = (rand() - 0.5) * 0.2;
    return a;
  };
  const ones = (n: number) => new Float32Array(n).fill(1);
  const tensors: GgufTensor[] = [
    { name: 'token_embd.weight', dims: [d.embd, vocab], data: random(d.embd * vocab) },
    { name: 'output_norm.weight', dims: [d.embd], data: ones(d.embd) },
    { name: 'output.weight', dims: [d.embd, vocab], data: random(d.embd * vocab) },
  ];
  for (let i = 0; i < d.layers; i++) {
    const b = `blk.${i}.`;
    tensors.push(
      { name: `${b}attn_norm.weight`, dims: [d.embd], data: ones(d.embd) },
      { name: `${b}attn_q.weight`, dims: [d.embd, d.embd], data: random(d.embd * d.embd) },
      { name: `${b}attn_k.weight`, dims: [d.embd, d.embd], data: random(d.embd * d.embd) },
      { name: `${b}attn_v.weight`, dims: [d.embd, d.embd], data: random(d.embd * d.embd) },
      { name: `${b}attn_output.weight`, dims: [d.embd, d.embd], data: random(d.embd * d.embd) },
      { name: `${b}ffn_norm.weight`, dims: [d.embd], data: ones(d.embd) },
      { name: `${b}ffn_gate.weight`, dims: [d.embd, d.ff], data: random(d.embd * d.ff) },
      { name: `${b}ffn_down.weight`, dims: [d.ff, d.embd], data: random(d.ff * d.embd) },
      { name: `${b}ffn_up.weight`, dims: [d.embd, d.ff], data: random(d.embd * d.ff) },
    );
  }
  const u32 = (value: number): GgufValue => ({ type: 'u32', value });
  const metadata: Record<string, GgufValue> = {
    'general.architecture': { type: 'string', value: 'llama' },
    'general.name': { type: 'string', value: opts.name ?? 'moc-demo' },
    'general.alignment': u32(32),
    'general.file_type': u32(opts.weightType === 'F16' ? 1 : 0),
    'llama.context_length': u32(d.contextLength),
    'llama.embedding_length': u32(d.embd),
    'llama.block_count': u32(d.layers),
    'llama.feed_forward_length': u32(d.ff),
    'llama.attention.head_count': u32(d.heads),
    'llama.attention.head_count_kv': u32(d.heads),
    'llama.rope.dimension_count': u32(d.embd / d.heads),
    'llama.attention.layer_norm_rms_epsilon': { type: 'f32', value: 1e-5 },
    'llama.vocab_size': u32(vocab),
    'tokenizer.ggml.model': { type: 'string', value: 'llama' },
    'tokenizer.ggml.tokens': { type: 'string[]', value: tokens },
    'tokenizer.ggml.scores': { type: 'f32[]', value: tokens.map(() => 0) },
    'tokenizer.ggml.token_type': { type: 'i32[]', value: types },
    'tokenizer.ggml.bos_token_id': u32(1),
    'tokenizer.ggml.eos_token_id': u32(2),
    'tokenizer.ggml.unknown_token_id': u32(0),
    'tokenizer.ggml.add_bos_token': { type: 'bool', value: true },
    ...(opts.chatTemplate
      ? { 'tokenizer.chat_template': { type: 'string', value: opts.chatTemplate } as GgufValue }
      : {}),
  };
  const weightType = opts.weightType ?? 'F32';
  if (weightType !== 'F32') for (const t of tensors) if (t.dims.length === 2) t.type = weightType;
  return writeGguf(metadata, tensors);
}

/** Write atomically (temp file + rename), so a crash never leaves a half-written model behind. */
export async function writeTinyLlamaGguf(
  filePath: string,
  opts: TinyModelOptions = {},
): Promise<{ path: string; bytes: number }> {
  return writeAtomically(filePath, buildTinyLlamaGguf(opts));
}

/**
 * Writes `buf` through a temp file and a rename; generated models and adapters both go through it. `replace: false`:
 * the first writer wins — link(2) of the complete temp file fails with EEXIST where rename(2) would replace what
 * another writer put there (a filesystem without hard links falls back to the rename).
 */
export async function writeAtomically(
  filePath: string,
  buf: Buffer,
  o: { replace?: boolean } = {},
): Promise<{ path: string; bytes: number }> {
  await mkdir(path.dirname(filePath), { recursive: true });
  // Unique per call: two concurrent writers of the same path (e.g. two ensureDemoModel calls) must not share a temp file.
  const tmp = `${filePath}.${process.pid}.${randomUUID()}.tmp`;
  try {
    await writeFile(tmp, buf);
    if (o.replace === false) await link(tmp, filePath).catch((err) => keepFirst(err, tmp, filePath));
    else await rename(tmp, filePath);
  } finally {
    await rm(tmp, { force: true });
  }
  return { path: path.resolve(filePath), bytes: buf.length };
}

async function keepFirst(err: NodeJS.ErrnoException, tmp: string, filePath: string): Promise<void> {
  if (err.code === 'EEXIST') return;
  if (err.code === 'EPERM' || err.code === 'ENOTSUP' || err.code === 'EOPNOTSUPP') return rename(tmp, filePath);
  throw err;
}

/**
 * The demo model in the models root, generated on first start — and never replaced once there. Several servers may
 * start at once on one models root (two processes on one data dir, fleet hosts on a shared volume): a replacing
 * write would give the file a new modification time under a server that had just registered it, and that server's
 * loads would then fail as "changed since registration" (it did: 180 of 200 jobs failed that way in a test).
 */
export async function ensureDemoModel(modelsRoot: string): Promise<string> {
  const file = path.resolve(modelsRoot, DEMO_MODEL_FILE);
  if (!(await stat(file).catch(() => null))) await writeAtomically(file, buildTinyLlamaGguf(), { replace: false });
  return file;
}
