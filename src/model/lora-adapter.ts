/**
 * LoRA adapters for the models MOC generates, written as llama.cpp's convert_lora_to_gguf.py writes them (no adapter
 * can be downloaded here): general.type "adapter", adapter.type "lora", adapter.lora.alpha (f32), and for each adapted
 * base tensor W (ne = [in, out]) a pair `W.lora_a` (ne = [in, rank]) and `W.lora_b` (ne = [rank, out]), F32.
 * llama.cpp adds scale · alpha / rank · B·A·x to W·x (llama-adapter.cpp, llama-graph.cpp build_lora_mm).
 * The weights are random, so an adapter changes what a model writes without making it any better.
 */
import { readGgufContents } from './gguf-header.js';
import { prng, writeAtomically } from './demo-model.js';
import { writeGguf, type GgufTensor, type GgufValue } from './gguf-writer.js';

/** The attention projections of every layer, as LoRA fine-tunes usually target them. */
export const LORA_TARGETS = ['attn_q', 'attn_k', 'attn_v', 'attn_output'] as const;
export const DEFAULT_LORA_RANK = 8;

/**
 * The standard deviation of one element of B·A at alpha = rank: about that of the demo model's weights (uniform in
 * ±0.1, sd 0.058), so at scale 1 the adapter roughly doubles each adapted weight's spread and the model's next-token
 * choices change visibly; at scale 0 it adds nothing.
 */
const UPDATE_SD = 0.06;

export interface LoraAdapterOptions {
  /** The same seed (and base and options) give the same bytes. Default 1. */
  seed?: number;
  /** Default DEFAULT_LORA_RANK. */
  rank?: number;
  /** Default: the rank (llama.cpp then scales B·A by the adapter's scale alone). */
  alpha?: number;
  name?: string;
}

export interface LoraAdapterWritten {
  path: string;
  bytes: number;
  tensors: number;
  rank: number;
  alpha: number;
}

const TARGET = new RegExp(`^blk\\.\\d+\\.(${LORA_TARGETS.join('|')})\\.weight$`);

/** The adapter's bytes for the GGUF at `basePath` (read from its header only). */
export function buildLoraAdapterGguf(basePath: string, opts: LoraAdapterOptions = {}): Buffer {
  const rank = opts.rank ?? DEFAULT_LORA_RANK;
  const alpha = opts.alpha ?? rank;
  if (!Number.isSafeInteger(rank) || rank < 1) throw new Error(`rank must be an integer >= 1, got ${rank}`);
  if (!Number.isFinite(alpha) || alpha <= 0) throw new Error(`alpha must be a number > 0, got ${alpha}`);
  const { header, tensors: baseTensors } = readGgufContents(basePath);
  const targets = baseTensors.filter((t) => TARGET.test(t.name) && t.dims.length === 2);
  if (targets.length === 0)
    throw new Error(`${basePath} has no ${LORA_TARGETS.join('/')} weights to adapt (blk.N.attn_q.weight, ...)`);

  const rand = prng(opts.seed ?? 1);
  // sd(B·A) = sqrt(rank) · h²/3 for A, B uniform in ±h: pick h so it is UPDATE_SD whatever the rank.
  const h = Math.sqrt((3 * UPDATE_SD) / Math.sqrt(rank));
  const random = (n: number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * h;
    return a;
  };
  const tensors: GgufTensor[] = [];
  for (const t of targets) {
    const [inputs, outputs] = t.dims as [number, number];
    tensors.push(
      { name: `${t.name}.lora_a`, dims: [inputs, rank], data: random(inputs * rank) },
      { name: `${t.name}.lora_b`, dims: [rank, outputs], data: random(rank * outputs) },
    );
  }
  const metadata: Record<string, GgufValue> = {
    'general.architecture': { type: 'string', value: header.architecture },
    'general.type': { type: 'string', value: 'adapter' },
    'general.name': { type: 'string', value: opts.name ?? `${header.name ?? 'model'}-lora` },
    'general.alignment': { type: 'u32', value: 32 },
    'general.file_type': { type: 'u32', value: 0 },
    'adapter.type': { type: 'string', value: 'lora' },
    'adapter.lora.alpha': { type: 'f32', value: alpha },
  };
  return writeGguf(metadata, tensors);
}

/** Writes the adapter atomically and says what it wrote. */
export async function writeLoraAdapterGguf(
  outPath: string,
  basePath: string,
  opts: LoraAdapterOptions = {},
): Promise<LoraAdapterWritten> {
  const buf = buildLoraAdapterGguf(basePath, opts);
  const rank = opts.rank ?? DEFAULT_LORA_RANK;
  const written = await writeAtomically(outPath, buf);
  return { ...written, tensors: readGgufContents(outPath).tensors.length, rank, alpha: opts.alpha ?? rank };
}
