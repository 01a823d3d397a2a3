/**
 * One operation table decides every operation's timeout: the client's own (gRPC deadline, ZMQ timeout_ms) may
 * shorten it, never raise it past the operation's class ceiling. ZMQ's timeout_ms used to raise the load ceiling
 * that gRPC capped.
 */
import t from 'tap';
import { resolveConfig } from '../../src/config.js';
import { OPERATIONS, runOperation, ceilingMs, type OperationName } from '../../src/transports/operations.js';
import { ACTIONS } from '../../src/transports/zmq/actions.js';
import type { ActorRef, AskOptions } from '../../src/kernel/types.js';
import type { RouterProtocol } from '../../schemas/messages.js';

t.test('client timeouts shorten, never raise, the class ceiling', async (t) => {
  const config = resolveConfig({ limits: { requestTimeoutMs: 1000, loadTimeoutMs: 5000 } }, { baseDir: t.testdir() });
  const seen: { kind: string; timeoutMs: number }[] = [];
  // A router that records what it was asked and refuses, so no resource mapping runs.
  const router = {
    name: 'router',
    depth: 0,
    capacity: 1,
    tell() {},
    ask: (msg: { kind: string }, o: AskOptions) => {
      seen.push({ kind: msg.kind, timeoutMs: o.timeoutMs });
      return Promise.reject(new Error('recorded'));
    },
  } as unknown as ActorRef<RouterProtocol>;
  for (const name of Object.keys(OPERATIONS) as OperationName[]) {
    const ceiling = ceilingMs(config, OPERATIONS[name].timeout);
    // An inference is validated before it reaches the router (it is converted at the wire's edge): send a valid one.
    const input = name === 'infer' ? { model: 'm', prompt: 'hi' } : {};
    await runOperation(name, input, { router, config, clientTimeoutMs: 1e9 }).catch(() => {});
    t.equal(
      seen.at(-1)?.timeoutMs,
      ceiling,
      `${name}: a client asking for 1e9 ms gets the ${OPERATIONS[name].timeout} ceiling`,
    );
    await runOperation(name, input, { router, config, clientTimeoutMs: 250 }).catch(() => {});
    t.equal(seen.at(-1)?.timeoutMs, 250, `${name}: a shorter client timeout is kept`);
  }
  t.equal(ceilingMs(config, 'load'), 5000);
  t.equal(ceilingMs(config, 'request'), 1000);

  // The legacy protocol goes through the same table: timeout_ms cannot raise a load's ceiling.
  await ACTIONS.load_model!.run({ name: 'm' }, { router, config, clientTimeoutMs: 1e9, health: () => ({}) }).catch(
    () => {},
  );
  t.same(
    seen.at(-1),
    { kind: 'load', timeoutMs: 5000 },
    'ZMQ load_model with timeout_ms 1e9 is capped at the load ceiling',
  );
});
