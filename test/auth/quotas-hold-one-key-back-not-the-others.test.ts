/**
 * auth.quotas: a key over its budget gets MOC_ERR_RATE_LIMITED with a retry hint on every transport (429 +
 * Retry-After, RESOURCE_EXHAUSTED + retry-after-ms, RATE_LIMITED + retry_after_ms), the budget is one across the
 * three transports, another key keeps its full throughput meanwhile, generated tokens are charged when a generation
 * ends, and a key with room again is served again.
 */
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { startHarness } from '../helpers/coordinator.js';
import { zmqRequest } from '../helpers/zmq.js';
import { Quotas } from '../../src/auth/quotas.js';
import { ManualClock } from '../../src/kernel/clock.js';

const CAPPED = 'capped-key-0123456789abcdef';
const FREE = 'free-key-0123456789abcdef';
const TOKENS = 'tokens-key-0123456789abcdef';

t.test('one key over its request budget is refused on every transport; another key is not', async (t) => {
  // The budgets count time on this clock: it stands still between requests and moves only when the test says so.
  const clock = new ManualClock();
  const h = await startHarness(
    t,
    {
      auth: {
        keys: [
          { name: 'capped', role: 'infer', key: CAPPED },
          { name: 'free', role: 'infer', key: FREE },
          { name: 'tokens', role: 'infer', key: TOKENS },
        ],
        // `capped`: 3 requests, then one every 4 s. `tokens`: 10 generated tokens a minute. `free`: no budget (its role has none).
        quotas: { keys: { capped: { requestsPerSecond: 0.25, burst: 3 }, tokens: { tokensPerMinute: 10 } } },
      },
    },
    { clock },
  );
  const list = (key: string) => fetch(`${h.restUrl}/v1/models`, { headers: { authorization: `Bearer ${key}` } });

  const first = await Promise.all([list(CAPPED), list(CAPPED), list(CAPPED)]);
  t.same(
    first.map((r) => r.status),
    [200, 200, 200],
    'the burst of 3 is served',
  );
  const refused = await list(CAPPED);
  t.equal(refused.status, 429, 'the 4th is refused');
  const retryAfter = Number(refused.headers.get('retry-after'));
  t.equal(retryAfter, 4, 'with Retry-After: 4 s (one request every 4 s, and no time has passed)');
  const body = (await refused.json()) as any;
  t.equal(body.error.code, 'MOC_ERR_RATE_LIMITED');
  t.match(
    body.error.message,
    /key 'capped' is over its budget of 0.25 requests a second \(burst 3\).*retry after \d+ ms/,
  );

  // The same budget on gRPC and ZMQ: the key has no room there either.
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${CAPPED}`);
  const err = await new Promise<grpc.ServiceError>((resolve) =>
    h.client.ListModels({}, md, { deadline: Date.now() + 10_000 }, (e: grpc.ServiceError) => resolve(e)),
  );
  t.equal(err?.code, grpc.status.RESOURCE_EXHAUSTED, 'gRPC: RESOURCE_EXHAUSTED');
  t.equal(err.metadata.get('moc-error-code')[0], 'MOC_ERR_RATE_LIMITED');
  t.ok(Number(err.metadata.get('retry-after-ms')[0]) > 0, 'with its retry hint (retry-after-ms)');
  const z = await zmqRequest(h.zmqUrl, { action: 'list_models', api_key: CAPPED });
  t.match(z, { status: 'error', code: 'RATE_LIMITED', retryable: true }, 'ZMQ: RATE_LIMITED');
  t.ok(z.retry_after_ms > 0, 'with retry_after_ms');

  // Meanwhile another key of the same role is served in full.
  const others = await Promise.all(Array.from({ length: 30 }, () => list(FREE)));
  t.same(new Set(others.map((r) => r.status)), new Set([200]), 'the other key: 30 of 30 served at once');

  // The capped key has room for one again 4 s later, not before.
  clock.advance(3900);
  t.equal((await list(CAPPED)).status, 429, '3.9 s later: still refused');
  clock.advance(200);
  t.equal((await list(CAPPED)).status, 200, '4.1 s later: refilled, served again');
  t.equal((await list(CAPPED)).status, 429, 'and that one used the refill');

  // Generated tokens: admitted while the budget is above zero, charged at the end.
  const infer = (maxTokens: number) =>
    fetch(`${h.restUrl}/v1/infer`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKENS}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'moc-demo', prompt: 'count', max_tokens: maxTokens, temperature: 0 }),
    });
  const a = await infer(8);
  t.equal(a.status, 200);
  t.equal(((await a.json()) as any).tokens_generated, 8, '8 of the 10 tokens a minute used');
  t.equal((await infer(8)).status, 200, '2 left: still admitted, and charged 8 (the budget goes below zero)');
  const over = await infer(1);
  t.equal(over.status, 429, 'then refused until the budget is above zero again');
  const o = (await over.json()) as any;
  t.equal(o.error.code, 'MOC_ERR_RATE_LIMITED');
  t.match(o.error.message, /10 generated tokens a minute/);
  t.equal(o.error.details.retryAfterMs, 42_000, 'retry after 42 s: 7 tokens (6 below zero, +1) at 10 a minute');
  t.equal((await list(TOKENS)).status, 200, 'a request that generates nothing is not held back by the token budget');

  const metrics = await (await fetch(`${h.restUrl}/metrics`)).text();
  t.match(
    metrics,
    /moc_requests_total\{transport="rest",operation="list-models",code="MOC_ERR_RATE_LIMITED"\} 3\n/,
    'refusals are counted like any answer (the 4th, the one at 3.9 s, the one after the refill)',
  );
});

t.test('buckets by themselves: roles, key overrides, refill, no budget', async (t) => {
  let now = 0;
  const q = new Quotas(
    { roles: { infer: { requestsPerSecond: 10 } }, keys: { vip: { requestsPerSecond: 100, burst: 200 } } },
    () => now,
  );
  t.ok(q.enabled);
  const agent = { name: 'agent', role: 'infer' as const };
  for (let i = 0; i < 10; i++) q.admit(agent, false);
  t.throws(
    () => q.admit(agent, false),
    { code: 'MOC_ERR_RATE_LIMITED', details: { retryAfterMs: 100 } },
    "the role's burst (its rate rounded up) is spent",
  );
  now += 100;
  t.doesNotThrow(() => q.admit(agent, false), 'one back after 100 ms at 10 a second');
  const vip = { name: 'vip', role: 'infer' as const };
  for (let i = 0; i < 200; i++) q.admit(vip, false);
  t.throws(() => q.admit(vip, false), { code: 'MOC_ERR_RATE_LIMITED' }, "the key's own budget replaces its role's");
  const admin = { name: 'ops', role: 'admin' as const };
  for (let i = 0; i < 1000; i++) q.admit(admin, true);
  t.pass('a role without a budget is never held back');
  t.notOk(new Quotas({ roles: {}, keys: {} }).enabled, 'no budget configured: the transports skip the lookup');
});
