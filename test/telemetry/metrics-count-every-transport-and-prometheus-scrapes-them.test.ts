/**
 * GET /metrics: requests counted by transport, operation and code on gRPC, REST and ZMQ; inference timings and tokens
 * from the device's own figures; gauges that agree with GetDevices and ListModels at scrape time; counters that do not
 * go backwards when a device worker restarts (and the restart counted). The exposition passes `promtool check metrics`
 * (no lint finding on a moc_ metric), and a real Prometheus (Debian's, installed by .ci/run) scrapes it.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startHarness, until } from '../helpers/coordinator.js';
import { scrape, sum } from '../helpers/metrics.js';
import { zmqRequest } from '../helpers/zmq.js';
import { nextModelState } from '../helpers/events.js';
import { spawnChild } from '../helpers/child.js';
import { freePort } from '../helpers/free-port.js';

// One coordinator for the first two claims (a second start cost ~2 s): the restart comes after the first one's
// counts, which it must not set back; fault injection and the restart limit change nothing before the crash.
t.test('one coordinator, then its device worker restarted', async (t) => {
  const h = await startHarness(t, {
    debug: { faultInjection: true },
    supervisor: { maxRestarts: 3, periodMs: 60_000 },
  });

  await t.test(
    'requests on every transport, inference figures and live gauges; promtool finds nothing wrong with ours',
    async (t) => {
      const grpcInfer = await h.unary('Infer', { model: 'moc-demo', prompt: 'hello', max_tokens: 4, temperature: 0 });
      const restInfer = (await (
        await fetch(`${h.restUrl}/v1/infer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'moc-demo', prompt: 'hi', max_tokens: 3 }),
        })
      ).json()) as { tokens_generated: number; prompt_tokens: number; text: string };
      const bad = await fetch(`${h.restUrl}/v1/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'moc-demo', prompt: 'x', max_tokens: -2 }),
      });
      t.equal(bad.status, 400);
      const z = await zmqRequest(h.zmqUrl, { action: 'list_models' });
      t.equal(z.status, 'ok');

      const { text, samples, contentType } = await scrape(h);
      t.match(contentType, /^text\/plain; version=0\.0\.4/, 'the Prometheus text format');
      t.equal(
        sum(samples, 'moc_requests_total', { transport: 'grpc', operation: 'infer', code: 'OK' }),
        1,
        'gRPC Infer counted',
      );
      t.equal(
        sum(samples, 'moc_requests_total', { transport: 'rest', operation: 'infer', code: 'OK' }),
        1,
        'REST infer counted',
      );
      t.equal(
        sum(samples, 'moc_requests_total', { transport: 'rest', operation: 'infer', code: 'MOC_ERR_INVALID_ARGUMENT' }),
        1,
        'a refused request counted by its code',
      );
      t.equal(
        sum(samples, 'moc_requests_total', { transport: 'zmq', operation: 'list-models', code: 'OK' }),
        1,
        'ZMQ counted',
      );
      t.equal(
        sum(samples, 'moc_request_duration_seconds_count', { operation: 'infer' }),
        3,
        'every infer timed, the refused one too',
      );
      t.equal(
        sum(samples, 'moc_generated_tokens_total', { model: 'moc-demo' }),
        grpcInfer.tokens_generated + restInfer.tokens_generated,
        'generated tokens as the answers said',
      );
      t.equal(
        sum(samples, 'moc_prompt_tokens_total', { model: 'moc-demo' }),
        grpcInfer.prompt_tokens + restInfer.prompt_tokens,
        'prompt tokens as the answers said',
      );
      // The engine sees a token when it completes text: the demo model's random bytes sometimes never do.
      const withText = [grpcInfer.text, restInfer.text].filter((x) => x.length > 0).length;
      t.equal(
        sum(samples, 'moc_time_to_first_token_seconds_count', { model: 'moc-demo' }),
        withText,
        'time to first token of each inference that produced text',
      );
      t.ok(sum(samples, 'moc_infer_compute_duration_seconds_sum', { model: 'moc-demo' }) > 0, 'compute time observed');

      const dev = (await h.unary('GetDevices', {})).devices[0];
      t.equal(
        sum(samples, 'moc_device_memory_bytes', { device: 'cpu0', kind: 'hard_limit' }),
        dev.memory.hard_limit,
        'the ledger as GetDevices shows it',
      );
      t.equal(sum(samples, 'moc_device_memory_bytes', { device: 'cpu0', kind: 'reserved' }), dev.memory.reserved);
      t.equal(sum(samples, 'moc_device_up', { device: 'cpu0' }), 1);
      t.equal(sum(samples, 'moc_models', { state: 'loaded' }), 1, 'models by state');
      t.equal(
        sum(samples, 'moc_model_memory_bytes', { model: 'moc-demo', kind: 'reserved' }),
        dev.models[0].reserved_bytes,
      );
      t.ok(sum(samples, 'moc_store_file_bytes') > 0, "the store's size");
      for (const actor of ['router', 'lifecycle', 'jobs', 'goals', 'feedback', 'device:cpu0']) {
        t.ok(samples.has(`moc_actor_mailbox_depth{actor="${actor}"}`), `${actor}: mailbox depth`);
        t.equal(samples.get(`moc_actor_busy_rejections_total{actor="${actor}"}`), 0, `${actor}: no refusal`);
      }
      t.ok(sum(samples, 'process_resident_memory_bytes') > 0, 'process defaults (prom-client)');
      t.notOk(
        [...samples.keys()].some((k) => /request_id|prompt=|key=/.test(k)),
        'no request id, prompt or key in any label',
      );

      // promtool: exit 1 is a parse error; 3 is lint findings, allowed only for prom-client's own nodejs_* gauges.
      const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      t.equal(check.error?.message, undefined, 'promtool runs (Debian prometheus, installed by .ci/run)');
      t.not(check.status, 1, `promtool parses the exposition: ${check.stderr}`);
      const findings = `${check.stdout}${check.stderr}`.split('\n').filter((l) => l.trim());
      t.same(
        findings.filter((l) => /^moc_/.test(l)),
        [],
        'no lint finding on a moc_ metric',
      );
    },
  );

  await t.test('counters survive a device worker restart, which is counted', async (t) => {
    await h.unary('Infer', { model: 'moc-demo', prompt: 'before', max_tokens: 4, temperature: 0 });
    const before = sum((await scrape(h)).samples, 'moc_generated_tokens_total');
    t.ok(before > 0);
    await h.coordinator.devices.get('cpu0')!.ask({ kind: 'crash', target: 'worker' }, { timeoutMs: 5000 });
    const after = await until('the restart counted', async () => {
      const s = (await scrape(h)).samples;
      return sum(s, 'moc_actor_restarts_total', { actor: 'device:cpu0' }) >= 1 ? s : undefined;
    });
    t.match(
      [...after.keys()].find((k) => k.startsWith('moc_actor_restarts_total')),
      /reason="crashed"/,
      'by reason',
    );
    t.ok(sum(after, 'moc_generated_tokens_total') >= before, 'counted tokens did not go backwards');
  });
});

t.test('a real Prometheus scrapes /metrics', async (t) => {
  // Prometheus 2.42 applies a new target list on a 5 s tick (not configurable): it is started first, on MOC's REST
  // port chosen here, so that tick passes while the coordinator starts instead of after.
  const restPort = await freePort();
  const dir = t.testdir();
  const target = `127.0.0.1:${restPort}`;
  writeFileSync(
    path.join(dir, 'prometheus.yml'),
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      'scrape_configs:',
      '  - job_name: moc',
      `    static_configs: [ { targets: ["${target}"] } ]`,
    ].join('\n'),
  );
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  spawnChild(
    t,
    'prometheus',
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: 'ignore' },
  );
  const h = await startHarness(t, { rest: { port: restPort } }, { dir }); // a second t.testdir() would wipe Prometheus's files
  await h.unary('Infer', { model: 'moc-demo', prompt: 'scraped', max_tokens: 2 });
  const query = async (q: string) => {
    const r = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`);
    return (
      (await r.json()) as { data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } }
    ).data.result;
  };
  // It may have scraped MOC before the Infer (or before MOC listened): wait for a scrape that came after it.
  const up = await until(
    'Prometheus scraped MOC after the Infer',
    async () => {
      const r = await query('up{job="moc"}');
      const after = await query('sum(moc_requests_total{operation="infer",code="OK"})');
      return r.length === 1 && r[0]!.value[1] === '1' && after[0]?.value[1] === '1' ? r : undefined; // scrapes happen on Prometheus's clock: a poll is the only way
    },
    60_000,
  );
  t.equal(up[0]!.value[1], '1', 'the target is up');
  const loaded = await query('moc_models{state="loaded"}');
  t.equal(loaded[0]?.value[1], '1', 'Prometheus stored what MOC exported');
  const infers = await query('sum(moc_requests_total{operation="infer",code="OK"})');
  t.equal(infers[0]?.value[1], '1');
});

t.test('loads by result with their duration; evictions by reason (lru, keep-alive)', async (t) => {
  // Demo-sized models take about 4 MiB: soft limit 9 MiB holds two, a third evicts the least recently used.
  const h = await startHarness(t, { devices: [{ id: 'cpu0', memory: '13MiB', softLimit: '9MiB' }], models: [] });
  await h.unary('RegisterModel', { name: 'idle', path: 'moc-demo.gguf' });
  await h.unary('LoadModel', { name: 'idle' });
  await h.unary('Infer', { model: 'moc-demo', prompt: 'x', max_tokens: 1 }); // 'idle' is now the least recently used
  await h.unary('LoadModel', { name: 'third', path: 'moc-demo.gguf' });
  const missing = await h.unary('LoadModel', { name: 'nope' }).catch((e) => e);
  t.ok(missing instanceof Error, 'an unknown model is refused');
  await h.unary('LoadModel', { name: 'blink', path: 'moc-demo.gguf', keep_alive_ms: 200, sequences: 1 });
  await nextModelState(h.coordinator, (m) => m.name === 'blink' && m.state === 'registered', 'blink expired');
  const s = await until(
    'the keep-alive eviction counted',
    async () => {
      const samples = (await scrape(h)).samples;
      return sum(samples, 'moc_model_evictions_total', { reason: 'keep-alive' }) >= 1 ? samples : undefined; // counted when the unload answers
    },
    10_000,
  );
  t.equal(sum(s, 'moc_model_loads_total', { model: 'idle', result: 'OK' }), 1, 'a load counted with its result');
  t.equal(sum(s, 'moc_model_load_duration_seconds_count', { model: 'third' }), 1, 'and timed');
  t.ok(sum(s, 'moc_model_evictions_total', { reason: 'lru' }) >= 1, 'an eviction to make room counted as lru');
  t.equal(
    sum(s, 'moc_model_evictions_total', { model: 'blink', reason: 'keep-alive' }),
    1,
    'an expiry counted as keep-alive',
  );
});

t.test(
  'requests refused before the operation table are counted too: no route, no key, bad body, malformed frames',
  async (t) => {
    const h = await startHarness(t, { auth: { keys: [{ name: 'ops', key: 'k-admin-1234567890', role: 'admin' }] } });
    const auth = { authorization: 'Bearer k-admin-1234567890' };
    t.equal((await fetch(`${h.restUrl}/v1/nowhere`, { headers: auth })).status, 404, 'no route');
    t.equal((await fetch(`${h.restUrl}/v1/models`)).status, 401, 'no key');
    t.equal(
      (
        await fetch(`${h.restUrl}/v1/infer`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: '{"model":',
        })
      ).status,
      400,
      'bad JSON',
    );
    const noKey = await h.unary('ListModels', {}).catch((e) => e);
    t.ok(noKey instanceof Error, 'gRPC without a key is refused');
    const malformed = await zmqRequest(h.zmqUrl, 'not an object');
    t.equal(malformed.status, 'error');

    const s = (await scrape(h)).samples;
    t.equal(
      sum(s, 'moc_requests_total', { transport: 'rest', operation: 'unknown', code: 'MOC_ERR_NOT_IMPLEMENTED' }),
      1,
      'REST: no route',
    );
    t.equal(
      sum(s, 'moc_requests_total', { transport: 'rest', operation: 'list-models', code: 'MOC_ERR_UNAUTHENTICATED' }),
      1,
      'REST: no key, under its operation',
    );
    t.equal(
      sum(s, 'moc_requests_total', { transport: 'rest', operation: 'infer', code: 'MOC_ERR_INVALID_ARGUMENT' }),
      1,
      'REST: bad JSON',
    );
    t.equal(
      sum(s, 'moc_requests_total', { transport: 'grpc', operation: 'list-models', code: 'MOC_ERR_UNAUTHENTICATED' }),
      1,
      'gRPC: refused by the key check',
    );
    t.equal(
      sum(s, 'moc_requests_total', { transport: 'zmq', operation: 'unknown', code: malformed.error_code }),
      1,
      `ZMQ: malformed (${malformed.error_code})`,
    );
  },
);
