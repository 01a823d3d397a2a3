// `npm test`'s runner: tap on the tests as built in dist/test (tsc just made them from the sources), not through tsx —
// a test process then loads plain .js, as `npm start` does, instead of every module through tsx's hooks (~1.2 s of
// CPU a test file run alone; less under tap: docs/development.md). A built test whose source is gone (renamed,
// deleted: tsc never removes its output) is removed, not run. Arguments go to tap (`npm test -- --bail`).
// `npx tap test/x.test.ts` still runs one source file.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';

const built = [];
const walk = (dir) => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.test.js')) built.push(p);
  }
};
walk(path.join('dist', 'test'));
const files = [];
for (const f of built.sort()) {
  const source = path.relative('dist', f).replace(/\.js$/, '.ts');
  if (existsSync(source)) files.push(f);
  else for (const out of [f, `${f}.map`]) rmSync(out, { force: true });
}
const r = spawnSync('npx', ['tap', ...process.argv.slice(2), ...files], {
  stdio: 'inherit',
  env: { ...process.env, MOC_RUN_BUILT: '1' },
});
process.exit(r.status ?? 1);
