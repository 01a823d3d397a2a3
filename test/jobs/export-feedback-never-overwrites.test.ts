/**
 * export-feedback writes a dataset whole or not at all, and never over an existing file unless the spec says
 * `overwrite: true`: an existing output is refused with MOC_ERR_OUTPUT_EXISTS (at submit, and again when the job
 * writes, race-free) and left as it was; a directory, or a path through a file, is a coded INVALID_ARGUMENT naming
 * spec.output; no `*.partial` is ever left behind.
 */
import t from 'tap';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeOutput } from '../../actors/jobs/dataset.js';
import { MocError } from '../../src/errors.js';
import { startHarness } from '../helpers/coordinator.js';
import { ended, jobWhere, rest } from './helpers.js';

const partials = (root: string) =>
  readdirSync(root, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.partial'));

t.test('an existing output is refused unless overwrite; directories and file paths are coded errors', async (t) => {
  const h = await startHarness(t);
  const root = h.coordinator.config.jobs.datasetsRoot;
  mkdirSync(path.join(root, 'adir'), { recursive: true });
  writeFileSync(path.join(root, 'precious.jsonl'), 'precious\n');
  writeFileSync(path.join(root, 'afile'), 'a file, not a folder\n');
  const fb = await rest(h, 'POST', '/v1/feedback', { prompt: 'p', chosen: 'good', rejected: 'bad' });
  t.equal(fb.status, 201, fb.status === 201 ? 'a preference recorded' : JSON.stringify(fb.body));
  const submit = (spec: Record<string, unknown>) =>
    rest(h, 'POST', '/v1/jobs', { type: 'export-feedback', spec: { format: 'trl-preference', ...spec } });
  const jobs = () => h.coordinator.store.listJobs().length;

  const kept = await submit({ output: 'precious.jsonl' });
  t.equal(kept.status, 409, 'an existing dataset is not overwritten');
  t.equal(kept.body.error.code, 'MOC_ERR_OUTPUT_EXISTS');
  t.match(kept.body.error.message, /spec\.output: 'precious\.jsonl' exists already.*overwrite: true/);
  t.equal(readFileSync(path.join(root, 'precious.jsonl'), 'utf8'), 'precious\n', 'its content is as it was');

  for (const [spec, problem] of [
    [{ output: 'adir' }, /spec\.output: 'adir' is a directory/],
    [{ output: 'adir', overwrite: true }, /spec\.output: 'adir' is a directory/],
    [{ output: 'afile/x.jsonl' }, /spec\.output: 'afile\/x\.jsonl': a folder on its path is a file/],
  ] as const) {
    const r = await submit(spec);
    t.equal(r.status, 400, `${JSON.stringify(spec)}: ${r.body.error?.message}`);
    t.equal(r.body.error.details.field, 'spec.output');
    t.match(r.body.error.message, problem);
  }
  t.equal(jobs(), 0, 'nothing refused was queued');

  const replaced = await submit({ output: 'precious.jsonl', overwrite: true });
  t.equal(replaced.status, 201);
  const done = await jobWhere(h, replaced.body.id, ended, 'export with overwrite');
  t.equal(done.state, 'succeeded', JSON.stringify(done.error));
  t.same(JSON.parse(readFileSync(path.join(root, 'precious.jsonl'), 'utf8')), {
    prompt: 'p',
    chosen: 'good',
    rejected: 'bad',
  });

  const keyed = {
    type: 'export-feedback',
    spec: { format: 'trl-preference', output: 'new/prefs.jsonl' },
    request_id: 'export-1',
  };
  const fresh = await rest(h, 'POST', '/v1/jobs', keyed);
  const f = await jobWhere(h, fresh.body.id, ended, 'export to a new file');
  t.equal(f.state, 'succeeded', 'a new output is written as before');
  t.same(f.outputs.files, ['new/prefs.jsonl']);
  const retry = await rest(h, 'POST', '/v1/jobs', keyed);
  t.same(
    [retry.status, retry.body.id],
    [201, fresh.body.id],
    'a keyed retry is its first job, not refused by its output',
  );
  t.same(partials(root), [], 'no partial file is left');
});

t.test(
  'the write itself (what a job runs) refuses what appeared since the submit, and leaves no partial',
  async (t) => {
    const dir = t.testdir({ 'taken.jsonl': 'taken\n', folder: {} });
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'written',
        (e: unknown) => (e instanceof MocError ? e.code : e),
      );
    t.equal(
      await code(writeOutput(path.join(dir, 'taken.jsonl'), 'taken.jsonl', 'new\n', { overwrite: false })),
      'MOC_ERR_OUTPUT_EXISTS',
    );
    t.equal(readFileSync(path.join(dir, 'taken.jsonl'), 'utf8'), 'taken\n', 'left as it was');
    t.equal(
      await code(writeOutput(path.join(dir, 'folder'), 'folder', 'x\n', { overwrite: true })),
      'MOC_ERR_INVALID_ARGUMENT',
    );
    t.equal(
      await code(writeOutput(path.join(dir, 'taken.jsonl'), 'taken.jsonl', 'new\n', { overwrite: true })),
      'written',
    );
    t.equal(readFileSync(path.join(dir, 'taken.jsonl'), 'utf8'), 'new\n', 'overwrite replaces it whole');
    t.equal(
      await code(writeOutput(path.join(dir, 'fresh.jsonl'), 'fresh.jsonl', 'a\n', { overwrite: false })),
      'written',
    );
    t.same(partials(dir), [], 'no partial file is left, whatever failed');
  },
);
