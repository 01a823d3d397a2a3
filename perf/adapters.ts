/**
 * What serving LoRA adapters costs (issue 26), in one run: throughput of 4 adapters of one base against the base
 * itself, and the memory of base + 4 adapters against 5 full models. Prints one JSON line.
 *
 *   perf/adapters.ts ──spawn──▶ moc serve (perf/lib/spawn-server.ts): MODEL with S sequences, 4 adapters of it
 *                               (seeds 1-4) registered with S sequences each, 4 more of the same files with S/4 each
 *                    ──spawn──▶ moc serve: 5 copies of MODEL under 5 names, S sequences each (memory only)
 *
 * Throughput: OpenAI completions (short prompt, temperature 0, max_tokens 8, N connections, autocannon) in arms of
 * `--seconds`, each after loading what it names, one answer from each and a warm-up, with a base arm (S sequences)
 * before and after each adapter arm: one adapter alone (S sequences: what LoRA's own math costs, `ratio_one`); the 4
 * adapters with S sequences each, requests round-robin over them (`ratio`); the 4 adapters with S/4 sequences each, so
 * the engine holds as many sequences as for the base (`ratio_split`). Each ratio is the adapter arm's rps over the
 * mean of the two base arms beside it (the machine's load drifts within a run); `cpu_ratio*` the same for answers per
 * CPU second (the server's, all processes): the device's threads are per context, so 4 adapters can use 4 cores.
 * Memory, after the 4 S-each adapters' arm: the device ledger (memory.reserved, each entry's reserved_bytes) and the
 * server's RSS and PSS (its process and its children: the engine), against 5 full models loaded and warmed the same
 * way (`memory_ratio` on the ledger; `rss_ratio` and `pss_ratio` on the process tree, `engine_rss_ratio` the engine).
 *
 *   npx tsx perf/adapters.ts [--model bench|demo] [--seconds 10] [--connections 32] [--sequences 8]
 *                            [--warmup 2] [--max-tokens 8] [--threads 1] [--context-size 512] [--device-memory 8GiB]
 * Models, adapters and copies are made once into the git-ignored perf/.peer/models/ (perf/lib/peer-cache.ts).
 */
import { copyFile, mkdir, stat } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeLoraAdapterGguf } from '../src/model/lora-adapter.js';
import { cannon, type CannonSummary, failures } from './lib/cannon.js';
import { ensurePeerModels, PEER_MODELS } from './lib/peer-cache.js';
import { childrenOf, cpuMs, pssMiB, rssMiB } from './lib/proc.js';
import { spawnServer, type SpawnedServer } from './lib/spawn-server.js';
import { SHORT_PROMPT } from './raw-engine.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'bench' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    sequences: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '2' },
    'max-tokens': { type: 'string', default: '8' },
    threads: { type: 'string', default: '1' },
    'context-size': { type: 'string', default: '512' },
    'device-memory': { type: 'string', default: '8GiB' },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const sequences = Number(values.sequences);
const splitSequences = Math.max(1, Math.floor(sequences / 4));
const warmup = Number(values.warmup);
const maxTokens = Number(values['max-tokens']);
const threads = Number(values.threads);
const contextSize = Number(values['context-size']);
const model = values.model;
const ADAPTERS = 4;
const MODELS = 5;
/** No single HTTP call (a load, a registration) may hang the script. */
const CALL_MS = 180_000;

const files = await ensurePeerModels();
const baseFile = ({ demo: files.demo, bench: files.bench } as Record<string, string>)[model];
if (!baseFile) throw new Error(`--model: '${model}' is not one of demo, bench`);

/** Adapters (seeds 1-4) and copies of the base, made once beside the models. */
async function ensureFiles(): Promise<{ adapters: string[]; copies: string[]; adapterBytes: number }> {
  const stem = path.basename(baseFile!, '.gguf');
  await mkdir(path.join(PEER_MODELS, 'lora'), { recursive: true });
  await mkdir(path.join(PEER_MODELS, 'copies'), { recursive: true });
  const adapters: string[] = [];
  let adapterBytes = 0;
  for (let seed = 1; seed <= ADAPTERS; seed++) {
    const file = path.join(PEER_MODELS, 'lora', `${stem}-s${seed}.gguf`);
    // Rewritten each run: the same seed gives the same bytes, and it takes milliseconds (a changed base is followed).
    adapterBytes = (await writeLoraAdapterGguf(file, baseFile!, { seed })).bytes;
    adapters.push(path.relative(PEER_MODELS, file));
  }
  const size = (await stat(baseFile!)).size;
  const copies: string[] = [];
  for (let i = 1; i <= MODELS; i++) {
    // Copies, not one file under 5 names: 5 fine-tunes are 5 files, each mapped and cached on its own.
    const file = path.join(PEER_MODELS, 'copies', `${stem}-${i}.gguf`);
    if (!existsSync(file) || (await stat(file)).size !== size) await copyFile(baseFile!, file);
    copies.push(path.relative(PEER_MODELS, file));
  }
  return { adapters, copies, adapterBytes };
}

const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

interface Server {
  srv: SpawnedServer;
  pid: number;
  url: string;
}

async function start(models: { name: string; path: string }[]): Promise<Server> {
  const yaml = [
    'server:\n  grpcPort: 0\nrest:\n  port: 0\nzmq:\n  enabled: false',
    `modelsRoot: ${JSON.stringify(PEER_MODELS)}`,
    'dataDir: ${DIR}/data',
    `devices:\n  - id: cpu0\n    kind: cpu\n    memory: ${values['device-memory']}\n    threads: ${threads}`,
    'models:',
    ...models.map((m) =>
      [
        `  - name: ${m.name}`,
        `    path: ${JSON.stringify(m.path)}`,
        `    contextSize: ${contextSize}`,
        `    sequences: ${sequences}`,
        // Loaded by this script, one at a time, so each load's time is bounded by CALL_MS.
        '    preload: false',
      ].join('\n'),
    ),
    '',
  ].join('\n');
  const srv = await spawnServer({ yaml, logFile: true, startTimeoutMs: 120_000 });
  const listening = srv.logs.find((l) => l.event === 'server.listening');
  return { srv, pid: srv.proc.pid!, url: String(listening?.rest) };
}

async function call(s: Server, method: string, route: string, body?: unknown): Promise<any> {
  const r = await fetch(`${s.url}${route}`, {
    method,
    signal: AbortSignal.timeout(CALL_MS),
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const json = await r.json().catch(() => null);
  if (r.status >= 300) throw new Error(`${method} ${route} answered ${r.status}: ${JSON.stringify(json)}`);
  return json;
}

const completion = (name: string) =>
  JSON.stringify({ model: name, prompt: SHORT_PROMPT, max_tokens: maxTokens, temperature: 0 });

interface Arm extends CannonSummary {
  models: string[];
  sequences_each: number;
  /** Cores the server used during the arm (its threads and the engine process), and CPU ms per answer. */
  cpu_cores: number;
  cpu_ms_per_request: number;
  failures?: string;
}

/** Load each model (bounded), one answer each, a warm-up, then the timed run round-robin over them. */
async function arm(s: Server, names: string[], seqEach: number): Promise<Arm> {
  for (const n of names) await call(s, 'POST', `/v1/models/${n}/load`, {});
  for (const n of names) await call(s, 'POST', '/openai/v1/completions', JSON.parse(completion(n)));
  const url = `${s.url}/openai/v1/completions`;
  const bodies = names.map(completion);
  if (warmup > 0) await cannon(url, { connections, seconds: warmup, bodies });
  const cpu0 = cpuMs(s.pid);
  const t0 = performance.now();
  const r = await cannon(url, { connections, seconds, bodies });
  const wall = performance.now() - t0;
  const cpu = cpuMs(s.pid) - cpu0;
  const f = failures(r);
  return {
    models: names,
    sequences_each: seqEach,
    ...r,
    cpu_cores: round(cpu / wall),
    cpu_ms_per_request: r.requests ? round(cpu / r.requests, 2) : 0,
    ...(f ? { failures: f } : {}),
  };
}

interface Memory {
  device_reserved: number;
  /** reserved_bytes of each loaded entry, by name (the ledger's view). */
  entries: Record<string, number>;
  /** The server process and its children (the engine), MiB; engine: the device's engine_pid alone. */
  rss_mib: { main: number; children: number; engine: number; total: number };
  pss_mib: { main: number; children: number; total: number };
  /** The server's child processes by command name (the engine, and tsx's esbuild service where it runs), RSS MiB. */
  children_rss_mib: Record<string, number>;
}

async function memory(s: Server): Promise<Memory> {
  const dev = (await call(s, 'GET', '/v1/devices')).devices[0];
  const entries: Record<string, number> = {};
  for (const m of dev.models) if (m.state === 'loaded') entries[m.name] = m.reserved_bytes;
  const rss = rssMiB(s.pid);
  const engine = rssMiB(Number(dev.engine_pid)).main;
  const pss = pssMiB(s.pid);
  const kids: Record<string, number> = {};
  for (const c of childrenOf(s.pid)) {
    try {
      const comm = readFileSync(`/proc/${c}/comm`, 'utf8').trim();
      kids[`${comm}:${c}`] = rssMiB(c).main;
    } catch {
      /* gone */
    }
  }
  return {
    device_reserved: dev.memory.reserved,
    entries,
    rss_mib: { ...rss, engine, total: rss.main + rss.children },
    pss_mib: { ...pss, total: pss.main + pss.children },
    children_rss_mib: kids,
  };
}

const loadavg0 = os.loadavg()[0]!;
const made = await ensureFiles();
const baseName = model;
const each = made.adapters.map((_, i) => `lora-${i + 1}`);
const split = made.adapters.map((_, i) => `lora-split-${i + 1}`);

// One server: the base, its adapters; throughput, then the ledger with base + 4 adapters loaded.
const a = await start([{ name: baseName, path: path.relative(PEER_MODELS, baseFile) }]);
let throughput: Record<string, unknown>;
let adaptersMemory: Memory & { base_only: Memory };
try {
  for (const [names, seq] of [
    [each, sequences],
    [split, splitSequences],
  ] as const) {
    for (let i = 0; i < ADAPTERS; i++)
      await call(a, 'POST', '/v1/models', {
        name: names[i],
        base: baseName,
        adapter: made.adapters[i],
        sequences: seq,
        keep_alive_ms: -1,
      });
  }
  const base = await arm(a, [baseName], sequences);
  const baseOnly = await memory(a);
  const one = await arm(a, [each[0]!], sequences);
  const base2 = await arm(a, [baseName], sequences);
  const adapters = await arm(a, each, sequences);
  adaptersMemory = { ...(await memory(a)), base_only: baseOnly };
  for (const n of each) await call(a, 'POST', `/v1/models/${n}/unload`, {});
  const base3 = await arm(a, [baseName], sequences);
  const adaptersSplit = await arm(a, split, splitSequences);
  const base4 = await arm(a, [baseName], sequences);
  // Each adapter arm against the mean of the base arms either side of it: the machine's load drifts within a run.
  const vs = (x: Arm, before: Arm, after: Arm) => round(x.rps / ((before.rps + after.rps) / 2));
  // The device's threads are per context: 4 adapters may decode on 4 threads at once where the base has 1, so with
  // idle cores their rps can pass the base's. Answers per CPU second, against the base's, are the like-for-like.
  const perCpu = (x: Arm, before: Arm, after: Arm) =>
    round((before.cpu_ms_per_request + after.cpu_ms_per_request) / 2 / x.cpu_ms_per_request);
  throughput = {
    base_arms: [base, base2, base3, base4],
    adapter_one: one,
    adapters,
    adapters_split: adaptersSplit,
    ratio: vs(adapters, base2, base3),
    ratio_one: vs(one, base, base2),
    ratio_split: vs(adaptersSplit, base3, base4),
    cpu_ratio: perCpu(adapters, base2, base3),
    cpu_ratio_one: perCpu(one, base, base2),
    cpu_ratio_split: perCpu(adaptersSplit, base3, base4),
  };
} finally {
  await a.srv.stop();
}

// Another server: 5 full models (copies of the base file), loaded and warmed as the adapters were.
const names5 = made.copies.map((_, i) => `${model}-${i + 1}`);
const f = await start(made.copies.map((p, i) => ({ name: names5[i]!, path: p })));
let fiveMemory: Memory;
try {
  for (const n of names5) await call(f, 'POST', `/v1/models/${n}/load`, {});
  for (const n of names5) await call(f, 'POST', '/openai/v1/completions', JSON.parse(completion(n)));
  if (warmup > 0)
    await cannon(`${f.url}/openai/v1/completions`, { connections, seconds: warmup, bodies: names5.map(completion) });
  fiveMemory = await memory(f);
} finally {
  await f.srv.stop();
}

console.log(
  JSON.stringify({
    script: 'perf/adapters',
    date: new Date().toISOString(),
    model,
    model_bytes: (await stat(baseFile)).size,
    adapter_bytes: made.adapterBytes,
    connections,
    seconds,
    warmup,
    max_tokens: maxTokens,
    prompt: SHORT_PROMPT,
    threads,
    context_size: contextSize,
    sequences: {
      base: sequences,
      adapters_each: sequences,
      adapters_split_each: splitSequences,
      full_models_each: sequences,
    },
    throughput,
    memory: {
      base_and_adapters: adaptersMemory,
      full_models: fiveMemory,
      memory_ratio: round(adaptersMemory.device_reserved / fiveMemory.device_reserved),
      rss_ratio: round(adaptersMemory.rss_mib.total / fiveMemory.rss_mib.total),
      engine_rss_ratio: round(adaptersMemory.rss_mib.engine / fiveMemory.rss_mib.engine),
      pss_ratio: round(adaptersMemory.pss_mib.total / fiveMemory.pss_mib.total),
    },
    loadavg_1m: { start: round(loadavg0, 2), end: round(os.loadavg()[0]!, 2) },
  }),
);
