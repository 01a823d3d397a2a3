/**
 * The fleet registry. One host (the embedded store): GET /v1/fleet, gRPC GetFleet, ZMQ `fleet` and `moc fleet` show it
 * with its devices, ledgers, loaded models and catalog. Two hosts on one PostgreSQL: each sees both; an unload on B
 * shows on A's view within a heartbeat; B stopped shows as silent (not alive) within two heartbeats, by the
 * database's clock.
 */
import t from 'tap';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { runMoc } from '../helpers/cli.js';
import { startHarness, until, type Harness } from '../helpers/coordinator.js';
import { postgresSkip, startPostgres } from '../helpers/postgres.js';
import { zmqRequest } from '../helpers/zmq.js';
import { rest } from '../jobs/helpers.js';

const fleetOf = async (h: Harness) => (await rest(h, 'GET', '/v1/fleet')).body.hosts as any[];

t.test('one host: itself, on every transport and the CLI', async (t) => {
  const h = await startHarness(t, { fleet: { hostId: 'solo', advertise: { grpc: 'solo.example:7212' } } });
  const [me, ...others] = await fleetOf(h);
  t.same(others, []);
  t.match(me, {
    host_id: 'solo',
    alive: true,
    silent_ms: 0,
    advertise: { grpc: 'solo.example:7212', rest: '', zmq: '' },
    catalog: ['moc-demo'],
    devices: [{ id: 'cpu0', memory: { hard_limit: Number }, models: [{ name: 'moc-demo', state: 'loaded' }] }],
  });
  const g = await h.unary('GetFleet', {});
  t.match(g.hosts, [{ host_id: 'solo', alive: true }]);
  t.match(JSON.parse(g.hosts[0].record_json), { catalog: ['moc-demo'], devices: [{ id: 'cpu0' }] });
  const z = await zmqRequest(h.zmqUrl, { action: 'fleet' });
  t.match(z, { hosts: [{ host_id: 'solo', alive: true }] });
  const cli = await runMoc(t, ['fleet'], { MOC_URL: h.restUrl });
  t.equal(cli.code, 0, cli.err);
  t.match(cli.out, /solo\s+true\s+0\.0 s\s+cpu0\s+.*moc-demo/);
});

t.test(
  'hosts on one PostgreSQL see each other; a load shows in a heartbeat, a stop in two',
  { skip: postgresSkip },
  async (t) => {
    const cluster = await startPostgres(t);
    const heartbeatMs = 300;
    const host = (name: string) => {
      const dir = path.join(t.testdir(), name);
      mkdirSync(dir, { recursive: true });
      return startHarness(
        t,
        { store: { kind: 'postgres', url: cluster.url, pollMs: 200 }, fleet: { hostId: name, heartbeatMs } },
        { dir },
      );
    };
    const a = await host('host-a');
    const b = await host('host-b');
    const both = await until('A sees both hosts, each with the demo model loaded', async () => {
      const hosts = await fleetOf(a);
      return hosts.length === 2 && hosts.every((x) => x.alive && x.devices[0]?.models.length === 1) && hosts;
    });
    t.same(
      both.map((x) => x.host_id),
      ['host-a', 'host-b'],
    );
    t.match(both[1], { heartbeat_ms: heartbeatMs, devices: [{ models: [{ name: 'moc-demo' }] }] });

    t.equal((await rest(b, 'POST', '/v1/models/moc-demo/unload', {})).status, 200);
    const unloadedAt = Date.now();
    await until(
      "B's unload on A's view",
      async () => (await fleetOf(a)).find((x) => x.host_id === 'host-b')?.devices[0].models.length === 0,
      10_000,
      50,
    );
    const seenAfter = Date.now() - unloadedAt;
    t.comment(`an unload on B was on A's view after ${seenAfter} ms (heartbeat ${heartbeatMs} ms)`);

    await b.close();
    const closedAt = Date.now();
    const silent = await until(
      'B silent on A',
      async () => {
        const x = (await fleetOf(a)).find((h) => h.host_id === 'host-b');
        return x && !x.alive && x;
      },
      10_000,
      50,
    );
    t.ok(silent.silent_ms >= 2 * heartbeatMs, `silent for ${silent.silent_ms} ms, two heartbeats or more`);
    t.comment(`B stopped; A saw it silent after ${Date.now() - closedAt} ms`);
    t.match(
      (await fleetOf(a)).find((x) => x.host_id === 'host-a'),
      { alive: true },
    );
  },
);
