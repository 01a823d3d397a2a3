/**
 * The fleet registry of one host (the embedded store): GET /v1/fleet, gRPC GetFleet, ZMQ `fleet` and `moc fleet` show
 * it with its devices, ledgers, loaded models and catalog. Hosts on one PostgreSQL seeing each other, a load within a
 * heartbeat, a stop within two: test/store/coordinators-share-work-on-postgres.test.ts.
 */
import t from 'tap';
import { runMoc } from '../helpers/cli.js';
import { startHarness, type Harness } from '../helpers/coordinator.js';
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
