/**
 * REST with API keys configured: the auth matrix on every route (no key, wrong key, infer key, admin key, both
 * header forms), public health; the open demo mode refusing a non-loopback host; and 429 + Retry-After at overload.
 */
import t from 'tap';
import { startHarness } from '../helpers/coordinator.js';
import { LONG_MAX_TOKENS, longModel, startGeneration } from '../helpers/long-generation.js';
import { ROUTES } from '../../src/transports/rest/routes.js';
import { ROLE_OF_ACTION, roleAllows, type Role } from '../../src/auth/permissions.js';
import { resolveConfig } from '../../src/config.js';
import { Coordinator } from '../../src/coordinator.js';
import { silentLogger } from '../../src/log.js';

const ADMIN = 'admin-key-0123456789abcdef';
const INFER = 'infer-key-0123456789abcdef';
const TRAINER = 'trainer-key-0123456789abcdef';

/** A request that the route would accept, so only the key decides between 2xx and 401/403. */
function requestFor(
  method: string,
  path: string,
  ids: { job: string; goal: string },
): { url: string; init: RequestInit } {
  const p = path
    .replace('{name}', 'moc-demo')
    .replace('{alias}', 'chat')
    .replace('{id}', path.startsWith('/v1/goals') ? ids.goal : ids.job);
  const bodies: Record<string, unknown> = {
    'post /v1/models': { name: 'moc-demo', path: 'moc-demo.gguf', keep_alive_ms: -1 },
    'post /v1/models/{name}/load': {},
    'post /v1/models/{name}/pin': { pinned: false },
    'put /v1/aliases/{alias}': { target: 'moc-demo' },
    'post /v1/infer': { model: 'moc-demo', prompt: 'hi', max_tokens: 2, temperature: 0 },
    'post /v1/jobs': { type: 'evaluate', spec: { model: 'moc-demo', dataset: 'none.jsonl' } },
    'post /v1/feedback': { prompt: 'hi', chosen: 'a good answer', rejected: 'a bad one' },
    'post /v1/goals': { title: 'a goal' },
    'put /v1/goals/{id}': { priority: 1 },
    'post /openai/v1/chat/completions': {
      model: 'moc-demo',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 2,
    },
    'post /openai/v1/completions': { model: 'moc-demo', prompt: 'hi', max_tokens: 2 },
    'post /openai/v1/embeddings': { model: 'moc-demo', input: 'hi' },
    'post /v1/embeddings': { model: 'moc-demo', input: ['hi'] },
  };
  const body = bodies[`${method} ${path}`];
  return {
    url: p,
    init: { method: method.toUpperCase(), ...(body !== undefined ? { body: JSON.stringify(body) } : {}) },
  };
}

t.test('keys and roles on every REST route', async (t) => {
  const h = await startHarness(t, {
    auth: {
      keys: [
        { name: 'ops', role: 'admin', key: ADMIN },
        { name: 'agents', role: 'infer', key: INFER },
        { name: 'learners', role: 'trainer', key: TRAINER },
      ],
    },
  });
  // A job for the routes that name one (its evaluation fails: no such dataset; it exists, which is what matters).
  const job = await h.coordinator.router.ask(
    {
      kind: 'submit-job',
      request: { type: 'evaluate', spec: { model: 'moc-demo', dataset: 'none.jsonl' } },
      owner: 'ops',
    },
    { timeoutMs: 10_000 },
  );
  const goal = await h.coordinator.router.ask(
    { kind: 'create-goal', request: { title: 'for the routes' }, owner: 'ops' },
    { timeoutMs: 10_000 },
  );
  // Unload last: it changes what the other routes see.
  const routes = [...ROUTES].sort(
    (a, b) => Number(a.operationId === 'unloadModel') - Number(b.operationId === 'unloadModel'),
  );
  for (const route of routes) {
    const { url, init } = requestFor(route.method, route.path, { job: job.id, goal: goal.id });
    const call = (headers: Record<string, string>) => fetch(h.restUrl + url, { ...init, headers });
    const name = `${route.method.toUpperCase()} ${route.path}`;
    if (!route.action) {
      t.ok((await call({})).status < 400, `${name} is public`);
      continue;
    }
    const none = await call({});
    t.equal(none.status, 401, `${name}: no key → 401`);
    // The OpenAI routes answer in OpenAI's shape, with our code as moc_code (docs/openai.md).
    const code = (b: any) => b.error.moc_code ?? b.error.code;
    t.equal(code(await none.json()), 'MOC_ERR_UNAUTHENTICATED');
    const wrong = await call({ authorization: 'Bearer not-a-key-of-this-server' });
    t.equal(wrong.status, 401, `${name}: wrong key → 401`);
    const wrongBody = await wrong.text();
    t.notMatch(wrongBody, /not-a-key-of-this-server/, 'the presented key is not echoed');

    const needs = ROLE_OF_ACTION[route.action] as Role;
    for (const [role, key] of [
      ['infer', INFER],
      ['trainer', TRAINER],
    ] as const) {
      const r = await call({ authorization: `Bearer ${key}` });
      if (roleAllows(role, needs)) {
        t.equal(r.status, route.status, `${name}: ${role} key → ${route.status}`);
        await r.arrayBuffer();
      } else {
        t.equal(r.status, 403, `${name}: ${role} key → 403`);
        const e = ((await r.json()) as any).error;
        t.equal(code({ error: e }), 'MOC_ERR_PERMISSION_DENIED');
        t.match(e.message, new RegExp(`needs the ${needs} role`));
      }
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
  const required = resolveConfig(
    { server: { grpcPort: 0 }, rest: { port: 0 }, auth: { required: true } },
    { baseDir: dir },
  );
  await t.rejects(
    Coordinator.start(required, { log: silentLogger }),
    /auth\.required is true but no API keys are configured/,
  );
});

t.test('overload: a full queue answers 429 with Retry-After, and the server keeps serving', async (t) => {
  // Both sequences of 'long' busy with long generations (a streamed token each proves they run) and a queue of 1:
  // of a burst of 10, exactly one waits in the queue and nine are refused at once.
  const h = await startHarness(t, { devices: [{ id: 'cpu0', memory: '1GiB', maxQueue: 1 }] });
  await h.unary('LoadModel', longModel('long', 2));
  const running = [0, 1].map((i) =>
    startGeneration(h.client, { model: 'long', prompt: `hold ${i}`, max_tokens: LONG_MAX_TOKENS, temperature: 0 }),
  );
  await Promise.all(running.map((g) => g.started));
  let answered = 0;
  let nineAnswered!: () => void;
  const nine = new Promise<void>((resolve) => {
    nineAnswered = resolve;
  });
  const burst = Array.from({ length: 10 }, (_, i) =>
    fetch(`${h.restUrl}/v1/infer`, {
      method: 'POST',
      body: JSON.stringify({ model: 'long', prompt: `burst ${i}`, max_tokens: 2, temperature: 0 }),
    })
      .then(async (r) => ({ status: r.status, retry: r.headers.get('retry-after'), body: (await r.json()) as any }))
      .finally(() => {
        if (++answered === 9) nineAnswered();
      }),
  );
  await nine;
  for (const g of running) g.cancel(); // frees the sequences: the queued request runs
  const answers = await Promise.all(burst);
  const busy = answers.filter((r) => r.status === 429);
  const ok = answers.filter((r) => r.status === 200);
  t.equal(busy.length, 9, 'nine of ten refused with 429 while both sequences were busy and the queue full');
  t.equal(ok.length, 1, 'the one that found room in the queue was served once a sequence was free');
  t.ok(
    busy.every((r) => r.body.error.code === 'MOC_ERR_BUSY' && Number(r.retry) >= 1),
    'each 429 is MOC_ERR_BUSY with Retry-After in seconds',
  );
  t.match(busy[0]?.body.error.message, /retry after/);
  for (const g of running)
    t.equal((await g.ended).error?.code, 1 /* CANCELLED */, 'the held generations were cancelled');
  const after = await fetch(`${h.restUrl}/v1/infer`, {
    method: 'POST',
    body: JSON.stringify({ model: 'moc-demo', prompt: 'after', max_tokens: 2 }),
  });
  t.equal(after.status, 200);
});
