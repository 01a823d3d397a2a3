/**
 * MOC against llama.cpp's own llama-server on the same GGUF, the same machine and the same workload, in one run
 * (issue 25): OpenAI text completions, N connections (autocannon), max_tokens 8, temperature 0, on the demo and the
 * bench model, a short and a long prompt. Prints one JSON line; `ratio` is MOC / llama-server (its defaults, prompt
 * cache on), `ratio_no_cache` MOC / llama-server with `cache_prompt: false` in the body.
 *
 *   perf/peer.ts ──spawn──▶ llama-server -m MODEL -np 8 -t 1 --port P      (one model at a time, then stopped)
 *               ──spawn──▶ moc serve (perf/lib/spawn-server.ts): the same model, 8 sequences, the same context per
 *                          sequence as llama-server's per slot (its /props)
 *
 *   npx tsx perf/peer.ts [--seconds 10] [--connections 32] [--max-tokens 8] [--models demo,bench]
 *                        [--prompts short,long] [--warmup 2] [--llama-server PATH]
 * llama-server is built once from node-llama-cpp's bundled source into perf/.peer/ (perf/lib/peer-cache.ts); without
 * git, cmake or a C++ compiler the script says so and exits 3. --llama-server PATH uses a build of yours instead.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { cannon, type CannonSummary, failures } from './lib/cannon.js';
import { startLlamaServer } from './lib/llama-server.js';
import { EXIT_NO_TOOLCHAIN, ensureLlamaServer, ensurePeerModels, NoToolchainError } from './lib/peer-cache.js';
import { cpuMs, ownCpuMs } from './lib/proc.js';
import { startMocPeer } from './lib/moc-peer.js';
import { PERF_PROMPT, SHORT_PROMPT } from './raw-engine.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    'max-tokens': { type: 'string', default: '8' },
    models: { type: 'string', default: 'demo,bench' },
    prompts: { type: 'string', default: 'short,long' },
    warmup: { type: 'string', default: '2' },
    parallel: { type: 'string', default: '8' },
    threads: { type: 'string', default: '1' },
    'llama-server': { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const maxTokens = Number(values['max-tokens']);
const warmup = Number(values.warmup);
const parallel = Number(values.parallel);
const threads = Number(values.threads);
const PROMPTS: Record<string, string> = { short: SHORT_PROMPT, long: PERF_PROMPT };
const modelNames = values.models.split(',').filter(Boolean);
const promptNames = values.prompts.split(',').filter(Boolean);
for (const p of promptNames) if (!PROMPTS[p]) throw new Error(`--prompts: '${p}' is not one of short, long`);

let bin = values['llama-server'];
let buildKey: string | undefined;
if (!bin) {
  try {
    const built = await ensureLlamaServer();
    bin = built.bin;
    buildKey = built.key;
  } catch (err) {
    if (!(err instanceof NoToolchainError)) throw err;
    console.error(`perf:peer skipped: ${err.message}`);
    console.log(JSON.stringify({ script: 'perf/peer', skipped: err.message }));
    process.exit(EXIT_NO_TOOLCHAIN);
  }
}
const files = await ensurePeerModels();
const modelFiles: Record<string, string> = { demo: files.demo, bench: files.bench };
for (const m of modelNames) if (!modelFiles[m]) throw new Error(`--models: '${m}' is not one of demo, bench`);

interface Side extends CannonSummary {
  /** Cores the server used during the run (all its threads and child processes), and CPU ms per answer. */
  cpu_cores: number;
  cpu_ms_per_request: number;
  /** MOC only: the same without its engine process (the coordinator's own share). */
  cpu_cores_without_engine?: number;
  /** The load generator's own cores: it shares the machine with the server. */
  loadgen_cores: number;
  /** One answer's usage, before the run: both sides must evaluate and generate the same number of tokens. */
  usage: { prompt_tokens?: number; completion_tokens?: number };
}

const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

async function post(url: string, body: string): Promise<{ status: number; json: any }> {
  const r = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  return { status: r.status, json: await r.json().catch(() => null) };
}

/** One answer first (it must be a 200: its usage is reported), then the timed run with the server's CPU around it. */
async function measure(url: string, body: string, pid: number, withoutEngine: boolean): Promise<Side> {
  const probe = await post(url, body);
  if (probe.status !== 200) throw new Error(`${url} answered ${probe.status}: ${JSON.stringify(probe.json)}`);
  const cpu0 = cpuMs(pid);
  const own0 = ownCpuMs(pid);
  const gen0 = process.cpuUsage();
  const t0 = performance.now();
  const s = await cannon(url, { connections, seconds, body });
  const wall = performance.now() - t0;
  const cpu = cpuMs(pid) - cpu0;
  const gen = process.cpuUsage(gen0);
  return {
    ...s,
    cpu_cores: round(cpu / wall),
    cpu_ms_per_request: s.requests ? round(cpu / s.requests, 2) : 0,
    ...(withoutEngine ? { cpu_cores_without_engine: round((ownCpuMs(pid) - own0) / wall) } : {}),
    loadgen_cores: round((gen.user + gen.system) / 1000 / wall),
    usage: { prompt_tokens: probe.json?.usage?.prompt_tokens, completion_tokens: probe.json?.usage?.completion_tokens },
  };
}

const body = (model: string, prompt: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model, prompt, max_tokens: maxTokens, temperature: 0, ...extra });

interface Row {
  model: string;
  prompt: string;
  slot_context: number;
  llama_server: Side;
  llama_server_no_cache: Side;
  moc: Side;
  ratio: number;
  ratio_no_cache: number;
  errors?: Record<string, string>;
}

async function compare(model: string): Promise<Row[]> {
  const file = modelFiles[model]!;
  const measured: Record<string, Partial<Row>> = {};
  const peer = await startLlamaServer({ bin: bin!, model: file, parallel, threads });
  const slotContext = peer.slotContext;
  try {
    const url = `${peer.url}/v1/completions`;
    if (warmup > 0) await cannon(url, { connections, seconds: warmup, body: body(model, SHORT_PROMPT) });
    for (const p of promptNames) {
      measured[p] = {
        llama_server: await measure(url, body(model, PROMPTS[p]!), peer.pid, false),
        llama_server_no_cache: await measure(url, body(model, PROMPTS[p]!, { cache_prompt: false }), peer.pid, false),
      };
    }
  } finally {
    await peer.stop();
  }
  const moc = await startMocPeer({ name: model, file, contextSize: slotContext, sequences: parallel, threads });
  try {
    const url = `${moc.url}/openai/v1/completions`;
    if (warmup > 0) await cannon(url, { connections, seconds: warmup, body: body(model, SHORT_PROMPT) });
    for (const p of promptNames) measured[p]!.moc = await measure(url, body(model, PROMPTS[p]!), moc.pid, true);
  } finally {
    await moc.stop();
  }
  return promptNames.map((p) => {
    const m = measured[p] as Required<Pick<Row, 'llama_server' | 'llama_server_no_cache' | 'moc'>>;
    const errors: Record<string, string> = {};
    for (const side of ['llama_server', 'llama_server_no_cache', 'moc'] as const) {
      const f = failures(m[side]);
      if (f) errors[side] = f;
    }
    return {
      model,
      prompt: p,
      slot_context: slotContext,
      ...m,
      ratio: round(m.moc.rps / m.llama_server.rps),
      ratio_no_cache: round(m.moc.rps / m.llama_server_no_cache.rps),
      ...(Object.keys(errors).length > 0 ? { errors } : {}),
    };
  });
}

const loadavg = os.loadavg()[0];
const rows: Row[] = [];
for (const m of modelNames) rows.push(...(await compare(m)));
console.log(
  JSON.stringify({
    script: 'perf/peer',
    date: new Date().toISOString(),
    llama_server: { bin, build_key: buildKey, args: `-m MODEL -np ${parallel} -t ${threads} --port P` },
    connections,
    seconds,
    max_tokens: maxTokens,
    loadavg_1m: { start: round(loadavg!, 2), end: round(os.loadavg()[0]!, 2) },
    results: rows,
  }),
);
