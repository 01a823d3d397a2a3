/**
 * Writes a tiny random-weight llama GGUF (see src/model/demo-model.ts) and prints `{"path","bytes"}` as one JSON line.
 * Usage: tsx src/tools/make-model.ts <out.gguf> [--preset demo|bench] [--embd N --layers N --heads N --ff N --ctx N
 * --seed N] [--tools-template]
 * --preset bench: the model performance runs compare with llama.cpp's own server (docs/performance.md): 512 wide,
 *   8 layers, 8 heads, 1536 feed-forward, 2048 context (~111 MB F32), big enough that the engine, not the coordinator,
 *   bounds throughput; flags given with it override its dimensions.
 * --tools-template: the GGUF carries Qwen2.5's tool-calling chat template (src/model/chat-templates.ts).
 * --lora OUT.gguf --base MODEL.gguf [--seed N] [--rank R] [--alpha A]: instead of a model, a LoRA adapter for MODEL
 *   (src/model/lora-adapter.ts); prints `{"path","bytes","tensors","rank","alpha"}`.
 */
import { parseArgs } from 'node:util';
import { writeTinyLlamaGguf, type TinyModelDims } from '../model/demo-model.js';
import { HERMES_TOOLS_SPECIAL_TOKENS, HERMES_TOOLS_TEMPLATE } from '../model/chat-templates.js';
import { writeLoraAdapterGguf } from '../model/lora-adapter.js';

const USAGE =
  'usage: tsx src/tools/make-model.ts <out.gguf> [--preset demo|bench] [--embd N --layers N --heads N --ff N --ctx N --seed N] [--tools-template]\n' +
  '       tsx src/tools/make-model.ts --lora <out.gguf> --base <model.gguf> [--seed N] [--rank R] [--alpha A]';

/** Named dimensions; demo is the built-in demo model's (src/model/demo-model.ts). */
const PRESETS: Record<string, Partial<TinyModelDims>> = {
  demo: {},
  bench: { embd: 512, layers: 8, heads: 8, ff: 1536, contextLength: 2048 },
};
const FLAG_OF: Record<keyof TinyModelDims, string> = {
  embd: 'embd',
  layers: 'layers',
  heads: 'heads',
  ff: 'ff',
  contextLength: 'ctx',
};

const OPTIONS = {
  ...Object.fromEntries([...Object.values(FLAG_OF), 'seed'].map((f) => [f, { type: 'string' as const }])),
  preset: { type: 'string' as const },
  'tools-template': { type: 'boolean' as const },
  lora: { type: 'string' as const },
  base: { type: 'string' as const },
  rank: { type: 'string' as const },
  alpha: { type: 'string' as const },
};

// An unknown flag or a missing value is the caller's mistake: one line and the usage, exit 2 (not parseArgs' stack).
function parse() {
  try {
    return parseArgs({ allowPositionals: true, options: OPTIONS });
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}
const { values, positionals } = parse();
const given = values as Record<string, string | boolean | undefined>;
const fail = (problem: string): never => {
  console.error(`${problem}\n${USAGE}`);
  process.exit(2);
};

function int(flag: string, min: number): number | undefined {
  const raw = given[flag] as string | undefined;
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) fail(`--${flag} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

async function makeAdapter(): Promise<void> {
  const modelFlags = ['preset', 'tools-template', ...Object.values(FLAG_OF)].filter((f) => given[f] !== undefined);
  if (modelFlags.length) fail(`--lora makes an adapter: --${modelFlags[0]} is for models`);
  if (positionals.length) fail(`--lora names the output: ${JSON.stringify(positionals[0])} is one path too many`);
  const base = given.base as string | undefined;
  if (base === undefined) fail('--lora needs --base <model.gguf>, the model the adapter is for');
  const alpha = given.alpha === undefined ? undefined : Number(given.alpha);
  if (alpha !== undefined && !(Number.isFinite(alpha) && alpha > 0))
    fail(`--alpha must be a number > 0, got ${JSON.stringify(given.alpha)}`);
  try {
    const written = await writeLoraAdapterGguf(given.lora as string, base as string, {
      seed: int('seed', 0),
      rank: int('rank', 1),
      alpha,
    });
    console.log(JSON.stringify(written));
  } catch (e) {
    // The base is not a GGUF, or has no attention weights: the caller's mistake, said in one line.
    console.error((e as Error).message);
    process.exit(1);
  }
}

async function makeModel(): Promise<void> {
  for (const f of ['base', 'rank', 'alpha']) if (given[f] !== undefined) fail(`--${f} is for adapters (with --lora)`);

  const out = positionals[0];
  if (positionals.length !== 1 || !out) {
    console.error(USAGE);
    process.exit(2);
  }

  const preset = values.preset === undefined ? {} : PRESETS[values.preset as string];
  if (!preset) fail(`--preset must be one of ${Object.keys(PRESETS).join(', ')}, got ${JSON.stringify(values.preset)}`);
  // Only the flags given override the preset and DEMO_DIMS: an undefined entry would clobber its default when spread.
  const dims: Partial<TinyModelDims> = { ...preset };
  for (const [key, flag] of Object.entries(FLAG_OF) as [keyof TinyModelDims, string][]) {
    const n = int(flag, 1);
    if (n !== undefined) dims[key] = n;
  }

  const template = values['tools-template']
    ? { chatTemplate: HERMES_TOOLS_TEMPLATE, specialTokens: HERMES_TOOLS_SPECIAL_TOKENS }
    : {};
  console.log(JSON.stringify(await writeTinyLlamaGguf(out, { dims, seed: int('seed', 0), ...template })));
}

await (given.lora !== undefined ? makeAdapter() : makeModel());
