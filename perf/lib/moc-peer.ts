/**
 * MOC configured as the peer scripts compare it with llama-server: one model from perf/.peer/models, the same number
 * of sequences as llama-server's slots and the same context per sequence as its per slot, the same threads; started
 * in its own process (spawn-server.ts), ready once an answer to `probe` came back.
 */
import path from 'node:path';
import { PEER_MODELS } from './peer-cache.js';
import { spawnServer, type SpawnedServer } from './spawn-server.js';

export interface MocPeer {
  server: SpawnedServer;
  pid: number;
  /** http://host:port of its REST listener (the OpenAI routes are under /openai/v1). */
  url: string;
  /** host:port of its gRPC listener. */
  grpc: string;
  stop(): Promise<void>;
}

export async function startMocPeer(o: {
  name: string;
  file: string;
  contextSize: number;
  sequences: number;
  threads: number;
  /** More top-level config, YAML lines (e.g. `promptCache:\n  enabled: false`). */
  extraYaml?: string;
}): Promise<MocPeer> {
  const yaml = [
    'server:\n  grpcPort: 0\nrest:\n  port: 0\nzmq:\n  enabled: false',
    `modelsRoot: ${JSON.stringify(PEER_MODELS)}`,
    // spawn-server replaces ${DIR} with its temp dir
    'dataDir: ${DIR}/data',
    `devices:\n  - id: cpu0\n    kind: cpu\n    memory: 2GiB\n    threads: ${o.threads}`,
    'models:',
    `  - name: ${o.name}`,
    `    path: ${JSON.stringify(path.relative(PEER_MODELS, o.file))}`,
    `    contextSize: ${o.contextSize}`,
    `    sequences: ${o.sequences}`,
    o.extraYaml ?? '',
    '',
  ].join('\n');
  // stderr to a file: the request lines of a load run would cost this process CPU to read.
  const server = await spawnServer({ yaml, logFile: true, startTimeoutMs: 120_000 });
  const listening = server.logs.find((l) => l.event === 'server.listening');
  const url = String(listening?.rest);
  return {
    server,
    pid: server.proc.pid!,
    url,
    grpc: String(listening?.grpc),
    stop: async () => void (await server.stop()),
  };
}
