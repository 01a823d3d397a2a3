/**
 * Resolve the file of a worker thread or child process next to the calling module. Built code runs .js from
 * dist/; tests and tsx run .ts from the source tree, with the loader inherited through execArgv.
 */
export function siblingEntry(importMetaUrl: string, relative: string): URL {
  const ext = importMetaUrl.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`${relative}${ext}`, importMetaUrl);
}
