/**
 * llama.cpp's own server as a peer in a perf run: started as a new user would (`-m MODEL -np 8 -t 1 --port P`, its
 * defaults otherwise), on a free port, as a child that dies with the script (dying-child.ts), ready once its /health
 * says ok. Its output goes to a file, printed when it fails to start.
 */
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawnDying, stopDying } from './dying-child.js';

export interface LlamaServer {
  proc: ChildProcess;
  pid: number;
  url: string;
  args: string[];
  /** Context per slot (its /props `default_generation_settings.n_ctx`): what MOC's contextSize is set to. */
  slotContext: number;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export async function startLlamaServer(o: {
  bin: string;
  model: string;
  parallel: number;
  threads: number;
  extraArgs?: string[];
  readyTimeoutMs?: number;
}): Promise<LlamaServer> {
  const port = await freePort();
  const args = ['-m', o.model, '-np', String(o.parallel), '-t', String(o.threads), '--port', String(port)];
  args.push(...(o.extraArgs ?? []));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'moc-peer-'));
  const logPath = path.join(dir, 'llama-server.log');
  const fd = openSync(logPath, 'w');
  // The shared libraries sit beside the binary; the build's RUNPATH names the folder it was built in, so a copied or
  // moved build would not find them without this.
  const libs = path.dirname(o.bin);
  const env = { ...process.env, LD_LIBRARY_PATH: [libs, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') };
  const proc = spawnDying(o.bin, args, { stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  const stop = async () => {
    await stopDying(proc);
    await rm(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    const deadline = Date.now() + (o.readyTimeoutMs ?? 60_000);
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error('llama-server exited during start');
      const health = await fetch(`${url}/health`).then(
        async (r) => (r.ok ? ((await r.json()) as { status?: string }).status : undefined),
        () => undefined,
      );
      if (health === 'ok') break;
      if (Date.now() > deadline)
        throw new Error(`llama-server's /health did not say ok within ${o.readyTimeoutMs ?? 60_000} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const props = (await (await fetch(`${url}/props`)).json()) as { default_generation_settings?: { n_ctx?: number } };
    const slotContext = props.default_generation_settings?.n_ctx;
    if (!slotContext) throw new Error(`llama-server's /props has no default_generation_settings.n_ctx`);
    return { proc, pid: proc.pid!, url, args, slotContext, stop };
  } catch (err) {
    const tail = readFileSync(logPath, 'utf8').split('\n').slice(-20).join('\n');
    await stop();
    throw new Error(`${(err as Error).message}; ${o.bin} ${args.join(' ')}; its last lines:\n${tail}`);
  }
}
