/**
 * Runs the `moc` CLI from the sources, as a user would, under spawnChild (it cannot outlive the test): its exit code
 * and what it wrote, with `stdin` (default: nothing) given and closed.
 */
import type { Test } from 'tap';
import path from 'node:path';
import { packageRoot } from '../../src/package-root.js';
import { spawnChild } from './child.js';

export interface Ran {
  code: number | null;
  out: string;
  err: string;
}

export function runMoc(t: Test, args: string[], env: Record<string, string>, stdin = ''): Promise<Ran> {
  return new Promise((resolve) => {
    const p = spawnChild(
      t,
      process.execPath,
      [`--import=${import.meta.resolve('tsx')}`, path.join(packageRoot(), 'src', 'cli.ts'), ...args],
      { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    p.stdout!.on('data', (d) => {
      out += d;
    });
    p.stderr!.on('data', (d) => {
      err += d;
    });
    p.stdin!.end(stdin);
    p.on('exit', (code) => resolve({ code, out, err }));
  });
}
