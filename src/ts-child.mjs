// Bootstrap of a worker thread or child process started from the TypeScript sources (tests, `tsx`; built code never
// uses it: see src/entry.ts). argv: the .ts entry (a file URL), tsx's API, then packages to load first. Those load
// before tsx's hooks are registered, so their module graphs (node-llama-cpp's is hundreds of files) skip the hooks:
// ~0.4 s of an engine process's start.
import { fileURLToPath } from 'node:url';

const [entry, tsxApi, ...preload] = process.argv.slice(2);
try {
  for (const p of preload) await import(p);
  (await import(tsxApi)).register();
  // The entry sees the argv it would have had started directly: its own path, no arguments.
  process.argv.splice(1, process.argv.length, fileURLToPath(entry));
  await import(entry);
} catch (err) {
  process.nextTick(() => {
    throw err;
  });
}
