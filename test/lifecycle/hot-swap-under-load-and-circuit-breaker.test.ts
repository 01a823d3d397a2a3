import t from 'tap';
import type * as grpc from '@grpc/grpc-js';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { errorCode, startHarness, until } from '../helpers/coordinator.js';
import { nextModelState } from '../helpers/events.js';
import { buildTinyLlamaGguf, writeTinyLlamaGguf } from '../../src/model/demo-model.js';

t.test('hot swap: re-pointing an alias under load fails no request; the old version drains and unloads', async (t) => {
  const h = await startHarness(t);
  await writeTinyLlamaGguf(path.join(h.modelsRoot, 'v2.gguf'), { seed: 2 });
  await h.unary('RegisterModel', { name: 'm:v1', path: 'moc-demo.gguf' });
  await h.unary('RegisterModel', { name: 'm:v2', path: 'v2.gguf' });
  await h.unary('SetAlias', { alias: 'm', target: 'm:v1' });
  await h.unary('LoadModel', { name: 'm' });

  let stop = false;
  const served: Record<string, number> = {};
  const failures: string[] = [];
  // 16 clients in a closed loop: well over 200 requests a second with this model.
  const clients = Array.from({ length: 16 }, async (_, i) => {
    for (let n = 0; !stop; n++) {
      try {
        const r = await h.unary('Infer', {
          model: 'm',
          prompt: `client ${i} request ${n}`,
          max_tokens: 4,
          temperature: 0,
        });
        served[r.model] = (served[r.model] ?? 0) + 1;
      } catch (err) {
        failures.push(`${(err as grpc.ServiceError).code}: ${(err as grpc.ServiceError).details}`);
      }
    }
  });
  await until('traffic on v1', async () => (served['m:v1'] ?? 0) > 200);
  const start = Date.now();
  // Subscribed before the swap: v1 may drain and unload before the traffic on v2 is counted.
  const v1Unloaded = nextModelState(h.coordinator, (m) => m.name === 'm:v1' && m.state === 'registered', 'v1 unloaded');
  const swap = await h.unary('SetAlias', { alias: 'm', target: 'm:v2' });
  t.same(swap, { alias: 'm', target: 'm:v2', previous: 'm:v1' });
  await until('traffic on v2', async () => (served['m:v2'] ?? 0) > 200);
  const seconds = (Date.now() - start) / 1000;
  stop = true;
  await Promise.all(clients);
  t.same(failures, [], 'zero failed requests');
  t.ok(
    served['m:v1']! > 200 && served['m:v2']! > 200,
    `served v1 ${served['m:v1']}, v2 ${served['m:v2']} (swap + 200 requests on v2 in ${seconds.toFixed(1)} s)`,
  );
  const models = Object.fromEntries((await h.unary('ListModels', {})).models.map((m: any) => [m.name, m]));
  await v1Unloaded;
  t.equal(
    (await h.unary('ListModels', {})).models.find((m: any) => m.name === 'm:v1').state,
    'MODEL_STATE_REGISTERED',
    'v1 drained and unloaded',
  );
  t.same(models['m:v2'].aliases, ['m']);
});

t.test('circuit breaker: repeated load failures fail fast, with the last error', async (t) => {
  const h = await startHarness(t, { lifecycle: { breakerFailures: 2, breakerCooldownMs: 60_000 } });
  // A valid GGUF header (it passes inspection) whose architecture llama.cpp does not know: the engine refuses it.
  const buf = buildTinyLlamaGguf();
  const at = buf.indexOf('llama');
  writeFileSync(
    path.join(h.modelsRoot, 'alien.gguf'),
    Buffer.concat([buf.subarray(0, at), Buffer.from('lla_a'), buf.subarray(at + 5)]),
  );
  await h.unary('RegisterModel', { name: 'alien', path: 'alien.gguf' });
  for (let i = 1; i <= 2; i++) {
    const e = await h.unary('LoadModel', { name: 'alien' }).catch((err) => err);
    t.equal(errorCode(e), 'MOC_ERR_LOAD_FAILED', `failure ${i} comes from the engine`);
    t.match(e.details, /the engine could not load 'alien'/);
  }
  const fast = await h.unary('LoadModel', { name: 'alien' }).catch((err) => err);
  t.equal(errorCode(fast), 'MOC_ERR_LOAD_FAILED');
  t.match(
    fast.details,
    /failing fast after 2 failures in a row \(last: the engine could not load 'alien'/,
    'open: fails fast with the last error',
  );
  const view = (await h.unary('ListModels', {})).models.find((m: any) => m.name === 'alien');
  t.equal(view.breaker, 'open');
  t.equal(
    (await h.unary('Infer', { model: 'moc-demo', prompt: 'ok', max_tokens: 2, temperature: 0 })).model,
    'moc-demo',
    'others unaffected',
  );
});
