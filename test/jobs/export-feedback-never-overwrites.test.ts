/**
 * export-feedback writes a dataset whole or not at all, and never over an existing file unless the spec says
 * `overwrite: true`: an existing output fails the job with MOC_ERR_OUTPUT_EXISTS and is left as it was; a directory,
 * or a path through a file, is a coded INVALID_ARGUMENT naming spec.output; no `*.partial` is ever left behind.
 */
import t from 'tap';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startHarness } from '../helpers/coordinator.js';
import { ended, jobWhere, rest } from './helpers.js';

t.test('an existing output is refused unless overwrite; directories and file paths are coded errors', async (t) => {
  const h = await startHarness(t);
  const root = h.coordinator.config.jobs.datasetsRoot;
  mkdirSync(path.join(root, 'adir'), { recursive: true });
  writeFileSync(path.join(root, 'precious.jsonl'), 'precious\n');
  writeFileSync(path.join(root, 'afile'), 'a file, not a folder\n');
  const fb = await rest(h, 'POST', '/v1/feedback', { prompt: 'p', chosen: 'good', rejected: 'bad' });
  t.equal(fb.status, 201, fb.status === 201 ? 'a preference recorded' : JSON.stringify(fb.body));

  const exportTo = async (spec: Record<string, unknown>) => {
    const s = await rest(h, 'POST', '/v1/jobs', {
      type: 'export-feedback',
      spec: { format: 'trl-preference', ...spec },
    });
    t.equal(s.status, 201, s.status === 201 ? 'submitted' : JSON.stringify(s.body));
    return jobWhere(h, s.body.id, ended, `export to ${JSON.stringify(spec)}`);
  };

  const kept = await exportTo({ output: 'precious.jsonl' });
  t.equal(kept.state, 'failed', 'an existing dataset is not overwritten');
  t.equal(kept.error?.code, 'MOC_ERR_OUTPUT_EXISTS');
  t.match(kept.error?.message, /spec\.output: 'precious\.jsonl' exists already.*overwrite: true/);
  t.equal(readFileSync(path.join(root, 'precious.jsonl'), 'utf8'), 'precious\n', 'its content is as it was');

  const dir = await exportTo({ output: 'adir' });
  t.equal(dir.state, 'failed');
  t.equal(dir.error?.code, 'MOC_ERR_INVALID_ARGUMENT', `a directory is the client's to fix: ${dir.error?.message}`);
  t.match(dir.error?.message, /spec\.output: 'adir' is a directory/);
  const dirOver = await exportTo({ output: 'adir', overwrite: true });
  t.equal(dirOver.error?.code, 'MOC_ERR_INVALID_ARGUMENT', 'overwrite never replaces a directory');

  const through = await exportTo({ output: 'afile/x.jsonl' });
  t.equal(through.state, 'failed');
  t.equal(through.error?.code, 'MOC_ERR_INVALID_ARGUMENT', `a path through a file: ${through.error?.message}`);
  t.match(through.error?.message, /spec\.output: 'afile\/x\.jsonl'/);

  const replaced = await exportTo({ output: 'precious.jsonl', overwrite: true });
  t.equal(replaced.state, 'succeeded', JSON.stringify(replaced.error));
  t.same(JSON.parse(readFileSync(path.join(root, 'precious.jsonl'), 'utf8')), {
    prompt: 'p',
    chosen: 'good',
    rejected: 'bad',
  });

  const fresh = await exportTo({ output: 'new/prefs.jsonl' });
  t.equal(fresh.state, 'succeeded', 'a new output is written as before');
  t.same(fresh.outputs.files, ['new/prefs.jsonl']);

  const all = readdirSync(root, { recursive: true }).map(String);
  t.same(
    all.filter((f) => f.endsWith('.partial')),
    [],
    `no partial file is left, whatever failed (${all.join(', ')})`,
  );
});
