/**
 * A rejection nobody waits for is told, not swallowed: when the release of a finished job's device memory fails
 * (the ledger would keep it), the job still ends, and the failure is one `error.dropped` line naming the job and the
 * device plus one count in moc_dropped_errors_total{where="jobs.release"}. Real Jobs actor, real LMDB store, real
 * metrics registry; only the models side is a stand-in whose release fails.
 */
import t from 'tap';
import type { Job } from '../../schemas/jobs.js';
import { Jobs, type JobsMessages } from '../../actors/jobs/jobs.js';
import type { ModelsPort } from '../../actors/jobs/models-port.js';
import { resolveConfig } from '../../src/config.js';
import { errors } from '../../src/errors.js';
import { LocalActor } from '../../src/kernel/local-actor.js';
import type { Logger } from '../../src/log.js';
import { Store } from '../../src/store/store.js';
import { dropReporter } from '../../src/telemetry/dropped.js';
import { Metrics } from '../../src/telemetry/metrics.js';

t.test('a failed release of a job memory is logged and counted; the job still succeeds', async (t) => {
  const dir = t.testdir();
  const config = resolveConfig({ jobs: { pollMs: 50 } }, { baseDir: dir });
  const store = Store.open(config.dataDir);
  t.teardown(() => store.close());
  const metrics = new Metrics({ devices: async () => [], models: async () => [] });
  t.teardown(() => metrics.close());
  const lines: Array<{ level: string; event: string; fields: Record<string, unknown> }> = [];
  const log: Logger = { log: (level, event, fields = {}) => void lines.push({ level, event, fields }) };

  const released: string[] = [];
  const models: ModelsPort = {
    modelFile: () => '',
    evaluate: () => Promise.reject(new Error('not used')),
    resolve: () => undefined,
    register: () => Promise.reject(new Error('not used')),
    setAlias: () => Promise.reject(new Error('not used')),
    reserve: async (_owner, bytes) => ({ device: 'gpu0', bytes }),
    release: async (owner) => {
      released.push(owner);
      throw errors.unavailable('device gpu0 is restarting');
    },
    room: () => Promise.reject(new Error('not used')),
  };
  const outputs = { files: [], metrics: { lines: 1 }, models: [] };
  const jobs = new Jobs(
    config,
    store,
    models,
    { evaluate: async () => outputs },
    dropReporter(log, metrics.droppedErrors),
  );
  const actor = new LocalActor<JobsMessages>('jobs', jobs, { capacity: 64 });
  t.teardown(() => actor.destroy());

  const job = await actor.ask(
    {
      kind: 'submit',
      owner: 'test',
      request: { type: 'evaluate', spec: { model: 'm', dataset: 'd.jsonl' }, memory_bytes: 4096 },
    },
    { timeoutMs: 5000 },
  );
  const ended = await new Promise<Job>((resolve) => {
    const off = jobs.watch((j) => {
      if (j.id === job.id && j.state === 'succeeded') {
        off();
        resolve(j);
      }
    });
  });
  t.equal(ended.state, 'succeeded', 'the job ends as its run did');
  t.same(released, [`job:${job.id}`], 'its memory was released once');
  // The run's end waits for the release (run().finally): its failure was reported before the end was written.
  const dropped = lines.filter((l) => l.event === 'error.dropped');
  t.equal(dropped.length, 1, 'one error.dropped line');
  t.match(dropped[0], {
    level: 'warn',
    fields: { where: 'jobs.release', job: job.id, device: 'gpu0', code: 'MOC_ERR_UNAVAILABLE' },
  });
  t.match((await metrics.text()).body, /^moc_dropped_errors_total\{where="jobs\.release"\} 1$/m, 'and one count');
});
