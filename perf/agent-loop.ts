/**
 * The agent workload of issue 25, against MOC and llama.cpp's own llama-server in one run: N agents (default 24) each
 * hold a multi-turn chat over the OpenAI chat API (streamed): a shared system prompt with tool definitions (~1,000
 * tokens of the bench model), then turns that each add a user message and the last answer, 16 new tokens a turn,
 * 8 turns. Prints one JSON line: turns/s, time to first token p50/p99, prompt tokens and how many of them each server
 * said it took from its cache (`usage.prompt_tokens_details.cached_tokens`), and ratios MOC / llama-server.
 *
 *   perf/agent-loop.ts ──spawn──▶ llama-server -m MODEL -np 8 -t 1 --port P   (its defaults: prompt cache on)
 *                     ──spawn──▶ moc serve (perf/lib/moc-peer.ts), then again with `promptCache: {enabled: false}`
 *                                when this MOC has that key
 *
 *   npx tsx perf/agent-loop.ts [--agents 24] [--turns 8] [--new-tokens 16] [--system-tokens 1000] [--model bench]
 *                              [--context N] [--llama-server PATH]
 * MOC gets llama-server's context per slot (its /props: the model's trained 2048 for both generated models) as its
 * context per sequence; --context N gives both N instead (llama-server: `-c` = slots × N).
 */
import type * as grpc from '@grpc/grpc-js';
import { parseArgs } from 'node:util';
import { modelOpsClient } from '../src/transports/grpc/proto.js';
import { ConfigSchema } from '../schemas/config.js';
import { startLlamaServer } from './lib/llama-server.js';
import { startMocPeer } from './lib/moc-peer.js';
import { EXIT_NO_TOOLCHAIN, ensureLlamaServer, ensurePeerModels, NoToolchainError } from './lib/peer-cache.js';
import { cpuMs } from './lib/proc.js';

const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '24' },
    turns: { type: 'string', default: '8' },
    'new-tokens': { type: 'string', default: '16' },
    'system-tokens': { type: 'string', default: '1000' },
    model: { type: 'string', default: 'bench' },
    context: { type: 'string' },
    parallel: { type: 'string', default: '8' },
    threads: { type: 'string', default: '1' },
    'llama-server': { type: 'string' },
  },
});
const agents = Number(values.agents);
const turns = Number(values.turns);
const newTokens = Number(values['new-tokens']);
const systemTokens = Number(values['system-tokens']);
const contextArgs = values.context ? ['-c', String(Number(values.parallel) * Number(values.context))] : [];
const parallel = Number(values.parallel);
const threads = Number(values.threads);

let bin = values['llama-server'];
if (!bin) {
  try {
    bin = (await ensureLlamaServer()).bin;
  } catch (err) {
    if (!(err instanceof NoToolchainError)) throw err;
    console.error(`perf:agent-loop skipped: ${err.message}`);
    console.log(JSON.stringify({ script: 'perf/agent-loop', skipped: err.message }));
    process.exit(EXIT_NO_TOOLCHAIN);
  }
}
const files = await ensurePeerModels();
const file = values.model === 'demo' ? files.demo : values.model === 'bench' ? files.bench : undefined;
if (!file) throw new Error(`--model: '${values.model}' is not one of demo, bench`);

/**
 * Tool definitions as an agent framework writes them into its system prompt, repeated up to the size asked (the demo
 * and bench models' tokenizer is byte-level: a character is about a token).
 */
function systemPrompt(chars: number): string {
  const tools = ['read_file', 'write_file', 'run_tests', 'search_code', 'open_issue', 'list_jobs'].map((name) => ({
    type: 'function',
    function: {
      name,
      description: `Call ${name} when the task needs it; answer with the call only.`,
      parameters: { type: 'object', properties: { path: { type: 'string' }, query: { type: 'string' } } },
    },
  }));
  let text = 'You are a coding agent. You may call these tools:\n';
  for (let i = 0; text.length < chars; i++) text += `${JSON.stringify(tools[i % tools.length])}\n`;
  return text.slice(0, chars);
}
const SYSTEM = systemPrompt(systemTokens);

interface TurnResult {
  ok: boolean;
  ttftMs?: number;
  promptTokens?: number;
  cachedTokens?: number;
  text: string;
  error?: string;
}

/** One streamed chat turn: time to the first piece of text, the text, and the usage of the last chunk. */
async function turn(url: string, model: string, messages: { role: string; content: string }[]): Promise<TurnResult> {
  const t0 = performance.now();
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model,
      messages,
      max_tokens: newTokens,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  if (!r.ok || !r.body) return { ok: false, text: '', error: `${r.status} ${(await r.text()).slice(0, 200)}` };
  let ttftMs: number | undefined;
  let text = '';
  let usage: { prompt_tokens?: number; prompt_tokens_details?: { cached_tokens?: number } } | undefined;
  let error: string | undefined;
  let buf = '';
  const decoder = new TextDecoder();
  for await (const chunk of r.body) {
    buf += decoder.decode(chunk as Uint8Array, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (!line.startsWith('data:')) continue;
      const data = line.slice(5).trim();
      if (data === '[DONE]') continue;
      const ev = JSON.parse(data);
      if (ev.error) error = JSON.stringify(ev.error).slice(0, 200);
      const piece = ev.choices?.[0]?.delta?.content;
      if (typeof piece === 'string' && piece.length > 0) {
        ttftMs ??= performance.now() - t0;
        text += piece;
      }
      if (ev.usage) usage = ev.usage;
    }
  }
  return {
    ok: !error,
    text,
    ...(ttftMs !== undefined ? { ttftMs } : {}),
    ...(error ? { error } : {}),
    ...(usage?.prompt_tokens !== undefined ? { promptTokens: usage.prompt_tokens } : {}),
    ...(usage?.prompt_tokens_details?.cached_tokens !== undefined
      ? { cachedTokens: usage.prompt_tokens_details.cached_tokens }
      : {}),
  };
}

/** The same turn over gRPC's InferStream: the first `text` chunk is the first token, `done` carries the counts. */
function grpcTurn(
  client: grpc.Client,
  model: string,
  messages: { role: string; content: string }[],
): Promise<TurnResult> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let ttftMs: number | undefined;
    let text = '';
    let done: { prompt_tokens?: number; cached_tokens?: number } | undefined;
    const call = (client as unknown as Record<string, (req: object) => grpc.ClientReadableStream<never>>).InferStream!({
      model,
      messages,
      max_tokens: newTokens,
      temperature: 0,
    });
    call.on('data', (chunk: { text?: string; done?: typeof done }) => {
      if (chunk.text) {
        ttftMs ??= performance.now() - t0;
        text += chunk.text;
      }
      if (chunk.done) done = chunk.done;
    });
    call.on('error', (e: Error) => resolve({ ok: false, text, error: e.message.slice(0, 200) }));
    call.on('end', () =>
      resolve({
        ok: true,
        text,
        ...(ttftMs !== undefined ? { ttftMs } : {}),
        ...(done?.prompt_tokens !== undefined ? { promptTokens: done.prompt_tokens } : {}),
        ...(done?.cached_tokens !== undefined ? { cachedTokens: done.cached_tokens } : {}),
      }),
    );
  });
}

type Turn = (messages: { role: string; content: string }[]) => Promise<TurnResult>;

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! * 10) / 10;
};
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

interface LoopResult {
  turns: number;
  errors: number;
  first_errors?: string[];
  seconds: number;
  turns_per_s: number;
  ttft_p50_ms: number | null;
  ttft_p99_ms: number | null;
  prompt_tokens: number;
  /** null: the server's answers carry no `prompt_tokens_details.cached_tokens`. */
  cached_tokens: number | null;
  cache_hit_ratio: number | null;
  cpu_cores: number;
}

/** Every agent's conversation, all at once; each agent's turns one after the other. */
async function loop(send: Turn, pid: number, tag = ''): Promise<LoopResult> {
  const ttft: number[] = [];
  const errors: string[] = [];
  let done = 0;
  let prompt = 0;
  let cached: number | null = null;
  const cpu0 = cpuMs(pid);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: agents }, async (_, a) => {
      const messages = [{ role: 'system', content: SYSTEM }];
      for (let i = 0; i < turns; i++) {
        messages.push({
          role: 'user',
          content: `Agent ${a}${tag}, step ${i}: read src/job-${a}-${i}.ts and fix its test.`,
        });
        const r = await send(messages).catch((e: Error) => ({ ok: false, text: '', error: e.message }));
        if (!r.ok) {
          errors.push(r.error ?? 'failed');
          messages.pop();
          continue;
        }
        done++;
        if ('ttftMs' in r && r.ttftMs !== undefined) ttft.push(r.ttftMs);
        if ('promptTokens' in r) prompt += r.promptTokens ?? 0;
        if ('cachedTokens' in r && r.cachedTokens !== undefined) cached = (cached ?? 0) + r.cachedTokens;
        messages.push({ role: 'assistant', content: r.text });
      }
    }),
  );
  const wall = performance.now() - t0;
  return {
    turns: done,
    errors: errors.length,
    ...(errors.length > 0 ? { first_errors: [...new Set(errors)].slice(0, 3) } : {}),
    seconds: round(wall / 1000, 1),
    turns_per_s: round(done / (wall / 1000), 2),
    ttft_p50_ms: pct(ttft, 50),
    ttft_p99_ms: pct(ttft, 99),
    prompt_tokens: prompt,
    cached_tokens: cached,
    cache_hit_ratio: cached === null || prompt === 0 ? null : round(cached / prompt),
    cpu_cores: round((cpuMs(pid) - cpu0) / wall),
  };
}

const model = values.model;
const results: Record<string, LoopResult | { skipped: string }> = {};
const peer = await startLlamaServer({
  bin,
  model: file,
  parallel,
  threads,
  extraArgs: contextArgs,
});
try {
  results.llama_server = await loop((m) => turn(`${peer.url}/v1/chat/completions`, model, m), peer.pid);
} finally {
  await peer.stop();
}
const slotContext = peer.slotContext;
// The prompt cache's switch, once MOC has one; until then MOC runs once, as it is.
const hasCacheSwitch = 'promptCache' in ConfigSchema.properties;
for (const [key, extraYaml] of [
  ['moc', ''],
  ['moc_no_cache', 'promptCache:\n  enabled: false'],
] as const) {
  if (extraYaml && !hasCacheSwitch) {
    results[key] = { skipped: 'this MOC has no promptCache config key yet (no cache to turn off)' };
    continue;
  }
  const moc = await startMocPeer({
    name: model,
    file,
    contextSize: slotContext,
    sequences: parallel,
    threads,
    extraYaml,
  });
  try {
    results[key] = await loop((m) => turn(`${moc.url}/openai/v1/chat/completions`, model, m), moc.pid);
    if (key === 'moc') {
      // The same agents over gRPC (InferStream with messages). Their user turns name the transport, so only the
      // shared system prompt can come from the OpenAI run's cache, as it would from any earlier agent's.
      const client = modelOpsClient(moc.grpc);
      try {
        results.moc_grpc = await loop((m) => grpcTurn(client, model, m), moc.pid, ' (gRPC)');
      } finally {
        client.close();
      }
    }
  } finally {
    await moc.stop();
  }
}

const tps = (k: string) => (results[k] as LoopResult | undefined)?.turns_per_s;
const ratio = (k: string) => {
  const a = tps(k);
  const b = tps('llama_server');
  return a !== undefined && b ? round(a / b) : null;
};
console.log(
  JSON.stringify({
    script: 'perf/agent-loop',
    date: new Date().toISOString(),
    model,
    agents,
    turns,
    new_tokens: newTokens,
    system_chars: SYSTEM.length,
    slot_context: slotContext,
    llama_server_args: `-m MODEL -np ${parallel} -t ${threads} ${contextArgs.join(' ')} --port P`.replace('  ', ' '),
    results,
    ratio: ratio('moc'),
    ratio_grpc: ratio('moc_grpc'),
    ratio_no_cache: ratio('moc_no_cache'),
  }),
);
