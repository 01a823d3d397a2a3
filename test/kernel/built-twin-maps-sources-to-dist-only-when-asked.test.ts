/**
 * builtTwin (src/entry.ts): under `npm test` (MOC_RUN_BUILT=1) a worker's or child's .ts entry starts from its build
 * in dist/; otherwise, and for anything not a .ts file of this checkout, the entry is left as it is.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { builtTwin } from '../../src/entry.js';
import { packageRoot } from '../../src/package-root.js';

const root = packageRoot();
const src = pathToFileURL(path.join(root, 'actors/device/engine-process.ts'));

t.test('with MOC_RUN_BUILT=1: the .ts of this checkout → dist/…/.js; anything else unchanged', async (t) => {
  const before = process.env.MOC_RUN_BUILT;
  t.teardown(() => {
    if (before === undefined) delete process.env.MOC_RUN_BUILT;
    else process.env.MOC_RUN_BUILT = before;
  });
  process.env.MOC_RUN_BUILT = '1';
  t.equal(builtTwin(src).href, pathToFileURL(path.join(root, 'dist/actors/device/engine-process.js')).href);
  const js = pathToFileURL(path.join(root, 'dist/src/cli.js'));
  t.equal(builtTwin(js), js, 'built code stays');
  const outside = pathToFileURL('/tmp/elsewhere/x.ts');
  t.equal(builtTwin(outside), outside, 'a file outside the checkout stays');
  process.env.MOC_RUN_BUILT = '0';
  t.equal(builtTwin(src), src, 'flag not 1: the sources');
  const named = pathToFileURL(path.join(root, 'dist/src/cli.ts'));
  t.equal(
    builtTwin(named).href,
    js.href,
    'a .ts named inside dist/ (built code resolving a source path next to itself) is its .js, flag or not',
  );
  delete process.env.MOC_RUN_BUILT;
  t.equal(builtTwin(src), src, 'flag unset: the sources');
});
