/**
 * The swap policy alone (actors/lifecycle/swap-policy.ts): which busy models a refused load would drain, when their
 * minimum residency lets them, and the line of waiting loads (oldest waiting request first, drains for the head only).
 */
import t from 'tap';
import { dueToDrain, planSwap, SwapBlocked, SwapLine } from '../../actors/lifecycle/swap-policy.js';
import { RouteTable } from '../../actors/lifecycle/route-table.js';
import { errors } from '../../src/errors.js';
import type { DeviceStatus, ModelInfo } from '../../schemas/messages.js';

const MiB = 1048576;
function model(name: string, mib: number, o: Partial<ModelInfo> = {}): ModelInfo {
  return {
    name,
    path: `/m/${name}`,
    device: 'd',
    state: 'loaded',
    contextSize: 512,
    sequences: 8,
    estimateBytes: mib * MiB,
    reservedBytes: mib * MiB,
    actualBytes: mib * MiB,
    inFlight: 0,
    queued: 0,
    loadedAt: 1000,
    lastUsedAt: 1000,
    pinned: false,
    keepAliveMs: -1,
    expiresAt: 0,
    ...o,
  };
}
function device(id: string, hard: number, soft: number, models: ModelInfo[]): DeviceStatus {
  const reserved = models.reduce((s, m) => s + m.reservedBytes, 0);
  return {
    id,
    kind: 'cpu',
    threads: 1,
    models: models.map((m) => ({ ...m, device: id })),
    memory: { hardLimit: hard * MiB, softLimit: soft * MiB, reserved, free: hard * MiB - reserved },
    reservations: [],
    engine: { pid: 1, state: 'ready', restarts: 0 },
  };
}
/** Lets woken loops run their next round (a few turns of the event loop; no timers involved). */
const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};
const names = (ms: ModelInfo[] | undefined) => ms?.map((m) => m.name);

t.test('planSwap: the busy models whose leaving makes room, longest loaded first', async (t) => {
  const busyOld = model('old', 4, { inFlight: 1, loadedAt: 10 });
  const busyNew = model('new', 4, { queued: 2, loadedAt: 20 });
  const plan = planSwap(4 * MiB, [device('d', 9, 8, [busyNew, busyOld])]);
  t.same(plan?.device, 'd');
  t.same(names(plan?.drain), ['old'], 'one 4 MiB model leaving is enough: the one loaded longest');

  const idle = model('idle', 4);
  t.same(
    names(planSwap(8 * MiB, [device('d', 13, 12, [idle, busyNew, busyOld])])?.drain),
    ['old'],
    'idle models count as freed (placement evicts them): only one busy model drains',
  );
  t.same(
    names(planSwap(4 * MiB, [device('d', 9, 8, [model('p', 4, { pinned: true, inFlight: 1 }), busyOld])])?.drain),
    ['old'],
    'a pinned busy model never drains',
  );
  t.equal(
    planSwap(4 * MiB, [device('d', 9, 8, [model('p', 4, { pinned: true }), model('q', 4, { pinned: true })])]),
    undefined,
    'nothing busy to wait for (pinned memory): no swap, the refusal stands',
  );
  t.equal(planSwap(10 * MiB, [device('d', 9, 8, [busyOld])]), undefined, 'too big for the device: no swap');
  t.equal(
    planSwap(4 * MiB, [device('d', 9, 8, [model('l', 4, { state: 'loading' }), model('m', 4, { state: 'loading' })])]),
    undefined,
    'models still loading do not drain',
  );
  const fewer = planSwap(4 * MiB, [
    device('d1', 9, 8, [model('a', 3, { inFlight: 1 }), model('b', 3, { inFlight: 1 })]),
    device('d2', 9, 8, [model('c', 6, { inFlight: 1 })]),
  ]);
  t.same([fewer?.device, names(fewer?.drain)], ['d1', ['a']], 'the device needing the fewest bytes drained wins');
});

t.test('dueToDrain: a model drains only after its minimum residency', async (t) => {
  const a = model('a', 4, { loadedAt: 1000 });
  const b = model('b', 4, { loadedAt: 5000 });
  t.same(dueToDrain([a, b], 4000, 2000), { due: ['a'], nextAt: 7000 });
  t.same(dueToDrain([a, b], 7000, 2000), { due: ['a', 'b'], nextAt: Number.POSITIVE_INFINITY });
  t.same(dueToDrain([a], 1500, 0), { due: ['a'], nextAt: Number.POSITIVE_INFINITY }, 'residency 0: at once');
});

t.test('SwapLine: the head drains what is in its way, waits for it to go idle, then places', async (t) => {
  const routes = new RouteTable();
  let now = 10_000;
  const line = new SwapLine(routes, 3000, () => now);
  t.teardown(() => line.close());
  const busyX = model('x', 4, { inFlight: 1, loadedAt: 9000 });
  routes.update('d', [busyX]);
  const status = () => [device('d', 6, 5, routes.onDevice('d'))];

  let attempts = 0;
  const attempt = async () => {
    attempts++;
    const st = status();
    if (st[0]!.models.some((m) => m.inFlight > 0)) {
      throw line.refused(errors.nothingToEvict('y', 4 * MiB, []), 4 * MiB, st, (m) => m.pinned);
    }
  };
  const waiter = { since: 1, mayWait: () => true, alive: () => true };
  const placed = line.run('y', waiter, attempt);
  await settle();
  t.equal(line.head('d'), 'y', 'the blocked load waits in the line');
  t.notOk(line.draining('x'), 'x keeps serving: its residency (3 s from 9 s) has not passed');

  now = 12_500; // residency passed; a notice wakes the head: the device's models are unchanged but its time came
  line.changed('d');
  await settle();
  t.ok(line.draining('x'), 'x drains now: its new requests wait for its reload');
  const tries = attempts;

  routes.update('d', [{ ...busyX, inFlight: 0 }]);
  line.changed('d');
  await placed;
  t.ok(attempts > tries, 'x went idle: the head tried again and placed');
  t.notOk(line.draining('x'), 'nothing drains once the head is placed');
  t.equal(line.waiting, 0, 'the line is empty');
});

t.test('SwapLine: the oldest waiting request goes first; a LoadModel alone is refused at once', async (t) => {
  const routes = new RouteTable();
  routes.update('d', [model('x', 4, { inFlight: 1 })]);
  const line = new SwapLine(routes, 0);
  t.teardown(() => line.close());
  const st = [device('d', 6, 5, routes.onDevice('d'))];
  const blocked = async () => {
    throw line.refused(errors.nothingToEvict('m', 4 * MiB, []), 4 * MiB, st, (m) => m.pinned);
  };
  const runs = [
    line.run('late', { since: 20, mayWait: () => true, alive: () => true }, blocked),
    line.run('early', { since: 10, mayWait: () => true, alive: () => true }, blocked),
  ];
  await settle();
  t.equal(line.head('d'), 'early', 'the load whose oldest request is oldest heads the line');

  const refusal = await line
    .run('admin', { since: 5, mayWait: () => false, alive: () => true }, blocked)
    .catch((e: unknown) => e);
  t.notOk(refusal instanceof SwapBlocked, 'a load nobody waits for as a request does not wait');
  t.match(refusal, { code: 'MOC_ERR_NO_MEMORY' }, 'it gets the refusal it always got');

  line.close();
  const ends = await Promise.all(runs.map((p) => p.catch((e: unknown) => e)));
  t.match(ends, [{ code: 'MOC_ERR_UNAVAILABLE' }, { code: 'MOC_ERR_UNAVAILABLE' }], 'closing ends every wait');
});

t.test('SwapLine: a wait nobody is left waiting for ends with MOC_ERR_MODEL_WAIT_EXCEEDED', async (t) => {
  const routes = new RouteTable();
  routes.update('d', [model('x', 4, { inFlight: 1 })]);
  const line = new SwapLine(routes, 0);
  t.teardown(() => line.close());
  const st = [device('d', 6, 5, routes.onDevice('d'))];
  let alive = true;
  const run = line.run('y', { since: Date.now(), mayWait: () => true, alive: () => alive }, async () => {
    throw line.refused(errors.nothingToEvict('y', 4 * MiB, []), 4 * MiB, st, (m) => m.pinned);
  });
  await settle();
  alive = false;
  line.changed('d'); // any wake (a notice, the recheck every second) finds nobody waiting
  const err = await run.catch((e: unknown) => e);
  t.match(err, { code: 'MOC_ERR_MODEL_WAIT_EXCEEDED', message: /'y' waited \d+ ms.*x on d \(loaded, busy/ });
});
