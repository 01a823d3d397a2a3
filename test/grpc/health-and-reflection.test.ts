/**
 * The standard grpc.health.v1.Health reports readiness (as REST /health/ready) for "" and moc.v1.ModelOps, turns
 * NOT_SERVING as soon as close() starts (and ends its Watch streams so they do not hold the drain), and answers
 * without a key; server reflection (v1 and v1alpha) lists ModelOps and Health. Clients come from the packages' protos.
 */
import t, { type Test } from 'tap';
import path from 'node:path';
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as HEALTH_PROTO_PATH } from 'grpc-health-check';
import { startHarness, until, type Harness } from '../helpers/coordinator.js';

const require = createRequire(import.meta.url);
const REFLECTION_PROTOS = path.join(path.dirname(require.resolve('@grpc/reflection')), '..', 'proto');
const LOADER: protoLoader.Options = { keepCase: true, enums: String, defaults: true, oneofs: true };

type Ctor = grpc.ServiceClientConstructor;
const HealthClient = (grpc.loadPackageDefinition(protoLoader.loadSync(HEALTH_PROTO_PATH, LOADER)) as any).grpc.health.v1
  .Health as Ctor;
const reflectionClient = (version: 'v1' | 'v1alpha') =>
  (
    grpc.loadPackageDefinition(
      protoLoader.loadSync(path.join(REFLECTION_PROTOS, 'grpc', 'reflection', version, 'reflection.proto'), LOADER),
    ) as any
  ).grpc.reflection[version].ServerReflection as Ctor;

const address = (h: Harness) => `127.0.0.1:${h.coordinator.grpcPort}`;

function health(t: Test, h: Harness): grpc.Client & Record<string, any> {
  const c = new HealthClient(address(h), grpc.credentials.createInsecure()) as grpc.Client & Record<string, any>;
  t.teardown(() => c.close());
  return c;
}

/** Health.Check with no metadata at all (no key): resolves with the status, or with the error's code. */
function check(c: grpc.Client & Record<string, any>, service: string): Promise<{ status?: string; code?: number }> {
  return new Promise((resolve) => {
    c.Check(
      { service },
      new grpc.Metadata(),
      { deadline: Date.now() + 10_000 },
      (err: grpc.ServiceError | null, res: any) => resolve(err ? { code: err.code } : { status: res.status }),
    );
  });
}

/** One ServerReflectionInfo exchange: list_services, then the services' names. */
async function listServices(t: Test, h: Harness, version: 'v1' | 'v1alpha'): Promise<string[]> {
  const Client = reflectionClient(version);
  const c = new Client(address(h), grpc.credentials.createInsecure()) as grpc.Client & Record<string, any>;
  t.teardown(() => c.close());
  const answers = await new Promise<any[]>((resolve, reject) => {
    const got: any[] = [];
    const s = c.ServerReflectionInfo({ deadline: Date.now() + 10_000 }) as grpc.ClientDuplexStream<any, any>;
    s.on('data', (m) => got.push(m));
    s.on('error', reject);
    s.on('end', () => resolve(got));
    s.write({ list_services: '*' });
    s.write({ file_containing_symbol: 'moc.v1.ModelOps' });
    s.end();
  });
  t.equal(answers.length, 2, `${version}: one answer per request`);
  t.ok(
    answers[1].file_descriptor_response?.file_descriptor_proto?.length > 0,
    `${version}: ModelOps's file is described`,
  );
  return (answers[0].list_services_response?.service ?? []).map((s: { name: string }) => s.name).sort();
}

t.test(
  'Check: SERVING for the server and ModelOps once up, NOT_FOUND for another name, and follows readiness',
  async (t) => {
    const h = await startHarness(t);
    const c = health(t, h);
    t.same(await check(c, ''), { status: 'SERVING' }, 'the whole server');
    t.same(await check(c, 'moc.v1.ModelOps'), { status: 'SERVING' }, 'the ModelOps service');
    t.same(await check(c, 'moc.v1.Nothing'), { code: grpc.status.NOT_FOUND }, 'an unknown service name');
    const list = await new Promise<any>((resolve, reject) =>
      c.List({}, (err: grpc.ServiceError | null, res: any) => (err ? reject(err) : resolve(res))),
    );
    t.same(Object.keys(list.statuses).sort(), ['', 'moc.v1.ModelOps'], 'List names exactly the two');
    // No model loaded: REST /health/ready says not-ready, and so does gRPC health within its refresh interval.
    await h.unary('UnloadModel', { name: 'moc-demo' });
    await until(
      'NOT_SERVING after the last model unloaded',
      async () => (await check(c, '')).status === 'NOT_SERVING',
      5_000,
    );
    t.same(await check(c, 'moc.v1.ModelOps'), { status: 'NOT_SERVING' });
  },
);

t.test(
  'Watch: SERVING, then NOT_SERVING as soon as close() starts, then the stream ends (it does not hold the drain)',
  async (t) => {
    const h = await startHarness(t, { shutdown: { graceMs: 20_000 } });
    const c = health(t, h);
    const statuses: string[] = [];
    let closeStarted = 0;
    const ended = new Promise<number>((resolve, reject) => {
      const s = c.Watch({ service: '' }) as grpc.ClientReadableStream<any>;
      s.on('data', (m) => {
        statuses.push(m.status);
        if (statuses.length === 1) {
          closeStarted = Date.now();
          void h.coordinator.close();
        }
      });
      s.on('error', reject);
      s.on('end', () => resolve(Date.now() - closeStarted));
    });
    const tookMs = await ended;
    t.same(statuses, ['SERVING', 'NOT_SERVING']);
    t.ok(tookMs < 5_000, `the Watch ended ${tookMs} ms after close started, long before the 20 s grace`);
  },
);

t.test('with API keys configured, health and reflection answer without a key (ModelOps still needs one)', async (t) => {
  const h = await startHarness(t, {
    auth: { keys: [{ name: 'ops', role: 'admin', key: 'health-admin-key-0123456789' }] },
  });
  const c = health(t, h);
  t.same(await check(c, ''), { status: 'SERVING' });
  t.same(await check(c, 'moc.v1.ModelOps'), { status: 'SERVING' });
  t.same(await listServices(t, h, 'v1'), ['grpc.health.v1.Health', 'moc.v1.ModelOps']);
  const err = await h.unary('ListModels', {}).catch((e: grpc.ServiceError) => e);
  t.equal(err.code, grpc.status.UNAUTHENTICATED, 'public health does not open ModelOps');
});

t.test('reflection v1 and v1alpha list ModelOps and Health', async (t) => {
  const h = await startHarness(t);
  for (const version of ['v1', 'v1alpha'] as const) {
    t.same(await listServices(t, h, version), ['grpc.health.v1.Health', 'moc.v1.ModelOps'], version);
  }
});
