import t from 'tap';
import { startHarness, until } from '../helpers/coordinator.js';
import { errors } from '../../src/errors.js';
import { ended, jobWhere, rest, TEXTS, writeDataset } from './helpers.js';

// Demo-sized models take about 4 MiB; soft limit 9 MiB, hard 13 MiB (as in the eviction tests).
const MiB = 1024 * 1024;
const DEVICE = { id: 'cpu0', memory: '13MiB', softLimit: '9MiB' };
const ledger = async (h: any) => (await rest(h, 'GET', '/v1/devices')).body.devices[0].memory;

t.test(
  'a running job holds its memory in the ledger, evicts an idle model for it, and gives it back at its end',
  async (t) => {
    const h = await startHarness(t, { devices: [DEVICE], models: [] });
    writeDataset(h, 'train.jsonl', TEXTS);
    await h.unary('RegisterModel', { name: 'idle', path: 'moc-demo.gguf' });
    await h.unary('LoadModel', { name: 'idle' }); // with moc-demo: about 8 MiB, under the soft limit
    await h.unary('Infer', { model: 'moc-demo', prompt: 'x', max_tokens: 1 }); // 'idle' is now the least recently used
    const job = await rest(h, 'POST', '/v1/jobs', {
      type: 'fine-tune',
      memory_bytes: 3 * MiB,
      spec: { base_model: 'moc-demo', dataset: 'train.jsonl', output_name: 'mem:v1', params: { step_ms: 300 } },
    });
    t.equal(job.status, 201, JSON.stringify(job.body));
    const running = await jobWhere(
      h,
      job.body.id,
      (j) =>
        (j.state === 'running' && j.logTail.some((l) => l.startsWith('holding'))) ||
        (j.state === 'running' && j.process !== undefined),
      'running',
    );
    const during = await ledger(h);
    t.ok(
      during.reserved <= during.soft_limit,
      `the ledger stays under the soft limit (${during.reserved} ≤ ${during.soft_limit})`,
    );
    const models = (await h.unary('ListModels', {})).models;
    t.equal(
      models.find((m: any) => m.name === 'idle').state,
      'MODEL_STATE_REGISTERED',
      'the least recently used idle model was evicted for the job',
    );
    t.ok(during.reserved >= 3 * MiB, "the job's bytes are counted");
    const done = await jobWhere(h, running.id, ended, 'ended', 120_000);
    t.equal(done.state, 'succeeded', JSON.stringify(done.error ?? ''));
    const after = await ledger(h);
    const loaded = (await h.unary('ListModels', {})).models.filter((m: any) => m.state === 'MODEL_STATE_LOADED');
    t.equal(
      after.reserved,
      loaded.reduce((n: number, m: any) => n + m.reserved_bytes, 0),
      'at its end the ledger holds the loaded models only',
    );
  },
);

t.test(
  'a job bigger than any device fails saying so; one that does not fit now waits, never overcommits',
  async (t) => {
    const h = await startHarness(t, { devices: [DEVICE], models: [] });
    writeDataset(h, 'eval.jsonl', TEXTS);
    const huge = await rest(h, 'POST', '/v1/jobs', {
      type: 'evaluate',
      memory_bytes: 64 * MiB,
      max_attempts: 1,
      spec: { model: 'moc-demo', dataset: 'eval.jsonl' },
    });
    const j = await jobWhere(h, huge.body.id, ended, 'huge ended');
    t.equal(j.state, 'failed');
    t.equal(j.error?.code, 'MOC_ERR_NO_MEMORY');
    t.match(j.error?.message ?? '', /more than any device can hold/);

    await h.unary('PinModel', { name: 'moc-demo', pinned: true }); // nothing can be evicted for the next job
    // A fine-tune (its trainer reads the base model's file; no model is loaded for it) that needs 10 MiB.
    const big = await rest(h, 'POST', '/v1/jobs', {
      type: 'fine-tune',
      memory_bytes: 10 * MiB,
      spec: { base_model: 'moc-demo', dataset: 'eval.jsonl', output_name: 'big:v1' },
    });
    const waiting = await jobWhere(h, big.body.id, (x) => x.state === 'retrying', 'waiting for memory');
    t.match(waiting.progress.message, /waiting for memory/);
    t.equal(waiting.attempts, 0, 'waiting does not use up attempts');
    const l = await ledger(h);
    t.ok(l.reserved <= l.hard_limit, 'never above the hard limit');
    await h.unary('PinModel', { name: 'moc-demo', pinned: false });
    await h.unary('UnloadModel', { name: 'moc-demo' });
    const ran = await jobWhere(h, big.body.id, ended, 'ran once memory was free', 60_000);
    t.equal(ran.state, 'succeeded', JSON.stringify(ran.error ?? ran.progress));
    t.equal((await ledger(h)).reserved, 0, 'all released');
  },
);

t.test(
  "a job's reservation is listed in GetDevices, held again by a device restarted under it, and released at its end",
  async (t) => {
    const h = await startHarness(t, {
      devices: [DEVICE],
      models: [],
      debug: { faultInjection: true },
      supervisor: { maxRestarts: 3, periodMs: 60_000 },
    });
    writeDataset(h, 'train.jsonl', TEXTS);
    const job = await rest(h, 'POST', '/v1/jobs', {
      type: 'fine-tune',
      memory_bytes: 3 * MiB,
      spec: {
        base_model: 'moc-demo',
        dataset: 'train.jsonl',
        output_name: 'mem:v3',
        params: { epochs: 1, step_ms: 300 },
      },
    });
    const holding = await jobWhere(
      h,
      job.body.id,
      (j) => j.state === 'running' && j.logTail.some((l) => l.startsWith('holding')) && j.process !== undefined,
      'holding its memory, its trainer started',
    );
    // The trainer (it leads its process group) is stopped while the device restarts and continued after: the job is
    // running all the while whatever the restart takes on a busy machine, where a trainer made slow enough to outlast
    // it (12 s of steps) spent most of this test's time waiting.
    const trainer = holding.process!.pid;
    process.kill(-trainer, 'SIGSTOP');
    const resume = () => {
      try {
        process.kill(-trainer, 'SIGCONT');
      } catch {
        /* gone already */
      }
    };
    t.teardown(resume);
    const owner = `job:${job.body.id}`;
    const listed = (await h.unary('GetDevices', {})).devices[0];
    t.same(listed.reservations, [{ owner, bytes: 3 * MiB }], "GetDevices lists the job's reservation");
    t.ok(listed.memory.reserved >= 3 * MiB, 'counted in reserved');
    t.same(
      (await rest(h, 'GET', '/v1/devices')).body.devices[0].reservations,
      [{ owner, bytes: 3 * MiB }],
      'and so does REST',
    );

    const device = h.coordinator.devices.get('cpu0')!;
    const enginePid = (await rest(h, 'GET', '/v1/devices')).body.devices[0].engine_pid;
    await device.ask({ kind: 'crash', target: 'worker' }, { timeoutMs: 5000 });
    const back = await until(
      'the device is back',
      async () => {
        const d = (await rest(h, 'GET', '/v1/devices')).body.devices[0];
        // A new engine: the old incarnation (its crash comes 5 ms after the answer) does not count as back. No event
        // tells a device's return, only its models' reloads.
        return d.available && d.engine_pid > 0 && d.engine_pid !== enginePid ? d : undefined;
      },
      30_000,
    );
    t.same(back.reservations, [{ owner, bytes: 3 * MiB }], "the restarted device holds the job's memory again");
    t.ok(back.memory.reserved >= 3 * MiB, 'and counts it');
    t.equal(h.coordinator.work.getJob(job.body.id)?.state, 'running', 'the job still runs');

    // The job's release to the device is lost once, as it is when sent to an incarnation that dies, or when it waits
    // past its ask's timeout for a restarting one to start (seen on a loaded machine: a finished job's memory then
    // stayed reserved on the new incarnation, which was started with it). The Lifecycle asks again.
    const ask = device.ask.bind(device);
    let lost = 0;
    device.ask = ((msg, opts) =>
      msg.kind === 'release' && lost++ === 0
        ? Promise.reject(errors.deadline('device cpu0.release', 5000))
        : ask(msg, opts)) as typeof device.ask;
    resume();
    const done = await jobWhere(h, job.body.id, ended, 'ended', 120_000);
    t.equal(done.state, 'succeeded', JSON.stringify(done.error ?? ''));
    t.equal(lost, 2, 'its release was asked again after the lost one');
    const after = (await rest(h, 'GET', '/v1/devices')).body.devices[0];
    t.same(after.reservations, [], 'released at its end');
  },
);
