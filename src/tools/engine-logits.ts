/**
 * The engine's logits of a few texts, as JSON: what the LoRA trainer's torch forward pass is checked against
 * (src/trainers/lora/check_forward.py). node-llama-cpp loads the GGUF (the prebuilt CPU binary, as MOC's engine), each
 * text is tokenized by the engine with the BOS token the engine puts before a prompt (EngineCore.evaluate's rule), and
 * evaluated from an empty sequence; the logits after every token (or the last --last K) come back in full.
 *
 * Usage: tsx src/tools/engine-logits.ts --model <model.gguf> [--lora <adapter.gguf> [--lora-scale S]] [--last K]
 *          [--as-served] [--threads N] <text>...
 * Prints one JSON object: {"model","lora","loraScale","precision","kvType","flashAttention","vocab",
 * "texts":[{"text","tokens","first","logits"}]} where logits[j] are the logits (by token id) after tokens[first + j],
 * i.e. the engine's prediction of the token at first + j + 1.
 *
 * precision "exact" (the default): F32 K/V cache and no flash attention, so llama.cpp computes in F32 throughout and
 * the comparison measures the forward pass itself (torch agrees to ~1e-6 of the logits' scale on the demo model).
 * --as-served, precision "served": the engine's defaults, as MOC serves (flash attention on the CPU, which keeps K/V in
 * F16): ~1e-3 of the scale from that rounding alone.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { getLlama, GgmlType, LlamaLogLevel, type ControlledEvaluateInputItem, type Token } from 'node-llama-cpp';
import { beginningToken } from '../../actors/device/engine-core.js';

const USAGE =
  'usage: tsx src/tools/engine-logits.ts --model <model.gguf> [--lora <adapter.gguf> [--lora-scale S]] [--last K] ' +
  '[--as-served] [--threads N] <text>...';

function fail(problem: string): never {
  console.error(`${problem}\n${USAGE}`);
  process.exit(2);
}

function parse() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        model: { type: 'string' },
        lora: { type: 'string' },
        'lora-scale': { type: 'string' },
        last: { type: 'string' },
        'as-served': { type: 'boolean' },
        threads: { type: 'string' },
      },
    });
  } catch (e) {
    return fail((e as Error).message);
  }
}

function positiveInt(raw: string | undefined, flag: string, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) fail(`--${flag} must be an integer >= 1, got ${JSON.stringify(raw)}`);
  return n;
}

const { values, positionals: texts } = parse();
if (!values.model) fail('--model is required');
if (texts.length === 0) fail('give at least one text');
if (values['lora-scale'] !== undefined && !values.lora) fail('--lora-scale needs --lora');
const loraScale = values['lora-scale'] === undefined ? 1 : Number(values['lora-scale']);
if (!Number.isFinite(loraScale)) fail(`--lora-scale must be a number, got ${JSON.stringify(values['lora-scale'])}`);
const asServed = values['as-served'] === true;
const last = values.last === undefined ? undefined : positiveInt(values.last, 'last', 1);
const threads = positiveInt(values.threads, 'threads', 1);

const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false });
try {
  const model = await llama.loadModel({ modelPath: values.model });
  const begin = beginningToken(model);
  const inputs = texts.map((text) => {
    const tokens = model.tokenize(text);
    return begin !== null ? [begin, ...tokens] : tokens;
  });
  const longest = Math.max(...inputs.map((t) => t.length));
  const context = await model.createContext({
    contextSize: Math.max(64, longest),
    threads,
    ...(asServed
      ? {}
      : {
          flashAttention: false,
          experimentalKvCacheKeyType: 'F32' as const,
          experimentalKvCacheValueType: 'F32' as const,
        }),
    ...(values.lora ? { lora: { adapters: [{ filePath: values.lora, scale: loraScale }] } } : {}),
  });
  const seq = context.getSequence();
  let vocab = 0;
  const out = [];
  for (let i = 0; i < texts.length; i++) {
    const tokens = inputs[i]!;
    const first = last === undefined ? 0 : Math.max(0, tokens.length - last);
    await seq.clearHistory();
    const input: ControlledEvaluateInputItem[] = tokens.map((tok, p) =>
      p >= first ? [tok, { generateNext: { logits: true } }] : tok,
    );
    const evaluated = await seq.controlledEvaluate(input);
    const logits: number[][] = [];
    for (let p = first; p < tokens.length; p++) {
      const map = evaluated[p]?.next?.logits;
      if (!map) throw new Error(`no logits came back for position ${p} of text ${i}`);
      const row = new Array<number>(map.size);
      for (const [tok, v] of map) row[tok as number] = v;
      if (row.length !== map.size || row.some((v) => v === undefined))
        throw new Error(`the logits of position ${p} are not indexed 0..${map.size - 1}`);
      vocab = row.length;
      logits.push(row);
    }
    out.push({ text: texts[i], tokens: tokens.map((t: Token) => t as number), first, logits });
  }
  const kvType = GgmlType[context.kvCacheKeyType];
  const flashAttention = context.flashAttention;
  await context.dispose();
  await model.dispose();
  console.log(
    JSON.stringify({
      model: path.basename(values.model),
      lora: values.lora ? path.basename(values.lora) : null,
      loraScale: values.lora ? loraScale : null,
      precision: asServed ? 'served' : 'exact',
      kvType,
      flashAttention,
      vocab,
      texts: out,
    }),
  );
} finally {
  await llama.dispose();
}
