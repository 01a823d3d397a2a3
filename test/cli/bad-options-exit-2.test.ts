/**
 * Every `moc` command checks its options before sending anything (src/cli/options.ts): a number that is not a number
 * in range, an option whose value is missing (the next argument is another option), an unknown option, a value not
 * among the allowed ones → exit 2, one line naming the option and what it takes, then the command's usage. MOC_URL
 * points where no server listens: a command that let a bad option through would try to connect and exit 3 instead
 * (before this check, `--max-tokens abc` generated the default 64 tokens and exited 0).
 */
import t from 'tap';
import net from 'node:net';
import { type Ran, runMoc } from '../helpers/cli.js';

const moc = (args: string[], env: Record<string, string>) => runMoc(t, args, env);

/** A port with nothing listening on it: taken, then released. */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/** args → what the one error line must say (the option, and what it takes). */
const CASES: [string[], RegExp][] = [
  [
    ['infer', 'moc-demo', 'Hi', '--max-tokens', 'abc'],
    /option '--max-tokens <n>' argument 'abc'.*an integer -1 or more, not 0/,
  ],
  [
    ['infer', 'moc-demo', 'Hi', '--max-tokens', '0'],
    /option '--max-tokens <n>' argument '0'.*an integer -1 or more, not 0/,
  ],
  [
    ['infer', 'moc-demo', 'Hi', '--temperature', 'abc'],
    /option '--temperature <t>' argument 'abc'.*a number from 0 to 2/,
  ],
  [['infer', 'moc-demo', 'Hi', '--top-p', '0'], /'--top-p <p>' argument '0'.*a number above 0, up to 1/],
  [
    ['infer', 'moc-demo', 'Hi', '--stop', '--max-tokens', '3'],
    /'--stop <text\.\.\.>' argument '--max-tokens'.*missing its value/,
  ],
  [['infer', 'moc-demo', 'Hi', '--stop', ...'abcdefghi'], /'--stop <text\.\.\.>' argument 'i'.*up to 8 strings/],
  [['infer', 'moc-demo', 'Hi', '--max-tokens'], /option '--max-tokens <n>' is missing its value; it takes an integer/],
  [
    ['infer', 'moc-demo', 'Hi', '--frob'],
    /unknown option '--frob' for 'moc infer'; it takes --max-tokens <n>, .*--json/,
  ],
  [['jobs', 'ls', '--limit', '0'], /'--limit <n>' argument '0'.*an integer from 1 to 1000/],
  [
    ['jobs', 'ls', '--state', 'done'],
    /'--state <state>' argument 'done'.*one of: queued, running, retrying, succeeded/,
  ],
  [
    ['jobs', 'submit', 'evaluate', '--spec', '[1]'],
    /'--spec <json\|@file>' argument '\[1\]'.*a JSON object or @file\.json/,
  ],
  [['goals', 'create', 'g', '--priority', '101'], /'--priority <n>' argument '101'.*an integer from -100 to 100/],
  [
    ['models', 'register', 'm', 'm.gguf', '--sequences', '1.5'],
    /'--sequences <n>' argument '1\.5'.*an integer from 1 to 256/,
  ],
  [['models', 'load', 'm', '--device', '--progress'], /'--device <id>' argument '--progress'.*missing its value/],
  [['keys', 'new', '--role', 'root'], /'--role <role>' argument 'root'.*one of: admin, trainer, infer/],
];

t.test('a bad option exits 2 with one line naming it and the usage, before anything is sent', async (t) => {
  const env = { MOC_URL: `http://127.0.0.1:${await deadPort()}`, MOC_API_KEY: '' };
  // Two at a time: each is a Node process, on a two-core machine.
  const results: Ran[] = [];
  for (let i = 0; i < CASES.length; i += 2)
    results.push(...(await Promise.all(CASES.slice(i, i + 2).map(([args]) => moc(args, env)))));
  CASES.forEach(([args, said], i) => {
    const r = results[i]!;
    const name = `moc ${args.join(' ')}`;
    const [line, usage] = r.err.split('\n');
    t.equal(r.code, 2, `${name}: exit 2`);
    t.match(line, said, `${name}: the first line names the option and what it takes`);
    const command =
      args[0] === 'infer' || args[0] === 'keys' ? args.slice(0, args[0] === 'keys' ? 2 : 1) : args.slice(0, 2);
    t.match(usage, new RegExp(`^Usage: moc ${command.join(' ')} \\[options\\]`), `${name}: then the usage`);
    t.equal(r.out, '', `${name}: nothing on stdout`);
  });
});

t.test('values in range, and negative numbers, are taken', async (t) => {
  // Refused only later, by the missing server (exit 3): the options themselves passed.
  const env = { MOC_URL: `http://127.0.0.1:${await deadPort()}`, MOC_API_KEY: '' };
  const [a, b] = await Promise.all([
    moc(
      ['infer', 'moc-demo', 'Hi', '--max-tokens', '-1', '--temperature', '0', '--top-p', '1', '--stop', 'a', 'b'],
      env,
    ),
    moc(['models', 'register', 'm', 'm.gguf', '--keep-alive-ms', '-1', '--sequences', '2'], env),
  ]);
  t.equal(a.code, 3, `infer with good options reaches for the server: ${a.err}`);
  t.equal(b.code, 3, `register with good options reaches for the server: ${b.err}`);
  t.match(a.err, /^moc: no MOC server answered/);
});
