/**
 * `rel` resolved next to the source of the calling test (`import.meta.url`): `npm test` runs the tests built in
 * dist/test, and the fixtures, Python scripts and worker entries they name sit next to their .ts sources (builtTwin
 * then starts a .ts entry's build, under MOC_RUN_BUILT=1, as it does for the product's own entries).
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { packageRoot } from '../../src/package-root.js';

export function sourceUrl(rel: string, importMetaUrl: string): URL {
  const inDist = path.relative(path.join(packageRoot(), 'dist'), fileURLToPath(importMetaUrl));
  if (inDist.startsWith('..')) return new URL(rel, importMetaUrl);
  return new URL(rel, pathToFileURL(path.join(packageRoot(), inDist.replace(/\.js$/, '.ts'))));
}
