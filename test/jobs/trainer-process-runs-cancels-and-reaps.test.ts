import t from 'tap';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  startTrainer,
  type TrainerEvent,
  type TrainerOutcome,
  type TrainerRun,
} from '../../actors/jobs/trainer-process.js';
import { toolArgs } from '../../src/entry.js';
import { writeTinyLlamaGguf } from '../../src/model/demo-model.js';
import { parseGgufHeader } from '../../src/model/gguf-header.js';
import { checkLoraAdapter } from '../../src/model/adapter-check.js';

// The toy trainer (its build under `npm test`; through tsx, by URL, otherwise: the trainer's cwd is a test directory).
const TOY = toolArgs('toy-trainer');

const dir = t.testdir({
  'text.jsonl': `${[
    'hello world',
    'a somewhat longer example of text',
    'short',
    'the fourth example, longest of them all by far',
  ]
    .map((text) => JSON.stringify({ text }))
    .join('\n')}\n`,
  'prefs.jsonl':
    JSON.stringify({ prompt: 'capital of France?', chosen: 'Paris', rejected: 'Lyon' }) +
    '\n' +
    JSON.stringify({ prompt: '2+2?', chosen: '4', rejected: '5' }) +
    '\n',
});
const BASE = path.join(dir, 'base.gguf');
t.before(async () => {
  await writeTinyLlamaGguf(BASE, { name: 'base' });
});

function run(args: string[], o: { graceMs?: number; timeoutMs?: number; stderrTailBytes?: number } = {}) {
  const events: TrainerEvent[] = [];
  const waiters: { test: (e: TrainerEvent) => boolean; resolve: (e: TrainerEvent) => void }[] = [];
  const trainer: TrainerRun = startTrainer({
    command: [process.execPath, ...TOY, '--base', BASE, ...args],
    cwd: dir,
    graceMs: o.graceMs ?? 5000,
    ...(o.timeoutMs !== undefined && { timeoutMs: o.timeoutMs }),
    ...(o.stderrTailBytes !== undefined && { stderrTailBytes: o.stderrTailBytes }),
    onEvent: (e) => {
      events.push(e);
      for (const w of waiters.filter((w) => w.test(e))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(e);
      }
    },
  });
  /** The first event (past or future) that passes `test`; a failure if the trainer ends without it. */
  const event = async (test: (e: TrainerEvent) => boolean) =>
    events.find(test) ??
    Promise.race([
      new Promise<TrainerEvent>((resolve) => waiters.push({ test, resolve })),
      trainer.done.then((o) => {
        throw new Error(`the trainer ended without the event: ${o.error}`);
      }),
    ]);
  return { trainer, events, event };
}

/** The outcome, or a failure after `ms` (the trainer and `alsoKill` then get SIGKILL), never a test hung forever. */
async function settle(trainer: TrainerRun, ms = 10_000, alsoKill: number[] = []): Promise<TrainerOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      for (const p of [trainer.pid, ...alsoKill]) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      reject(new Error(`the trainer did not finish within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([trainer.done, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Fields of /proc/<pid>/stat after `comm`, which may contain spaces: state, ppid, pgrp, ... */
function statFields(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}
const pgidOf = (pid: number) => Number(statFields(pid)?.[2]);

/** Live (not zombie) processes whose process group is `pgid`, from /proc. */
function groupMembers(pgid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const [state, , pgrp] = statFields(entry) ?? [];
    if (Number(pgrp) === pgid && state !== 'Z') found.push(Number(entry));
  }
  return found;
}

const gone = (pid: number) => {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err: any) {
    return err.code === 'ESRCH';
  }
};

/** The trainer's orphaned worker is reaped by whoever adopted it (not us), a moment after it died: poll briefly. */
async function until(done: () => boolean): Promise<boolean> {
  for (let i = 0; i < 100 && !done(); i++) await sleep(50);
  return done();
}

const progress = (events: TrainerEvent[]) => events.flatMap((e) => (e.type === 'progress' ? [e.fraction] : []));
const losses = (events: TrainerEvent[]) =>
  events.flatMap((e) => (e.type === 'metric' && e.name === 'loss' ? [e.value] : []));

t.test('a run reports increasing progress to 1, a decreasing loss, and a new LoRA adapter per dataset', async (t) => {
  const a = run(['--data', 'text.jsonl', '--out', 'a.gguf', '--epochs', '2']);
  const b = run(['--data', 'prefs.jsonl', '--out', 'sub/../b.gguf']);
  const m = run(['--data', 'text.jsonl', '--out', 'model.gguf', '--full-model']);
  const [ra, rb, rm]: TrainerOutcome[] = await Promise.all([settle(a.trainer), settle(b.trainer), settle(m.trainer)]);
  t.equal(ra.error, undefined, 'no error');
  t.equal(ra.exitCode, 0);
  t.equal(ra.signal, null);
  t.equal(ra.cancelled, false);
  t.equal(ra.protocolErrors, 0);
  t.ok(a.trainer.pid > 0 && a.trainer.pid !== process.pid, 'a child process');

  const p = progress(a.events);
  t.equal(p.length, 8, '4 examples x 2 epochs');
  t.ok(
    p.every((f, i) => i === 0 || f > p[i - 1]!),
    `progress strictly increases: ${p.join(', ')}`,
  );
  t.equal(p.at(-1), 1, 'and ends at 1');
  const l = losses(a.events);
  t.equal(l.length, 8, 'one loss per step');
  t.ok(
    l.every((v, i) => i === 0 || v < l[i - 1]!),
    `loss strictly decreases: ${l.join(', ')}`,
  );
  t.equal(ra.metrics.loss, l.at(-1), 'the outcome holds the last loss');
  t.same(
    a.events.filter((e) => e.type === 'metric').map((e) => e.type === 'metric' && e.step),
    [1, 2, 3, 4, 5, 6, 7, 8],
    'with steps',
  );

  t.equal(ra.outputPath, path.join(dir, 'a.gguf'), 'output resolved against the cwd');
  t.same(
    a.events.filter((e) => e.type === 'output'),
    [{ type: 'output', path: 'a.gguf', kind: 'lora' }],
    'one output line, of kind lora',
  );
  t.equal(ra.outputKind, 'lora', 'the outcome says it is an adapter');
  t.equal(readFileSync(ra.outputPath!).subarray(0, 4).toString('latin1'), 'GGUF', 'starts with the GGUF magic');
  const header = parseGgufHeader(ra.outputPath!);
  t.equal(header.architecture, 'llama');
  t.equal(header.type, 'adapter', 'general.type adapter');
  t.match(header.name, /^base-ft-[0-9a-f]{8}$/, 'named after the base');
  const facts = checkLoraAdapter(ra.outputPath!, BASE);
  t.ok(facts.pairs > 0, `an adapter that fits its base, as registration checks it (${facts.pairs} pairs)`);

  t.equal(rm.error, undefined, '--full-model trains too');
  t.equal(rm.outputKind, 'model', '--full-model: kind model');
  const whole = parseGgufHeader(rm.outputPath!);
  t.not(whole.type, 'adapter', 'a whole model');
  t.ok(whole.tensorCount > facts.pairs * 2, `with all its tensors (${whole.tensorCount})`);

  t.equal(rb.error, undefined, 'a preference dataset trains too');
  t.equal(rb.outputPath, path.join(dir, 'b.gguf'));
  t.equal(progress(b.events).at(-1), 1);
  t.notOk(readFileSync(ra.outputPath!).equals(readFileSync(rb.outputPath!)), 'other data, other weights');
  t.not(parseGgufHeader(rb.outputPath!).name, header.name);
});

t.test('--fail-at: exit code 3, and the stderr tail in the error', async (t) => {
  const r = run(['--data', 'text.jsonl', '--out', 'fail.gguf', '--fail-at', '0.5'], { stderrTailBytes: 100 });
  const o = await settle(r.trainer);
  t.equal(o.exitCode, 3);
  t.equal(o.signal, null);
  t.equal(o.error, 'trainer exited with code 3: toy-trainer: simulated failure at 50%');
  t.ok(Buffer.byteLength(o.stderrTail) <= 100, `the tail is bounded (${Buffer.byteLength(o.stderrTail)} bytes)`);
  t.notMatch(o.stderrTail, /toy-trainer: pid/, 'the start of stderr was dropped');
  t.equal(progress(r.events).at(-1), 0.5, 'progress stopped half-way');
  t.equal(o.outputPath, undefined);
  t.notOk(existsSync(path.join(dir, 'fail.gguf')), 'no output written');
});

t.test('cancel of a running trainer: SIGTERM stops it, no SIGKILL needed', async (t) => {
  const r = run(['--data', 'text.jsonl', '--out', 'cancel.gguf', '--epochs', '50', '--step-ms', '50'], {
    graceMs: 5000,
  });
  await r.event((e) => e.type === 'progress');
  const at = Date.now();
  r.trainer.cancel('user asked');
  const o = await settle(r.trainer);
  t.ok(Date.now() - at < 2000, `stopped in ${Date.now() - at} ms, well before the grace period`);
  t.equal(o.cancelled, true);
  t.equal(o.signal, 'SIGTERM');
  t.equal(o.exitCode, null);
  t.equal(o.error, 'trainer cancelled: user asked');
  t.ok(progress(r.events).at(-1)! < 1, 'it had not finished');
  t.notOk(existsSync(path.join(dir, 'cancel.gguf')), 'no output');
  t.notOk(existsSync(`/proc/${r.trainer.pid}`), 'reaped: not even a zombie is left');
  r.trainer.cancel('again'); // harmless once it is gone
});

t.test(
  '--hang: a trainer and its worker that ignore SIGTERM are killed as a group with SIGKILL after graceMs',
  async (t) => {
    const graceMs = 400;
    const r = run(['--data', 'text.jsonl', '--out', 'hang.gguf', '--hang'], { graceMs });
    const ready = await r.event((e) => e.type === 'log' && /^worker \d+ ready$/.test(e.message));
    const worker = Number((ready as { message: string }).message.split(' ')[1]);
    const pid = r.trainer.pid;
    t.not(worker, pid, 'the trainer forked a worker');
    t.equal(pgidOf(pid), pid, 'the trainer leads its own process group');
    t.equal(pgidOf(worker), pid, 'the worker is in it');
    t.not(pgidOf(process.pid), pid, 'ours is another');
    t.same(groupMembers(pid).sort(), [pid, worker].sort(), 'the group is those two');

    const at = Date.now();
    r.trainer.cancel('stop it');
    const o = await settle(r.trainer, 5000, [worker]);
    const took = Date.now() - at;
    t.ok(took >= graceMs - 20, `SIGKILL came after the grace period (${took} ms)`);
    t.ok(took < graceMs + 3000, 'and not much later');
    t.ok(
      r.events.some((e) => e.type === 'log' && e.message === 'SIGTERM ignored'),
      'SIGTERM was sent first',
    );
    t.equal(o.signal, 'SIGKILL');
    t.equal(o.cancelled, true);
    t.match(
      o.error,
      /^trainer cancelled: stop it; it did not stop on SIGTERM and was killed with SIGKILL after 400 ms$/,
    );
    t.notOk(existsSync(`/proc/${pid}`), 'the trainer was reaped');
    // The worker got the same SIGKILL; the kernel finishes its exit on its own time (an orphan is reaped by init), so
    // it may still be listed for a moment after the trainer is reaped.
    const reapedAt = Date.now();
    t.ok(
      await until(() => groupMembers(pid).length === 0),
      `no live process of the group remains (${Date.now() - reapedAt} ms after the trainer was reaped)`,
    );
    t.ok(
      await until(() => gone(-pid)),
      `the group is gone (kill(-pid, 0) gives ESRCH after ${Date.now() - reapedAt} ms)`,
    );
    t.ok(gone(worker), 'the worker with it');
  },
);

t.test('--garbage: protocol errors are counted and reported, the run still finishes', async (t) => {
  const r = run(['--data', 'text.jsonl', '--out', 'garbage.gguf', '--garbage']);
  const o = await settle(r.trainer);
  t.equal(o.protocolErrors, 5, '3 non-JSON lines, 1 invalid event, 1 oversized line');
  const reported = r.events.flatMap((e) =>
    e.type === 'log' && e.message.startsWith('trainer protocol error') ? [e.message] : [],
  );
  t.equal(reported.length, 5, 'each reported as a log event');
  t.match(reported[0], /not JSON.*this is not JSON/);
  t.match(reported[3], /fraction must be a number in \[0, 1\]/);
  t.match(reported[4], /line longer than 65536 bytes/);
  t.ok(
    reported.every((m) => m.length < 300),
    'with short excerpts only',
  );
  t.notOk(
    progress(r.events).some((f) => f > 1),
    'the invalid progress was not passed on',
  );
  t.equal(o.exitCode, 0);
  t.equal(o.error, undefined);
  t.equal(progress(r.events).at(-1), 1);
  t.equal(readFileSync(o.outputPath!).subarray(0, 4).toString('latin1'), 'GGUF');
});

t.test('timeoutMs stops a trainer that runs too long', async (t) => {
  const r = run(['--data', 'text.jsonl', '--out', 'slow.gguf', '--epochs', '50', '--step-ms', '50'], {
    timeoutMs: 1500,
  });
  const at = Date.now();
  const o = await settle(r.trainer);
  t.ok(Date.now() - at >= 1400, `stopped after ${Date.now() - at} ms`);
  t.equal(o.timedOut, true);
  t.equal(o.cancelled, false);
  t.equal(o.signal, 'SIGTERM');
  t.equal(o.error, 'trainer timed out after 1500 ms');
  t.notOk(existsSync(path.join(dir, 'slow.gguf')));
});

t.test('--broken-output: reported and present, but not an adapter (or model) the checks accept', async (t) => {
  const [o, om] = await Promise.all([
    settle(run(['--data', 'text.jsonl', '--out', 'broken.gguf', '--broken-output']).trainer),
    settle(run(['--data', 'text.jsonl', '--out', 'broken-model.gguf', '--broken-output', '--full-model']).trainer),
  ]);
  t.equal(o.error, undefined, 'the runner checks the file exists, not what it holds');
  t.equal(o.outputKind, 'lora');
  t.equal(readFileSync(o.outputPath!).subarray(0, 4).toString('latin1'), 'GGUF');
  t.throws(
    () => checkLoraAdapter(o.outputPath!, BASE),
    { code: 'MOC_ERR_ADAPTER_REFUSED', message: /truncated/ },
    'the job must check the adapter',
  );
  t.equal(om.outputKind, 'model');
  t.throws(() => parseGgufHeader(om.outputPath!), /truncated/, 'the job must check the model');
});

t.test('exit 0 without an output, and a command that cannot start, are errors', async (t) => {
  writeFileSync(path.join(dir, 'silent.mjs'), 'console.log(JSON.stringify({ type: "progress", fraction: 1 }))\n');
  const silent = await settle(
    startTrainer({ command: [process.execPath, 'silent.mjs'], cwd: dir, graceMs: 100, onEvent: () => {} }),
  );
  t.equal(silent.exitCode, 0);
  t.equal(silent.error, 'trainer exited 0 without reporting an output');

  const missing = startTrainer({
    command: [path.join(dir, 'no-such-trainer')],
    cwd: dir,
    graceMs: 100,
    onEvent: () => {},
  });
  t.equal(missing.pid, -1);
  missing.cancel(); // must not signal group 1 or our own
  const o = await missing.done;
  t.match(o.error, /^could not start trainer: spawn .*no-such-trainer ENOENT$/);
  t.equal(o.exitCode, null);
});
