/**
 * Runs the `moc` CLI from the sources, as a user would (a process of its own), under spawnChild (it cannot outlive the
 * test): its exit code and what it wrote, with `stdin` (default: nothing) given and closed.
 *
 * Not through tsx's loader at each run: the modules src/cli.ts reaches are transpiled once per test process, file for
 * file, by the esbuild tsx itself uses and with tsx's options, into a temp dir laid out as the build is (src/cli.js
 * beside schemas/…, the project's package.json, node_modules linked), and each run is a plain `node src/cli.js`. The
 * same code, without a hooks thread that every module of every run goes through. Nor under tap's process tracking: tap
 * adds its loader to every child's NODE_OPTIONS (src/entry.ts says more), which would hook every module again; an
 * `env` between setpriv and node takes it out. Measured under tap: a CLI run 0.85-1.05 s of CPU through tsx with
 * tap's loader, 0.5 s plain with it, 0.22 s plain without.
 */
import type { Test } from 'tap';
import { mkdtempSync, copyFileSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtTwin } from '../../src/entry.js';
import { packageRoot } from '../../src/package-root.js';
import { type Ran, runChild } from './child.js';

export type { Ran };

/** esbuild as tsx resolves it (a dependency of tsx's, not of ours). */
const esbuild = createRequire(import.meta.resolve('tsx'))('esbuild') as typeof import('esbuild');

let built: Promise<string> | undefined;

/** The transpiled tree's src/cli.js, built at the first run of this process; the tree is removed when it exits. */
function builtCli(): Promise<string> {
  // Under `npm test` dist/ was built from these sources just before (src/entry.ts, builtTwin): nothing to transpile.
  const twin = builtTwin(new URL('../../src/cli.ts', import.meta.url));
  if (!twin.pathname.endsWith('.ts')) return Promise.resolve(fileURLToPath(twin));
  built ??= (async () => {
    const root = packageRoot();
    const out = mkdtempSync(path.join(os.tmpdir(), 'moc-cli-'));
    process.once('exit', () => rmSync(out, { recursive: true, force: true }));
    copyFileSync(path.join(root, 'package.json'), path.join(out, 'package.json'));
    symlinkSync(path.join(root, 'node_modules'), path.join(out, 'node_modules'));
    // Which of our files the CLI can reach (the server's too, through `moc serve`'s dynamic imports): a bundle's
    // inputs, nothing written.
    const reach = await esbuild.build({
      absWorkingDir: root,
      entryPoints: ['src/cli.ts'],
      bundle: true,
      packages: 'external',
      platform: 'node',
      format: 'esm',
      write: false,
      metafile: true,
      outdir: out,
      logLevel: 'silent',
    });
    // Each file transpiled on its own (imports left as written), as tsx transpiles it.
    await esbuild.build({
      absWorkingDir: root,
      entryPoints: Object.keys(reach.metafile.inputs),
      outbase: root,
      outdir: out,
      platform: 'node',
      format: 'esm',
      target: `node${process.versions.node}`,
      keepNames: true,
      logLevel: 'silent',
    });
    return path.join(out, 'src', 'cli.js');
  })();
  return built;
}

/** NODE_OPTIONS without tap's process tracking (the rest, if any, is the user's and kept). */
const nodeOptions = (process.env.NODE_OPTIONS ?? '')
  .split(/\s+/)
  .filter((o) => o !== '' && !o.includes('@tapjs/processinfo'))
  .join(' ');

export async function runMoc(t: Test, args: string[], env: Record<string, string>, stdin = ''): Promise<Ran> {
  const cli = await builtCli();
  return runChild(t, '/usr/bin/env', [`NODE_OPTIONS=${nodeOptions}`, process.execPath, cli, ...args], {
    env: { ...process.env, ...env },
    stdin,
  });
}
