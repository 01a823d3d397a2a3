/**
 * Checks a LoRA adapter GGUF against its base model from the two headers alone, before anything is registered or
 * loaded: the checks llama.cpp's llama_adapter_lora_init_impl (src/llama-adapter.cpp) makes when it loads one, plus
 * the ones where it would abort the process instead of failing (an alpha that is not f32) or load garbage.
 * A refusal is MOC_ERR_ADAPTER_REFUSED naming the problem; the base's own problems stay MOC_ERR_LOAD_FAILED.
 */
import { errors, MocError } from '../errors.js';
import { type GgufContents, type GgufTensorInfo, readGgufContents } from './gguf-header.js';

/** What the catalog keeps about an adapter. */
export interface LoraAdapterFacts {
  /** The file's size. */
  bytes: number;
  /** Bytes of its tensors' data: what llama.cpp allocates for it (its "LoRA buffer"), padding aside. */
  tensorDataBytes: number;
  tensorCount: number;
  /** a/b pairs, one per adapted base tensor. */
  pairs: number;
  /** The largest rank of its pairs (PEFT's rank_pattern lets pairs differ; ours never do). */
  rank: number;
  /** adapter.lora.alpha; 0 when absent, and llama.cpp then applies the scale as given (not scale · alpha / rank). */
  alpha: number;
  architecture: string;
}

// GGUF value type of adapter.lora.alpha: llama.cpp reads it with gguf_get_val_f32, which asserts (aborts) on any other.
const GGUF_F32 = 6;
/** The tensor types convert_lora_to_gguf.py writes (--outtype f32, f16, bf16, q8_0). */
const ADAPTER_TYPES = new Set(['F32', 'F16', 'BF16', 'Q8_0']);
const CONVERT = 'convert_lora_to_gguf.py (llama.cpp)';

const shape = (dims: readonly number[]) => `[${dims.join(', ')}]`;

/**
 * `shown` names the files in messages (relative to the models root, so answers do not reveal the server's layout);
 * they default to the paths.
 */
export function checkLoraAdapter(
  adapterPath: string,
  basePath: string,
  shown: { adapter?: string; base?: string } = {},
): LoraAdapterFacts {
  const name = shown.adapter ?? adapterPath;
  const baseName = shown.base ?? basePath;
  const refuse = (problem: string, next: string, details: Record<string, unknown> = {}): never => {
    throw errors.adapterRefused(name, problem, next, { base: baseName, ...details });
  };

  let adapter: GgufContents;
  try {
    adapter = readGgufContents(adapterPath, name);
  } catch (err) {
    if (!(err instanceof MocError) || err.code !== 'MOC_ERR_LOAD_FAILED') throw err;
    // "<name> is not a valid GGUF file: ..." reads as "it is not ..." after the refusal's own naming of the file.
    const problem = err.message.startsWith(`${name} `) ? `it ${err.message.slice(name.length + 1)}` : err.message;
    return refuse(problem, `copy the whole adapter file again, or convert it again with ${CONVERT}`);
  }
  const str = (key: string) => {
    const v = adapter.metadata.get(key)?.value;
    return typeof v === 'string' ? v : undefined;
  };

  const generalType = str('general.type');
  if (generalType !== 'adapter')
    refuse(
      `general.type is ${generalType === undefined ? 'missing' : `'${generalType}'`}, not 'adapter' (a model file, or not made by ${CONVERT})`,
      `register a model as a model; convert a PEFT adapter with ${CONVERT}`,
    );
  const adapterType = str('adapter.type');
  if (adapterType !== 'lora')
    refuse(
      `adapter.type is ${adapterType === undefined ? 'missing' : `'${adapterType}'`}, not 'lora' (only LoRA adapters are supported)`,
      `use a LoRA adapter converted with ${CONVERT}`,
    );
  const alphaEntry = adapter.metadata.get('adapter.lora.alpha');
  if (alphaEntry && (alphaEntry.type !== GGUF_F32 || typeof alphaEntry.value !== 'number'))
    refuse(
      `adapter.lora.alpha has GGUF value type ${alphaEntry.type}, not f32 (${GGUF_F32}); llama.cpp would abort reading it`,
      `convert the adapter again with ${CONVERT}`,
    );
  const alpha = (alphaEntry?.value as number | undefined) ?? 0;

  const base = readGgufContents(basePath, baseName);
  if (adapter.header.architecture !== base.header.architecture)
    refuse(
      `it is for architecture '${adapter.header.architecture}' and the base ${baseName} is '${base.header.architecture}'`,
      'register it with the base model it was trained for',
    );

  const pairs = pairUp(adapter.tensors, refuse);
  if (pairs.size === 0)
    refuse('it has no LoRA tensors (*.lora_a / *.lora_b)', `convert the adapter again with ${CONVERT}`);
  const baseTensors = new Map(base.tensors.map((t) => [t.name, t]));
  const wrongBase = 'register it with the base model it was made for (an adapter fits one base model)';
  let rank = 0;
  for (const [target, { a, b }] of pairs) {
    for (const t of [a, b]) {
      if (t.dims.length !== 2)
        refuse(`${t.name} has ${t.dims.length} dimensions ${shape(t.dims)}, not 2`, `convert it again with ${CONVERT}`);
      if (!t.typeName || !ADAPTER_TYPES.has(t.typeName))
        refuse(
          `${t.name} has tensor type ${t.typeName ?? `#${t.type}`}; adapters are F32, F16, BF16 or Q8_0`,
          `convert it again with ${CONVERT} --outtype f32 (or f16, bf16, q8_0)`,
        );
    }
    const w = baseTensors.get(target);
    if (!w)
      refuse(`its tensor ${a.name} adapts ${target}, which the base ${baseName} does not have`, wrongBase, {
        tensor: target,
      });
    const [a0, a1] = a.dims as [number, number];
    const [b0, b1] = b.dims as [number, number];
    // llama.cpp stores token_embd's pair the other way round (see llm_build_inp_embd): B is not transposed.
    const fits = target.endsWith('token_embd.weight')
      ? w!.dims[0] === b1 && w!.dims[1] === a1
      : w!.dims[0] === a0 && w!.dims[1] === b1 && a1 === b0;
    if (!fits)
      refuse(
        `${target}: its lora_a is ${shape(a.dims)} and lora_b ${shape(b.dims)}, which do not fit the base's ${target} of ${shape(w!.dims)} ` +
          '(lora_a must be [in, rank] and lora_b [rank, out] for a base tensor [in, out])',
        wrongBase,
        { tensor: target, adapterShapes: [a.dims, b.dims], baseShape: w!.dims },
      );
    rank = Math.max(rank, target.endsWith('token_embd.weight') ? a0 : b0);
  }
  return {
    bytes: adapter.header.fileBytes,
    tensorDataBytes: adapter.header.tensorDataBytes,
    tensorCount: adapter.header.tensorCount,
    pairs: pairs.size,
    rank,
    alpha,
    architecture: adapter.header.architecture,
  };
}

/** Base tensor name → its a and b, as llama.cpp pairs them; a name with another suffix or a lone half is refused. */
function pairUp(
  tensors: readonly GgufTensorInfo[],
  refuse: (problem: string, next: string, details?: Record<string, unknown>) => never,
): Map<string, { a: GgufTensorInfo; b: GgufTensorInfo }> {
  const halves = new Map<string, { a?: GgufTensorInfo; b?: GgufTensorInfo }>();
  for (const t of tensors) {
    const half = t.name.endsWith('.lora_a') ? 'a' : t.name.endsWith('.lora_b') ? 'b' : undefined;
    if (!half) {
      // llama.cpp skips norm vectors (mergekit-extract-lora adds them) and refuses anything else.
      if (t.name.endsWith('_norm.weight')) continue;
      refuse(`its tensor ${t.name} is neither a .lora_a nor a .lora_b`, `convert the adapter again with ${CONVERT}`, {
        tensor: t.name,
      });
    }
    const target = t.name.slice(0, -'.lora_a'.length);
    const pair = halves.get(target) ?? {};
    if (pair[half!]) refuse(`its tensor ${t.name} appears twice`, `convert the adapter again with ${CONVERT}`);
    pair[half!] = t;
    halves.set(target, pair);
  }
  const pairs = new Map<string, { a: GgufTensorInfo; b: GgufTensorInfo }>();
  for (const [target, { a, b }] of halves) {
    if (!a || !b) {
      const [has, lacks] = a ? ['lora_a', 'lora_b'] : ['lora_b', 'lora_a'];
      refuse(
        `${target}.${has} has no partner ${target}.${lacks} (a LoRA pair needs both)`,
        `copy or convert the adapter again with ${CONVERT}`,
        { tensor: target },
      );
    }
    pairs.set(target, { a: a!, b: b! });
  }
  return pairs;
}
