/**
 * A fine-tune stopped (shutdown or cancel) while it was still preparing — its dataset resolved, its directories
 * made — never starts its trainer: the abort event has already fired by then, so a trainer started anyway would run
 * on with nobody to stop it (and a graceful shutdown would wait for it until its own timeout). Seen as a 15 s close
 * and a leaked trainer in 1 of 3 closes right after a claim.
 */
import t from 'tap';
import { jobRecord } from '../helpers/records.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runners } from '../../actors/jobs/runners.js';
import type { ModelsPort } from '../../actors/jobs/models-port.js';
import { resolveConfig } from '../../src/config.js';
import { errors } from '../../src/errors.js';

t.test('an aborted fine-tune run starts no trainer and ends with the abort reason', async (t) => {
  const dir = t.testdir();
  const config = resolveConfig({}, { baseDir: dir });
  mkdirSync(config.jobs.datasetsRoot, { recursive: true });
  writeFileSync(path.join(config.jobs.datasetsRoot, 'train.jsonl'), '{"text":"one"}\n');
  const now = Date.now();
  const job = jobRecord({
    id: 'job-prep',
    type: 'fine-tune',
    spec: { base_model: 'm', dataset: 'train.jsonl', output_name: 'm:ft', params: { step_ms: 60_000 } },
    state: 'running',
    attempts: 1,
    progress: { fraction: 0, message: '' },
    startedAt: now,
  });
  const ac = new AbortController();
  const models = {
    resolve: (name: string) => name,
    modelFile: () => {
      ac.abort(errors.unavailable('the server is shutting down'));
      return path.join(dir, 'base.gguf');
    },
  } as unknown as ModelsPort;
  const started: number[] = [];
  const run = runners()['fine-tune']!;
  await t.rejects(
    run({
      job,
      config,
      models,
      signal: ac.signal,
      progress() {},
      log() {},
      process: (p) => started.push(p.pid),
      fence: async () => {},
    }),
    { code: 'MOC_ERR_UNAVAILABLE' },
    'the run ends with why it was stopped',
  );
  t.same(started, [], 'no trainer process was started');
});
