/**
 * Readiness says why it is not ready; one model's readiness is its own route (as Triton's /v2/models/{name}/ready);
 * and a graceful stop turns readiness false first — REST, gRPC health and ZMQ health alike — while requests are still
 * served for shutdown.drainMs, so a balancer stops sending before any listener refuses.
 */
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as HEALTH_PROTO_PATH } from 'grpc-health-check';
import { startHarness } from '../helpers/coordinator.js';
import { zmqRequest } from '../helpers/zmq.js';

const HealthClient = (
  grpc.loadPackageDefinition(
    protoLoader.loadSync(HEALTH_PROTO_PATH, { keepCase: true, enums: String, defaults: true }),
  ) as any
).grpc.health.v1.Health as new (
  address: string,
  creds: grpc.ChannelCredentials,
) => grpc.Client & Record<string, any>;

const get = async (url: string) => {
  const r = await fetch(url);
  return { status: r.status, body: (await r.json()) as any };
};

t.test("reasons when not ready; a model's own readiness: loaded, not loaded, unknown, through an alias", async (t) => {
  const h = await startHarness(t);
  const ready = await get(`${h.restUrl}/health/ready`);
  t.equal(ready.status, 200);
  t.same(ready.body.reasons, [], 'no reason when ready');
  const demo = await get(`${h.restUrl}/v1/models/moc-demo/ready`);
  t.equal(demo.status, 200);
  t.same(demo.body, { model: 'moc-demo', ready: true, state: 'loaded', device: 'cpu0', reason: '' });
  await h.unary('SetAlias', { alias: 'prod', target: 'moc-demo' });
  t.equal((await get(`${h.restUrl}/v1/models/prod/ready`)).body.model, 'moc-demo', 'an alias answers for its target');

  await h.unary('UnloadModel', { name: 'moc-demo' });
  const notReady = await get(`${h.restUrl}/health/ready`);
  t.equal(notReady.status, 503);
  t.equal(notReady.body.status, 'not-ready');
  t.match(notReady.body.reasons, [/^no model is loaded/], 'says why, and what to do');
  const unloaded = await get(`${h.restUrl}/v1/models/moc-demo/ready`);
  t.equal(unloaded.status, 503);
  t.match(unloaded.body, { ready: false, state: 'registered', reason: /not loaded/ });
  const unknown = await get(`${h.restUrl}/v1/models/nope/ready`);
  t.equal(unknown.status, 404);
  t.equal(unknown.body.error.code, 'MOC_ERR_MODEL_NOT_FOUND');
  const z = await zmqRequest(h.zmqUrl, { action: 'health' });
  t.equal(z.state, 'not-ready', 'ZMQ health agrees');
});

t.test('a graceful stop: not ready first on every transport, still serving for drainMs, then closed', async (t) => {
  const h = await startHarness(t, { shutdown: { drainMs: 1500, graceMs: 5000 } });
  const health = new HealthClient(`127.0.0.1:${h.coordinator.grpcPort}`, grpc.credentials.createInsecure());
  t.teardown(() => health.close());
  const check = () =>
    new Promise<string>((resolve, reject) =>
      health.Check({ service: '' }, { deadline: Date.now() + 5000 }, (err: grpc.ServiceError | null, r: any) =>
        err ? reject(err) : resolve(r.status),
      ),
    );
  t.equal(await check(), 'SERVING');

  const started = Date.now();
  const closing = h.coordinator.close();
  const during = await get(`${h.restUrl}/health/ready`);
  t.equal(during.status, 503, 'REST readiness is false at once');
  t.match(during.body.reasons, [/shutting down/]);
  t.equal(await check(), 'NOT_SERVING', 'gRPC health too');
  t.equal((await zmqRequest(h.zmqUrl, { action: 'health' })).state, 'not-ready', 'and ZMQ health');
  const served = await h.unary('Infer', { model: 'moc-demo', prompt: 'still here', max_tokens: 2 });
  t.ok(served.tokens_generated > 0, 'requests are still served while draining');
  const rest = await fetch(`${h.restUrl}/v1/models`);
  t.equal(rest.status, 200, 'REST too');
  await closing;
  t.ok(Date.now() - started >= 1500, `the listeners closed after drainMs (${Date.now() - started} ms)`);
  await t.rejects(fetch(`${h.restUrl}/health/live`), 'then the REST listener is gone');
});
