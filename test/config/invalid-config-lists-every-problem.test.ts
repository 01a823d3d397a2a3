import t from 'tap';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, ConfigError, parseSize } from '../../src/config.js';

t.test('zero config: one cpu device, demo defaults, frozen', async (t) => {
  const c = loadConfig(undefined);
  t.equal(c.server.grpcPort, 7212);
  t.equal(c.server.host, '127.0.0.1', 'binds loopback by default');
  t.equal(c.devices.length, 1);
  t.equal(c.devices[0]!.kind, 'cpu');
  t.equal(c.devices[0]!.threads, 1, 'threads default to 1 (FACTS: 20x faster than 2 on 2 cores)');
  t.equal(c.devices[0]!.memory, 2 * 1024 ** 3);
  t.equal(c.devices[0]!.softLimit, Math.floor(2 * 1024 ** 3 * 0.9));
  t.same(c.models, []);
  t.ok(path.isAbsolute(c.dataDir) && path.isAbsolute(c.modelsRoot));
  t.ok(Object.isFrozen(c) && Object.isFrozen(c.devices[0]), 'deep-frozen');
});

t.test('YAML with ${VAR:default} substitution; relative paths anchor at the file', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'moc.yaml');
  writeFileSync(
    file,
    [
      'server:',
      '  grpcPort: ${MOC_TEST_PORT:7300}',
      'devices:',
      '  - id: gpu0',
      '    kind: cpu',
      '    memory: ${MOC_TEST_MEM:1GiB}',
      '    threads: 2',
      'modelsRoot: ./m',
      // $${X} is the escape for a literal ${X}: kept even when X is set, and an unset X without default is no problem.
      'models:',
      '  - name: lit',
      "    path: '$${MOC_TEST_SET}/$${MOC_TEST_UNSET}-$${MOC_TEST_SET:d}.gguf'",
    ].join('\n'),
  );
  const c = loadConfig(file, { MOC_TEST_MEM: '512MiB', MOC_TEST_SET: 'oops' });
  t.equal(c.server.grpcPort, 7300, 'default used when the variable is unset');
  t.equal(c.devices[0]!.memory, 512 * 1024 ** 2, 'variable used when set');
  t.equal(c.modelsRoot, path.join(dir, 'm'));
  t.equal(c.models[0]!.path, '${MOC_TEST_SET}/${MOC_TEST_UNSET}-${MOC_TEST_SET:d}.gguf', '$${X} yields a literal ${X}');
});

t.test('every invalid field is reported in one error, with hints', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'bad.yaml');
  writeFileSync(
    file,
    [
      'server:',
      '  grpcPort: 99999',
      '  hostt: 0.0.0.0',
      'devices:',
      '  - id: GPU 0',
      '    kind: tpu',
      '    memory: lots',
      '    threads: 0',
      'models:',
      '  - name: "bad name!"',
      '    path: x.gguf',
      '    sequences: 0',
      'limits:',
      '  maxPromptBytes: ${MOC_UNSET_VAR_FOR_TEST}',
    ].join('\n'),
  );
  const err = t.throws(() => loadConfig(file, {})) as unknown as ConfigError;
  t.type(err, ConfigError);
  t.match(err.message, /MOC_UNSET_VAR_FOR_TEST.*not set/, 'unset variable without default is named');
  // Substitution problems are reported first; fix that and see the schema problems all together.
  writeFileSync(
    file,
    [
      'server:',
      '  grpcPort: 99999',
      '  hostt: 0.0.0.0',
      'devices:',
      '  - id: GPU 0',
      '    kind: tpu',
      '    memory: lots',
      '    threads: 0',
      'models:',
      '  - name: "bad name!"',
      '    path: x.gguf',
      '    sequences: 0',
    ].join('\n'),
  );
  const e2 = t.throws(() => loadConfig(file, {})) as unknown as ConfigError;
  const text = e2.problems.join('\n');
  t.match(text, /\/server\/grpcPort/, 'port out of range');
  t.match(text, /\/server\/hostt: unknown key; did you mean 'host'\?/, 'misspelled key gets a hint');
  t.match(text, /\/devices\/0\/id/, 'bad device id');
  t.match(text, /\/devices\/0\/kind/, 'bad kind');
  t.match(text, /\/devices\/0\/memory/, 'bad size');
  t.match(text, /\/devices\/0\/threads/, 'threads below 1');
  t.match(text, /\/models\/0\/name/, 'bad model name');
  t.match(text, /\/models\/0\/sequences/, 'sequences below 1');
  t.ok(e2.problems.length >= 8, `${e2.problems.length} problems in one error`);
});

t.test('cross-field checks', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'x.yaml');
  writeFileSync(
    file,
    [
      'devices:',
      '  - { id: a, memory: 1GiB, softLimit: 2GiB }',
      '  - { id: a, memory: 1GiB }',
      'models:',
      '  - { name: m, path: m.gguf, device: nope }',
    ].join('\n'),
  );
  const err = t.throws(() => loadConfig(file, {})) as unknown as ConfigError;
  const text = err.problems.join('\n');
  t.match(text, /softLimit.*above memory/);
  t.match(text, /'a' is used twice/);
  t.match(text, /'nope' is not a configured device/);
  t.throws(() => loadConfig(path.join(dir, 'missing.yaml')), /cannot read the file/);
});

t.test('sizes', async (t) => {
  t.equal(parseSize(1024), 1024);
  t.equal(parseSize('1.5GiB'), 1.5 * 1024 ** 3);
  t.equal(parseSize('100MB'), 100e6);
  t.equal(parseSize('10'), 10);
});
