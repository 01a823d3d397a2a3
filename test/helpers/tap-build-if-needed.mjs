// Rebuild tap for this project's plugin list before the runner starts, when (and only when) tap is not built with it.
//
// tap notices a plugin list it was not built with and rebuilds itself, but only after its runner has chosen the
// import loaders of the test processes: on a fresh clone — CI is always one — every test process of that first run
// still loads the plugin we took out (@tapjs/typescript, which brings ts-node: ~2 s a test file). Building first makes
// the first run what every later run is. `tap build` costs 15-30 s here, so it runs only when the signatures differ.
import { spawnSync } from 'node:child_process';
import { TapConfig } from '@tapjs/config';
import { signature } from '@tapjs/test';

const config = await TapConfig.load();
if (config.pluginSignature === signature) process.exit(0);
console.error('tap is built with another plugin list than package.json names: tap build');
const r = spawnSync('npx', ['tap', 'build'], { stdio: 'inherit' });
process.exit(r.status ?? 1);
