/**
 * A main-thread actor (here the router) that crashes — a non-coded error out of receive(), as an unknown message
 * kind is — is told (`actor.crashed`, moc_actor_crashes_total) and serves on; crashing past the restart intensity
 * (supervisor.maxRestarts within periodMs) escalates as a device worker's crashes do: `server.escalated` and
 * onEscalate (the CLI exits non-zero).
 */
import t from 'tap';
import { resolveConfig } from '../../src/config.js';
import { Coordinator } from '../../src/coordinator.js';
import type { Logger } from '../../src/log.js';
import type { RouterProtocol } from '../../schemas/messages.js';
import type { LocalActor } from '../../src/kernel/local-actor.js';

t.test('router crashes: counted, then escalated past the intensity', async (t) => {
  const lines: Array<{ event: string; fields: Record<string, unknown> }> = [];
  const log: Logger = { log: (_level, event, fields = {}) => void lines.push({ event, fields }) };
  const escalations: string[] = [];
  const cfg = resolveConfig(
    {
      server: { grpcPort: 0 },
      rest: { enabled: false },
      zmq: { enabled: false },
      jobs: { enabled: false },
      supervisor: { maxRestarts: 2, periodMs: 60_000 },
    },
    { baseDir: t.testdir() },
  );
  const c = await Coordinator.start(cfg, { log, onEscalate: (reason) => escalations.push(reason) });
  t.teardown(() => c.destroy());
  // An unknown kind is what no transport can send: the router's receive throws a plain Error on it (a bug).
  const crash = () =>
    (c.router as LocalActor<RouterProtocol>).ask({ kind: 'no-such-kind' } as never, { timeoutMs: 5000 });
  const crashesMetric = async () =>
    Number(/^moc_actor_crashes_total\{actor="router"\} (\d+)$/m.exec((await c.metrics.text()).body)?.[1] ?? 0);

  await t.rejects(crash(), { code: 'MOC_ERR_INTERNAL' }, 'the asker gets INTERNAL');
  t.equal(await crashesMetric(), 1, 'moc_actor_crashes_total counts it');
  const crashed = lines.filter((l) => l.event === 'actor.crashed');
  t.equal(crashed.length, 1, 'one actor.crashed line');
  t.equal(crashed[0]?.fields.actor, 'router');
  t.match(String(crashed[0]?.fields.error), /router: unknown message kind/, 'with the error and its stack');
  const devices = await c.router.ask({ kind: 'devices' }, { timeoutMs: 5000 });
  t.equal(devices.length, cfg.devices.length, 'the router serves on after one crash');
  t.same(escalations, [], 'within the intensity: no escalation');

  await t.rejects(crash());
  t.same(escalations, [], 'two crashes in the period: still within it');
  await t.rejects(crash());
  t.equal(escalations.length, 1, 'the third crash in the period escalates');
  t.match(escalations[0], /main-thread actors crashed more than 2 times in 60000 ms; last: router/);
  t.ok(
    lines.some((l) => l.event === 'server.escalated'),
    'server.escalated is logged, as for the devices',
  );
  t.equal(await crashesMetric(), 3);
});
