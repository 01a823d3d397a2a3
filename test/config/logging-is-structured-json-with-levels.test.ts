import t from 'tap';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { EPHEMERAL_PORTS, mocCliArgs, spawnServer } from '../../perf/lib/spawn-server.js';
import { type ConfigError, loadConfig } from '../../src/config.js';
import { createLogger, EVENTS, LEVELS, logLevel, redact, type LoggerOptions } from '../../src/log.js';
import { spawnChild } from '../helpers/child.js';
import { untrackChildren } from '../helpers/untracked-children.js';

untrackChildren(); // its servers, their engines and its CLI runs: no tap hook on each module they load

/** A logger whose lines land in an array instead of on fd 2. */
function captured(level: Parameters<typeof createLogger>[0], opts: LoggerOptions = {}) {
  const lines: string[] = [];
  const log = createLogger(level, {
    ...opts,
    destination: { write: (s: string) => void lines.push(...s.split('\n').filter(Boolean)) },
  });
  return { log, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

t.test(
  "a real server at debug (MOC_LOG_LEVEL over the config's warn) writes one JSON object per stderr line: time, level name, event",
  async (t) => {
    // One server for two claims (each spawned server costs seconds of CPU): the config says warn, which would hide
    // server.listening; the environment says debug and wins. The config's own level in force in a real server is
    // the warn test below (MOC_LOG_LEVEL emptied there).
    const server = await spawnServer({
      yaml: `${EPHEMERAL_PORTS}log:\n  level: warn\n`,
      env: { MOC_LOG_LEVEL: 'debug' },
    });
    t.teardown(() => server.stop('SIGKILL'));
    const listening = server.logs.find((l) => l.event === 'server.listening');
    t.equal(listening?.level, 'info', 'MOC_LOG_LEVEL overrides log.level: the info line is there');
    t.match(listening?.grpc, /:\d+$/, 'server.listening carries the bound gRPC address');
    for (const rec of server.logs) {
      t.match(rec.time, ISO, `${rec.event}: time is an ISO-8601 string`);
      t.ok((LEVELS as readonly unknown[]).includes(rec.level), `${rec.event}: level is a name (${rec.level})`);
      t.ok((EVENTS as readonly unknown[]).includes(rec.event), `${rec.event}: event is in the vocabulary`);
      t.notOk('pid' in rec || 'hostname' in rec, `${rec.event}: no pid/hostname`);
    }
    server.proc.kill('SIGTERM');
    t.same(await server.exited, { code: 0, signal: null });
    t.ok(
      server.logs.some((l) => l.event === 'server.stopped'),
      'the last line before exit was written (sync writes)',
    );
  },
);

t.test(
  'a real server at log.level warn writes no info line (a start that fails after the models preloaded)',
  async (t) => {
    // spawnServer waits for the info line server.listening, which warn hides; a start that fails on a taken REST port
    // (after preload, which logs model.demo_ready and model.preloaded at info) ends by itself instead.
    const dir = t.testdir();
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    t.teardown(() => taken.close());
    const port = (taken.address() as net.AddressInfo).port;
    const file = path.join(dir, 'moc.yaml');
    writeFileSync(file, `server:\n  grpcPort: 0\nrest:\n  port: ${port}\nzmq:\n  port: 0\nlog:\n  level: warn\n`);
    const args = [...mocCliArgs(), 'serve', '--config', file];
    const proc = spawnChild(t, process.execPath, args, {
      cwd: dir,
      env: { ...process.env, MOC_LOG_LEVEL: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr!.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
    });
    const code = await new Promise<number | null>((r) => proc.once('close', (c) => r(c)));
    t.equal(code, 1, 'the start failed');
    t.match(stderr, /REST cannot listen/, 'on the taken port, so after preload');
    const records = stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    t.same(
      records.filter((r) => r.level === 'info' || r.level === 'debug'),
      [],
      'no info or debug line',
    );
  },
);

t.test('log.level warn from the config file: no info line, warn and error lines kept', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'moc.yaml');
  writeFileSync(file, 'log:\n  level: warn\n');
  const config = loadConfig(file, {});
  // The same wiring as `moc serve` (src/cli.ts), with an environment that does not set MOC_LOG_LEVEL.
  const { log, records } = captured(logLevel(config.log.level, {}), { sensitive: config.log.sensitive });
  log.log('debug', 'model.preloaded', { model: 'a' });
  log.log('info', 'server.listening', { grpc: '127.0.0.1:1' });
  log.log('warn', 'device.restarted', { child: 'cpu0' });
  log.log('error', 'server.escalated', { reason: 'x' });
  t.same(
    records().map((r) => [r.level, r.event]),
    [
      ['warn', 'device.restarted'],
      ['error', 'server.escalated'],
    ],
  );
});

t.test('level precedence: MOC_LOG_LEVEL when it names a level, else the config', async (t) => {
  t.equal(logLevel('warn', {}), 'warn');
  t.equal(logLevel('warn', { MOC_LOG_LEVEL: 'debug' }), 'debug');
  t.equal(logLevel('warn', { MOC_LOG_LEVEL: 'loud' }), 'warn', 'an unknown level is ignored (cli logs config.invalid)');
  t.equal(logLevel('error', { MOC_LOG_LEVEL: '' }), 'error', 'empty counts as unset');
});

t.test('log section: defaults, bad level and misspelled key are config errors', async (t) => {
  t.same(loadConfig(undefined).log, { level: 'info', sensitive: false, requests: true });
  const dir = t.testdir();
  const bad = (yaml: string) => {
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, yaml);
    try {
      loadConfig(file, {});
    } catch (err) {
      return err as ConfigError;
    }
    return undefined;
  };
  t.match(bad('log:\n  level: verbose\n')?.problems.join('\n'), /\/log\/level/);
  t.match(bad('log:\n  levle: debug\n')?.problems.join('\n'), /\/log\/levle: unknown key; did you mean 'level'/);
});

t.test('sensitive keys are never written unless log.sensitive is on, whatever the caller passes', async (t) => {
  const secret = { prompt: 'my diary', text: 'answer', key: 'k'.repeat(20), apiKey: 'sk-1', authorization: 'Bearer x' };
  const off = captured('debug');
  off.log.log('debug', 'rest.internal_error', {
    ...secret,
    model: 'm',
    request: { prompt: 'nested diary', max_tokens: 2 },
  });
  const [rec] = off.records();
  t.same(rec, {
    level: 'debug',
    time: rec!.time,
    event: 'rest.internal_error',
    model: 'm',
    request: { max_tokens: 2 },
  });
  t.notMatch(off.lines.join('\n'), /diary|answer|sk-1|Bearer/, 'nothing of them in the raw line');

  const on = captured('debug', { sensitive: true });
  on.log.log('debug', 'rest.internal_error', { prompt: 'my diary' });
  t.equal(on.records()[0]!.prompt, 'my diary', 'sensitive: written as given');

  const fields = { ...secret, model: 'm' };
  t.same(redact(fields, false), { model: 'm' }, 'redact() drops them');
  t.equal(redact(fields, true), fields, 'and keeps everything when sensitive');
  t.ok('prompt' in fields, "without touching the caller's object");
});
