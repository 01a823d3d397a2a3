/**
 * REST with API keys configured: the auth matrix on every route (no key, wrong key, infer key, admin key, both
 * header forms), public health; the open demo mode refusing a non-loopback host; and 429 + Retry-After at overload.
 */
import t from 'tap';
import { startHarness } from '../helpers/coordinator.js';
import { ROUTES } from '../../src/transports/rest/routes.js';
import { resolveConfig } from '../../src/config.js';
import { Coordinator } from '../../src/coordinator.js';
import { silentLogger } from '../../src/log.js';

const ADMIN = 'admin-key-0123456789abcdef';
const INFER = 'infer-key-0123456789abcdef';

/** A request that the route would accept, so only the key decides between 2xx and 401/403. */
function requestFor(method: string, path: string): { url: string; init: RequestInit } {
  const p = path.replace('{name}', 'moc-demo').replace('{alias}', 'chat');
  const bodies: Record<string, unknown> = {
    'post /v1/models': { name: 'moc-demo', path: 'moc-demo.gguf', keep_alive_ms: -1 },
    'post /v1/models/{name}/load': {},
    'post /v1/models/{name}/pin': { pinned: false },
    'put /v1/aliases/{alias}': { target: 'moc-demo' },
    'post /v1/infer': { model: 'moc-demo', prompt: 'hi', max_tokens: 2, temperature: 0 },
  };
  const body = bodies[`${method} ${path}`];
  return { url: p, init: { method: method.toUpperCase(), ...(body !== undefined ? { body: JSON.stringify(body) } : {}) } };
}

t.test('keys and roles on every REST route', async (t) => {
  const h = await startHarness(t, { auth: { keys: [{ name: 'ops', role: 'admin', key: ADMIN }, { name: 'agents', role: 'infer', key: INFER }] } });
  // Unload last: it changes what the other routes see.
  const routes = [...ROUTES].sort((a, b) => Number(a.operationId === 'unloadModel') - Number(b.operationId === 'unloadModel'));
  for (const route of routes) {
    const { url, init } = requestFor(route.method, route.path);
    const call = (headers: Record<string, string>) => fetch(h.restUrl + url, { ...init, headers });
    const name = `${route.method.toUpperCase()} ${route.path}`;
    if (!route.action) {
      t.ok((await call({})).status < 400, `${name} is public`);
      continue;
    }
    const none = await call({});
    t.equal(none.status, 401, `${name}: no key → 401`);
    t.equal(((await none.json()) as any).error.code, 'MOC_ERR_UNAUTHENTICATED');
    const wrong = await call({ authorization: 'Bearer not-a-key-of-this-server' });
    t.equal(wrong.status, 401, `${name}: wrong key → 401`);
    const wrongBody = await wrong.text();
    t.notMatch(wrongBody, /not-a-key-of-this-server/, 'the presented key is not echoed');

    const inferKey = await call({ authorization: `Bearer ${INFER}` });
    const adminOnly = route.action !== 'infer' && !['list-models', 'get-model', 'devices'].includes(route.action);
    if (adminOnly) {
      t.equal(inferKey.status, 403, `${name}: infer key → 403`);
      t.match(((await inferKey.json()) as any).error, { code: 'MOC_ERR_PERMISSION_DENIED', message: /needs the admin role/ });
    } else {
      t.equal(inferKey.status, route.status, `${name}: infer key → ${route.status}`);
      await inferKey.arrayBuffer();
    }
    const admin = await call({ 'x-api-key': ADMIN });
    t.equal(admin.status, route.status, `${name}: admin key (x-api-key) → ${route.status}`);
    await admin.arrayBuffer();
  }
  // A body is not read from an unauthenticated caller: 401 even for a 2 MB body, not 413.
  const big = await fetch(`${h.restUrl}/v1/infer`, { method: 'POST', body: 'x'.repeat(2 * 1024 * 1024) });
  t.equal(big.status, 401, 'an unauthenticated 2 MB body is refused as unauthenticated, before it is read');
});

t.test('without keys the server runs open only on loopback', async (t) => {
  const dir = t.testdir();
  const cfg = resolveConfig({ server: { host: '0.0.0.0', grpcPort: 0 }, rest: { port: 0 } }, { baseDir: dir });
  await t.rejects(Coordinator.start(cfg, { log: silentLogger }), /refusing to serve on 0\.0\.0\.0 without API keys/);
  const required = resolveConfig({ server: { grpcPort: 0 }, rest: { port: 0 }, auth: { required: true } }, { baseDir: dir });
  await t.rejects(Coordinator.start(required, { log: silentLogger }), /auth\.required is true but no API keys are configured/);
});

t.test('overload: a full queue answers 429 with Retry-After, and the server keeps serving', async (t) => {
  // 8 sequences running + 1 queued per model: the rest of a burst of 40 is refused at once.
  const h = await startHarness(t, { devices: [{ id: 'cpu0', memory: '1GiB', maxQueue: 1 }] });
  const burst = await Promise.all(Array.from({ length: 40 }, (_, i) => fetch(`${h.restUrl}/v1/infer`, {
    method: 'POST', body: JSON.stringify({ model: 'moc-demo', prompt: `burst ${i}`, max_tokens: 48, temperature: 0.5, seed: i }),
  }).then(async (r) => ({ status: r.status, retry: r.headers.get('retry-after'), body: (await r.json()) as any }))));
  const busy = burst.filter((r) => r.status === 429);
  const ok = burst.filter((r) => r.status === 200);
  t.ok(busy.length > 0, `${busy.length} of 40 refused with 429`);
  t.ok(ok.length >= 8, `${ok.length} served`);
  t.equal(busy.length + ok.length, 40, 'every request answered 200 or 429');
  t.ok(busy.every((r) => r.body.error.code === 'MOC_ERR_BUSY' && Number(r.retry) >= 1), 'each 429 is MOC_ERR_BUSY with Retry-After in seconds');
  t.match(busy[0]?.body.error.message, /retry after/);
  const after = await fetch(`${h.restUrl}/v1/infer`, { method: 'POST', body: JSON.stringify({ model: 'moc-demo', prompt: 'after', max_tokens: 2 }) });
  t.equal(after.status, 200);
});
