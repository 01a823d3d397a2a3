/**
 * REST throughput with autocannon, as ratios against baselines measured in the same run:
 *   - GET /v1/models and POST /v1/infer against the coordinator (its own process, demo model) and against a bare
 *     uWebSockets.js server (perf/lib/rest-bare-uws.ts: the transport ceiling);
 *   - POST /v1/infer also against the raw engine in this process (perf/raw-engine.ts: the inference ceiling).
 * Prints one JSON line.
 *   npx tsx perf/rest-load.ts [--models-connections 50] [--models-seconds 10] [--infer-connections 32]
 *                             [--infer-seconds 15] [--max-tokens 8] [--front true|false]
 * --front false: the server's rest.front off (uWS on the port directly), to measure what the front costs.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cannon as cannonRun } from './lib/cannon.js';
import { spawnServer } from './lib/spawn-server.js';
import { measureRawEngine, PERF_PROMPT } from './raw-engine.js';

const { values } = parseArgs({
  options: {
    'models-connections': { type: 'string', default: '50' },
    'models-seconds': { type: 'string', default: '10' },
    'infer-connections': { type: 'string', default: '32' },
    'infer-seconds': { type: 'string', default: '15' },
    'max-tokens': { type: 'string', default: '8' },
    front: { type: 'string', default: 'true' },
  },
});
const num = (k: keyof typeof values) => Number(values[k]);
const here = path.dirname(fileURLToPath(import.meta.url));

/** autocannon through perf/lib/cannon.ts, with autocannon's own 10 s timeout (the figures of earlier runs used it). */
const cannon = (url: string, o: { connections: number; seconds: number; body?: string }) =>
  cannonRun(url, { ...o, timeoutSeconds: 10 });

async function startBare(modelsBytes: number): Promise<{ url: string; stop(): void }> {
  const proc = spawn(
    process.execPath,
    [
      `--import=${import.meta.resolve('tsx')}`,
      path.join(here, 'lib', 'rest-bare-uws.ts'),
      '--models-bytes',
      String(modelsBytes),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).once('line', (l) => resolve(JSON.parse(l).port));
    proc.once('exit', (c) => reject(new Error(`bare uWS exited (${c})`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => {
      proc.stdin!.end();
      proc.kill();
    },
  };
}

const inferBody = JSON.stringify({
  model: 'moc-demo',
  prompt: PERF_PROMPT,
  max_tokens: num('max-tokens'),
  temperature: 0,
});

const front = values.front !== 'false';
const server = await spawnServer({
  yaml: `server:\n  grpcPort: 0\nrest:\n  port: 0\n  front: ${front}\nzmq:\n  enabled: false\n`,
});
let out: Record<string, unknown>;
try {
  const restUrl = String(server.logs.find((l) => l.event === 'server.listening')?.rest);
  const modelsBytes = (await (await fetch(`${restUrl}/v1/models`)).arrayBuffer()).byteLength;
  const bare = await startBare(modelsBytes);
  try {
    const mc = { connections: num('models-connections'), seconds: num('models-seconds') };
    const ic = {
      connections: num('infer-connections'),
      seconds: num('infer-seconds'),
      body: inferBody,
    };
    await cannon(`${restUrl}/v1/models`, { ...mc, seconds: 2 }); // warm-up: JIT, connections
    const modelsCoord = await cannon(`${restUrl}/v1/models`, mc);
    const modelsBare = await cannon(`${bare.url}/v1/models`, mc);
    const inferCoord = await cannon(`${restUrl}/v1/infer`, ic);
    const inferBare = await cannon(`${bare.url}/v1/infer`, ic);
    bare.stop();
    await server.stop();
    // The engine alone, same model, prompt, tokens and parallel sequences as the demo model (8).
    const raw = await measureRawEngine({
      concurrency: 8,
      durationMs: ic.seconds * 1000,
      maxTokens: num('max-tokens'),
      threads: 1,
    });
    const ratio = (a: number, b: number) => Math.round((a / b) * 1000) / 1000;
    out = {
      script: 'perf/rest-load',
      front,
      models: {
        connections: mc.connections,
        seconds: mc.seconds,
        bytes: modelsBytes,
        coordinator: modelsCoord,
        bare_uws: modelsBare,
        ratio_vs_bare: ratio(modelsCoord.rps, modelsBare.rps),
      },
      infer: {
        connections: ic.connections,
        seconds: ic.seconds,
        max_tokens: num('max-tokens'),
        coordinator: inferCoord,
        bare_uws: inferBare,
        raw_engine: { rps: raw.rps, p50: raw.p50, p99: raw.p99 },
        ratio_vs_bare: ratio(inferCoord.rps, inferBare.rps),
        ratio_vs_raw_engine: ratio(inferCoord.rps, raw.rps),
      },
    };
  } finally {
    bare.stop();
  }
} finally {
  await server.stop();
}
console.log(JSON.stringify(out));
