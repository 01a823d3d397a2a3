/**
 * Runs the `moc` CLI from the sources, as a user would, under spawnChild (it cannot outlive the test): its exit code
 * and what it wrote, with `stdin` (default: nothing) given and closed.
 */
import type { Test } from 'tap';
import path from 'node:path';
import { packageRoot } from '../../src/package-root.js';
import { type Ran, runChild } from './child.js';

export type { Ran };

export function runMoc(t: Test, args: string[], env: Record<string, string>, stdin = ''): Promise<Ran> {
  return runChild(
    t,
    process.execPath,
    [`--import=${import.meta.resolve('tsx')}`, path.join(packageRoot(), 'src', 'cli.ts'), ...args],
    { env: { ...process.env, ...env }, stdin },
  );
}
