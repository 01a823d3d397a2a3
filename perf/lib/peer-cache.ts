/**
 * What the peer comparisons (perf/peer.ts, perf/agent-loop.ts) need on disk, made once and kept in the git-ignored
 * `perf/.peer/`:
 *
 *   perf/.peer/llama.cpp-<key>/build/bin/llama-server   llama.cpp's own server, built from the source node-llama-cpp
 *                                                       binds (its git bundle); <key> is the bundle's sha256, so a
 *                                                       new node-llama-cpp release builds again and nothing else does
 *   perf/.peer/models/moc-demo.gguf, bench.gguf         the demo model and `make-model --preset bench`
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, openSync, closeSync, readdirSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../../src/package-root.js';
import { ensureDemoModel } from '../../src/model/demo-model.js';
import { spawnDying } from './dying-child.js';

export const PEER_DIR = path.join(packageRoot(), 'perf', '.peer');
export const PEER_MODELS = path.join(PEER_DIR, 'models');
const BUNDLE = path.join(packageRoot(), 'node_modules', 'node-llama-cpp', 'llama', 'gitRelease.bundle');

/** Exit code of a peer script where llama-server cannot be built here (no git, cmake or C++ compiler). */
export const EXIT_NO_TOOLCHAIN = 3;

export class NoToolchainError extends Error {}

/** The generated GGUF files, by the names the peer scripts use; made on first use. */
export async function ensurePeerModels(): Promise<{ demo: string; bench: string }> {
  await mkdir(PEER_MODELS, { recursive: true });
  const demo = await ensureDemoModel(PEER_MODELS);
  const bench = path.join(PEER_MODELS, 'bench.gguf');
  if (!existsSync(bench)) {
    const r = spawnSync(
      process.execPath,
      [
        `--import=${import.meta.resolve('tsx')}`,
        path.join(packageRoot(), 'src', 'tools', 'make-model.ts'),
        bench,
        '--preset',
        'bench',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    if (r.status !== 0) throw new Error(`make-model --preset bench exited with ${r.status ?? r.signal}`);
  }
  return { demo, bench };
}

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

function missingTools(): string[] {
  const has = (cmd: string) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
  const missing = ['git', 'cmake'].filter((c) => !has(c));
  if (!has('c++') && !has('g++')) missing.push('g++');
  return missing;
}

function run(cmd: string, args: string[], cwd: string, log: string): Promise<void> {
  const fd = openSync(log, 'a');
  const child = spawnDying(cmd, args, { cwd, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} failed (${code ?? signal}); see ${log}`)),
    );
  });
}

/**
 * The path of a llama-server built from node-llama-cpp's bundled llama.cpp source, building it first if this bundle
 * has no build yet (~10+ minutes on two cores). Throws NoToolchainError where git, cmake or a C++ compiler is missing.
 */
export async function ensureLlamaServer(): Promise<{ bin: string; key: string; built: boolean }> {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run npm install`);
  const key = (await sha256(BUNDLE)).slice(0, 16);
  const dir = path.join(PEER_DIR, `llama.cpp-${key}`);
  const bin = path.join(dir, 'build', 'bin', 'llama-server');
  const marker = path.join(dir, '.moc-built.json');
  if (existsSync(bin) && existsSync(marker)) return { bin, key, built: false };

  const missing = missingTools();
  if (missing.length > 0) {
    throw new NoToolchainError(
      `llama-server is built once from node-llama-cpp's bundled llama.cpp source, which needs git, cmake and a C++ ` +
        `compiler; missing here: ${missing.join(', ')} (Debian/Ubuntu: apt-get install ${missing.join(' ')}), or ` +
        `pass --llama-server <path> to use a llama-server you built`,
    );
  }
  await mkdir(PEER_DIR, { recursive: true });
  const log = path.join(PEER_DIR, 'build.log');
  await writeFile(log, '');
  process.stderr.write(`building llama-server once (~10+ minutes on two cores) in ${dir}; log: ${log}\n`);
  if (!existsSync(path.join(dir, 'CMakeLists.txt'))) {
    const tmp = `${dir}.clone`;
    await rm(tmp, { recursive: true, force: true });
    await run('git', ['clone', '--quiet', BUNDLE, tmp], PEER_DIR, log);
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
  }
  await run('cmake', ['-B', 'build', '-DLLAMA_CURL=OFF', '-DCMAKE_BUILD_TYPE=Release'], dir, log);
  const jobs = String(Math.max(1, os.availableParallelism()));
  await run('cmake', ['--build', 'build', '--target', 'llama-server', '-j', jobs], dir, log);
  if (!existsSync(bin)) throw new Error(`the build ended without ${bin}; see ${log}`);
  await writeFile(marker, `${JSON.stringify({ bundle: BUNDLE, key, builtAt: new Date().toISOString() })}\n`);
  // Builds of older bundles are not needed again.
  for (const e of readdirSync(PEER_DIR)) {
    if (e.startsWith('llama.cpp-') && e !== path.basename(dir)) await rm(path.join(PEER_DIR, e), { recursive: true });
  }
  return { bin, key, built: true };
}
