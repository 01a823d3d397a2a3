/**
 * The `moc` CLI, run as a user runs it (a separate process, MOC_URL and MOC_API_KEY), against a running server: every
 * command's human and --json output, exit codes scripts rely on (usage 2, unreachable 3, not found 4, auth 5, job not
 * succeeded 7), a load whose progress bar completes, inference streamed to stdout, a job followed to its end.
 */
import t from 'tap';
import { startHarness } from '../helpers/coordinator.js';
import { TEXTS, writeDataset } from '../jobs/helpers.js';
import { runMoc } from '../helpers/cli.js';
import { untrackChildren } from '../helpers/untracked-children.js';

untrackChildren(); // the coordinator's engine: no tap hook on each module it loads (runMoc's runs have none either)

const KEY = 'cli-test-admin-key-0123456789';
const INFER_KEY = 'cli-test-infer-key-0123456789';

const moc = (args: string[], env: Record<string, string>, stdin?: string) => runMoc(t, args, env, stdin);

t.test('moc against a running server', async (t) => {
  const h = await startHarness(t, {
    auth: {
      keys: [
        { name: 'ops', role: 'admin', key: KEY },
        { name: 'agent', role: 'infer', key: INFER_KEY },
      ],
    },
  });
  const env = { MOC_URL: h.restUrl, MOC_API_KEY: KEY };
  const run = (...args: string[]) => moc(args, env);

  // Runs that depend on no other run's effect go together (each is a process of its own).
  const [ls, lsJson] = await Promise.all([run('models', 'ls'), run('models', 'ls', '--json')]);
  t.equal(ls.code, 0, 'models ls: exit 0');
  t.match(ls.out, /^NAME\s+STATE\s+DEVICE/m, 'a table with a header');
  t.match(ls.out, /^moc-demo\s+loaded\s+cpu0/m, 'the demo model, loaded on cpu0');
  t.equal(lsJson.code, 0);
  t.match(JSON.parse(lsJson.out), [{ name: 'moc-demo', state: 'loaded' }], '--json: the model resources');

  const reg = await run('models', 'register', 'second', 'moc-demo.gguf', '--context-size', '256', '--sequences', '2');
  t.equal(reg.code, 0, 'register: exit 0');
  t.match(reg.out, /registered second/);
  const load = await run('models', 'load', 'second', '--progress');
  t.equal(load.code, 0, 'load: exit 0');
  t.match(load.out, /^loaded second on cpu0/m, 'the result on stdout');
  t.match(load.err, /loading second \[.*\] 100%/, 'a progress bar on stderr that completes');
  const get = await run('models', 'get', 'second', '--json');
  t.match(JSON.parse(get.out), { name: 'second', state: 'loaded', context_size: 256, sequences: 2 });
  t.equal((await run('models', 'alias', 'chat', 'second')).out.trim(), 'chat → second');
  t.match((await run('models', 'pin', 'second')).out, /^pinned second/);
  t.match((await run('models', 'pin', 'second', '--off')).out, /^unpinned second/);
  const unload = await run('models', 'unload', 'second', '--json');
  t.match(JSON.parse(unload.out), { name: 'second' }, 'unload --json');

  const infer = await run('infer', 'moc-demo', 'Hello', '--max-tokens', '8', '--temperature', '0');
  t.equal(infer.code, 0, 'infer: exit 0');
  t.match(infer.err, /\[moc-demo on cpu0: 8 tokens, length, \d+ ms\]/, 'a summary on stderr');
  const inferJson = await run('infer', 'moc-demo', 'Hello', '--max-tokens', '8', '--temperature', '0', '--json');
  const answer = JSON.parse(inferJson.out);
  t.equal(infer.out, `${answer.text}\n`, 'the streamed text is the answer');
  const piped = await moc(['infer', 'moc-demo', '--max-tokens', '8', '--temperature', '0', '--json'], env, 'Hello');
  t.equal(JSON.parse(piped.out).text, answer.text, 'the prompt from stdin');
  // Options after a variadic one (--stop) are options again, and their values are checked, not dropped (issue 24).
  const stopped = await run('infer', 'moc-demo', 'Hello', '--stop', 'zq', 'qz', '--max-tokens', '3', '--json');
  t.equal(stopped.code, 0, `infer --stop a b --max-tokens 3: exit 0 ${stopped.err}`);
  t.equal(JSON.parse(stopped.out).tokens_generated, 3, '--max-tokens after --stop is the token limit');

  const [devices, devicesJson, health] = await Promise.all([run('devices'), run('devices', '--json'), run('health')]);
  t.match(devices.out, /^ID\s+KIND\s+AVAILABLE/m);
  t.match(devices.out, /^cpu0\s+cpu\s+true/m);
  t.match(JSON.parse(devicesJson.out), [{ id: 'cpu0' }]);
  t.equal(health.out.trim(), 'ready', 'health: ready, exit 0');

  // A job followed to its end with a progress bar; its exit code follows its final state.
  writeDataset(h, 'cli.jsonl', TEXTS);
  const [job, bad] = await Promise.all([
    run(
      'jobs',
      'submit',
      'evaluate',
      '--spec',
      JSON.stringify({ model: 'moc-demo', dataset: 'cli.jsonl' }),
      '--watch',
      '--progress',
    ),
    run(
      'jobs',
      'submit',
      'evaluate',
      '--spec',
      JSON.stringify({ model: 'moc-demo', dataset: 'missing.jsonl' }),
      '--watch',
      '--json',
    ),
  ]);
  t.equal(job.code, 0, 'a succeeding job watched: exit 0');
  t.match(job.out, /^state\s+succeeded/m);
  t.match(job.err, /job \S+ \[.*\] 100% \| succeeded/, 'its bar completes');
  t.equal(bad.code, 7, 'a failing job watched: exit 7');
  t.equal(JSON.parse(bad.out).state, 'failed');
  const [jobs, jobsTable] = await Promise.all([run('jobs', 'ls', '--json'), run('jobs', 'ls')]);
  t.equal(JSON.parse(jobs.out).length, 2, 'jobs ls --json');
  t.match(jobsTable.out, /^ID\s+TYPE\s+STATE/m);

  const goal = await run('goals', 'create', 'better answers', '--priority', '3', '--json');
  const g = JSON.parse(goal.out);
  t.match(g, { title: 'better answers', priority: 3 });
  t.match((await run('goals', 'ls')).out, /better answers/);
  t.match(JSON.parse((await run('goals', 'cancel', g.id, '--json')).out), { state: 'cancelled' });

  // Exit codes.
  const [missing, wrongKey, inferKey, down, unknownCommand, badSpec, help, key] = await Promise.all([
    run('models', 'get', 'no-such-model'),
    moc(['models', 'ls'], { MOC_URL: h.restUrl, MOC_API_KEY: 'wrong-key-0123456789abc' }),
    moc(['models', 'load', 'moc-demo'], { MOC_URL: h.restUrl, MOC_API_KEY: INFER_KEY }),
    moc(['models', 'ls'], { MOC_URL: 'http://127.0.0.1:9', MOC_API_KEY: KEY }),
    run('models', 'frobnicate'),
    run('jobs', 'submit', 'evaluate', '--spec', 'not json'),
    run('jobs', 'watch', '--help'),
    moc(['keys', 'new', '--role', 'trainer', '--name', 'learner'], {}),
  ]);
  t.equal(missing.code, 4, 'an unknown model: exit 4');
  t.match(missing.err, /^moc: MOC_ERR_MODEL_NOT_FOUND: /);
  t.equal(wrongKey.code, 5, 'a wrong key: exit 5');
  t.equal(inferKey.code, 5, 'an infer key loading: exit 5');
  t.equal(down.code, 3, 'no server: exit 3');
  t.match(down.err, /no MOC server answered at http:\/\/127\.0\.0\.1:9/);
  t.equal(unknownCommand.code, 2, 'an unknown subcommand: exit 2');
  t.equal(badSpec.code, 2, 'a bad --spec: exit 2');
  t.equal(help.code, 0, '--help: exit 0');
  t.match(help.out, /exit 0 if it succeeded, 7 if not/);
  t.match(key.out.trim(), /^trainer:learner:[0-9a-f]{48}$/, 'keys new: a line for the keys file');
});
