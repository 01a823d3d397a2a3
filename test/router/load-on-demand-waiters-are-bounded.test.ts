/**
 * Inference for a registered model that is not loaded waits for a load on demand. Those waiters are bounded like
 * every mailbox: past server.mailboxCapacity they are refused at once with MOC_ERR_BUSY and a retry hint, and the
 * ones admitted are served when the load finishes.
 */
import t from 'tap';
import { resolveConfig } from '../../src/config.js';
import { LocalActor } from '../../src/kernel/local-actor.js';
import { Router } from '../../actors/router/router.js';
import { RouteTable } from '../../actors/lifecycle/route-table.js';
import type { ActorRef, AskOptions } from '../../src/kernel/types.js';
import type { LifecycleProtocol, RouterProtocol } from '../../schemas/messages.js';
import type { DeviceRef } from '../../actors/device/index.js';
import type { MocError } from '../../src/errors.js';

t.test('waiters for a load on demand past the capacity get BUSY at once', async (t) => {
  const config = resolveConfig({ server: { mailboxCapacity: 4 } }, { baseDir: t.testdir() });
  let finishLoad: (e: Error) => void = () => {};
  const loadDone = new Promise<never>((_r, reject) => {
    finishLoad = reject;
  });
  let ensures = 0;
  // Lifecycle stand-in: the load never finishes until the test says so (then it fails, so no device is needed).
  const lifecycle = {
    name: 'lifecycle',
    depth: 0,
    capacity: 1024,
    tell() {},
    ask: (_msg: unknown, _o: AskOptions) => {
      ensures++;
      return loadDone;
    },
  } as unknown as ActorRef<LifecycleProtocol>;
  const router = new LocalActor<RouterProtocol>(
    'router',
    new Router(config, { isRegistered: () => true }, new RouteTable(), new Map<string, DeviceRef>(), { lifecycle }),
    { capacity: 64 },
  );
  const asks = Array.from({ length: 10 }, () =>
    router.ask({ kind: 'infer', request: { model: 'cold', prompt: 'hi' }, stream: false }, { timeoutMs: 30_000 }).then(
      () => 'ok',
      (e: MocError) => e.code,
    ),
  );
  const settled: string[] = [];
  for (const p of asks) void p.then((c) => settled.push(c));
  await new Promise((r) => setTimeout(r, 20));
  t.same(settled, Array(6).fill('MOC_ERR_BUSY'), 'the 6 past the capacity of 4 are refused at once');
  t.equal(ensures, 4, 'only the admitted ones wait on the load');
  finishLoad(new Error('load failed'));
  const codes = await Promise.all(asks);
  t.equal(codes.filter((c) => c === 'MOC_ERR_BUSY').length, 6);
  t.equal(codes.filter((c) => c !== 'MOC_ERR_BUSY').length, 4, 'the admitted ones got the load outcome');
  // After the load settled the waiters are released: new requests are admitted again.
  const again = await router
    .ask({ kind: 'infer', request: { model: 'cold', prompt: 'hi' }, stream: false }, { timeoutMs: 1000 })
    .then(
      () => 'ok',
      (e: MocError) => e.code,
    );
  t.not(again, 'MOC_ERR_BUSY', 'capacity is given back');
  await router.close();
});
