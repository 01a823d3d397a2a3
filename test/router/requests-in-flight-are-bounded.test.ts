/**
 * The router starts each request and returns (it must not serialize inference), so its mailbox alone bounds
 * nothing: what it has admitted and not yet answered is bounded by server.mailboxCapacity. Past it, requests are
 * refused at once with MOC_ERR_BUSY and a retry hint; answered requests give their slot back.
 */
import t from 'tap';
import { resolveConfig } from '../../src/config.js';
import { LocalActor } from '../../src/kernel/local-actor.js';
import { Router } from '../../actors/router/router.js';
import { RouteTable } from '../../actors/lifecycle/route-table.js';
import type { ActorRef } from '../../src/kernel/types.js';
import type { LifecycleProtocol, RouterProtocol } from '../../schemas/messages.js';
import type { DeviceRef } from '../../actors/device/index.js';
import type { MocError } from '../../src/errors.js';

t.test('past the capacity, requests get BUSY at once; answered ones free their slot', async (t) => {
  const config = resolveConfig({ server: { mailboxCapacity: 4 } }, { baseDir: t.testdir() });
  const pending: ((v: unknown) => void)[] = [];
  // Lifecycle stand-in whose answers wait until the test releases them.
  const lifecycle = {
    name: 'lifecycle',
    depth: 0,
    capacity: 1024,
    tell() {},
    ask: () => new Promise((resolve) => pending.push(resolve)),
  } as unknown as ActorRef<LifecycleProtocol>;
  const behavior = new Router(config, { isRegistered: () => true }, new RouteTable(), new Map<string, DeviceRef>(), {
    lifecycle,
  });
  const router = new LocalActor<RouterProtocol>('router', behavior, { capacity: 64 });
  const ask = () =>
    router.ask({ kind: 'list-models', request: {} }, { timeoutMs: 30_000 }).then(
      () => 'ok',
      (e: MocError) => e,
    );
  const asks = Array.from({ length: 10 }, ask);
  const early: (string | MocError)[] = [];
  for (const p of asks) void p.then((v) => early.push(v));
  await new Promise((r) => setTimeout(r, 20));
  t.equal(early.length, 6, 'the 6 past the capacity of 4 are answered at once');
  t.ok(
    early.every(
      (e) => typeof e !== 'string' && e.code === 'MOC_ERR_BUSY' && typeof e.details.retryAfterMs === 'number',
    ),
    'with MOC_ERR_BUSY and a retry hint',
  );
  t.equal(behavior.outstanding, 4, 'four admitted, waiting for their answer');
  for (const resolve of pending.splice(0)) resolve([]);
  const all = await Promise.all(asks);
  t.equal(all.filter((v) => v === 'ok').length, 4, 'the admitted ones are answered');
  t.equal(behavior.outstanding, 0, 'and their slots are free again');
  const again = ask();
  await new Promise((r) => setImmediate(r));
  for (const resolve of pending.splice(0)) resolve([]);
  t.equal(await again, 'ok', 'a new request is admitted');
  await router.close();
});
