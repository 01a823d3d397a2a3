/**
 * FleetRoom (actors/router/fleet-room.ts): in a fleet, a submit whose memory_bytes no live host's device can hold is
 * refused (MOC_ERR_NO_MEMORY, naming the largest); the registry is read at most once a second; a registry that
 * cannot be read refuses nothing. The two-host PostgreSQL test drives the same through REST on real hosts.
 */
import t from 'tap';
import type { FleetHost } from '../../schemas/fleet.js';
import { FleetRoom } from '../../actors/router/fleet-room.js';
import { MocError } from '../../src/errors.js';

const GiB = 1024 ** 3;
const host = (host_id: string, alive: boolean, devices: [string, number][]): FleetHost => ({
  host_id,
  alive,
  silent_ms: alive ? 0 : 60_000,
  advertise: { grpc: '', rest: '', zmq: '' },
  started_at_ms: 0,
  heartbeat_ms: 1000,
  catalog: [],
  devices: devices.map(([id, hard]) => ({
    id,
    kind: 'cpu',
    available: true,
    memory: { hard_limit: hard, soft_limit: hard, reserved: 0, free: hard },
    models: [],
  })),
});

t.test('refused only when no live host has a device that holds it; the largest is named', async (t) => {
  let reads = 0;
  const room = new FleetRoom({
    hosts: async () => {
      reads++;
      return [
        host('a', true, [['cpu0', GiB]]),
        host('b', true, [['gpu0', 2 * GiB]]),
        host('c', false, [['gpu0', 8 * GiB]]),
      ];
    },
    close: async () => {},
  });
  await room.check(2 * GiB);
  await room.check(GiB, 'cpu0');
  const tooBig = await room.check(3 * GiB).catch((e) => e);
  t.ok(tooBig instanceof MocError);
  t.equal(tooBig.code, 'MOC_ERR_NO_MEMORY');
  t.match(tooBig.message, /largest: gpu0 on b, 2048\.0 MiB/, 'a silent host (c) does not count');
  t.match(tooBig.details, { neededBytes: 3 * GiB, largestHost: 'b', largestDevice: 'gpu0', largestBytes: 2 * GiB });
  const named = await room.check(2 * GiB, 'cpu0').catch((e) => e);
  t.match(named.message, /any device named 'cpu0' .*largest: cpu0 on a, 1024\.0 MiB/);
  const none = await room.check(1, 'tpu9').catch((e) => e);
  t.match(none.message, /none has one/);
  t.equal(reads, 1, 'one registry read for every check within a second');
});

t.test('a registry that cannot be read refuses nothing', async (t) => {
  const room = new FleetRoom({
    hosts: async () => {
      throw new Error('connection refused');
    },
    close: async () => {},
  });
  await room.check(1000 * GiB);
  t.pass('let through: the submit itself will say whether the database is there');
});

t.test('a keyed retry of a job accepted earlier is let through when no live host holds it any more', async (t) => {
  // The job was accepted while b (2 GiB) was alive; b has gone silent since. The retry must be answered with that
  // job (the store's answer to a taken key), not refused as if it were new.
  const room = new FleetRoom({
    hosts: async () => [host('a', true, [['cpu0', GiB]]), host('b', false, [['gpu0', 2 * GiB]])],
    close: async () => {},
  });
  const asked: number[] = [];
  const known = (answer: boolean) => async () => {
    asked.push(1);
    return answer;
  };
  await room.check(2 * GiB, undefined, known(true));
  t.equal(asked.length, 1, 'its key names a job: let through');
  const fresh = await room.check(2 * GiB, undefined, known(false)).catch((e) => e);
  t.equal(fresh.code, 'MOC_ERR_NO_MEMORY', 'a key no job has: refused as before');
  await room.check(GiB, undefined, known(false));
  t.equal(asked.length, 2, 'not asked when a live device holds it');
});
