import t from 'tap';
import { planPlacement } from '../../actors/lifecycle/placement.js';
import type { DeviceStatus, ModelInfo } from '../../schemas/messages.js';

const MiB = 1048576;
let clock = 0;
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
    loadedAt: 1,
    lastUsedAt: ++clock,
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

t.test('fits without eviction: best fit (least room left over under the soft limit)', async (t) => {
  const plan = planPlacement('new', 10 * MiB, [device('big', 100, 90, []), device('small', 40, 30, [model('a', 10)])]);
  t.same(plan, { device: 'small', evict: [] });
});

t.test('past the soft limit: least recently used idle models go first, by bytes, only as many as needed', async (t) => {
  const oldest = model('oldest', 10);
  const middle = model('middle', 10);
  const newest = model('newest', 10);
  const plan = planPlacement('new', 15 * MiB, [device('d', 50, 40, [oldest, middle, newest])]);
  // reserved 30 + 15 = 45 > soft 40: evicting 'oldest' (10) gives 35 ≤ 40.
  t.same(
    plan.evict.map((m) => m.name),
    ['oldest'],
  );
  const plan2 = planPlacement('new', 25 * MiB, [device('d', 50, 40, [oldest, middle, newest])]);
  t.same(
    plan2.evict.map((m) => m.name),
    ['oldest', 'middle'],
    'two when one is not enough: bytes, not count',
  );
});

t.test('pinned, busy and loading models are never evicted', async (t) => {
  const models = [
    model('pinned', 10, { pinned: true }),
    model('running', 10, { inFlight: 1 }),
    model('queued', 10, { queued: 2 }),
    model('loading', 10, { state: 'loading' }),
    model('idle', 10),
  ];
  const plan = planPlacement('new', 15 * MiB, [device('d', 60, 40, models)]);
  t.same(
    plan.evict.map((m) => m.name),
    ['idle'],
  );
  const catalogPinned = planPlacement(
    'new',
    15 * MiB,
    [device('d', 70, 40, models)],
    (m) => m.pinned || m.name === 'idle',
  );
  t.same(catalogPinned.evict, [], 'a pin from the catalog counts too: nothing evicted');
  t.equal(catalogPinned.device, 'd', '...and 50 + 15 still fits under the hard limit of 70');
  t.throws(
    () => planPlacement('new', 15 * MiB, [device('d', 60, 40, models)], (m) => m.pinned || m.name === 'idle'),
    /nothing can be evicted/,
    'but not under 60',
  );
});

t.test('between soft and hard: allowed only when nothing more can be evicted', async (t) => {
  const plan = planPlacement('new', 15 * MiB, [device('d', 50, 30, [model('busy', 30, { inFlight: 1 })])]);
  t.same(plan, { device: 'd', evict: [] }, '30 + 15 = 45 ≤ hard 50');
});

t.test('the device needing the least eviction wins', async (t) => {
  const plan = planPlacement('new', 20 * MiB, [
    device('a', 50, 40, [model('a1', 15), model('a2', 15)]),
    device('b', 50, 40, [model('b1', 30)]),
  ]);
  // a: 30 + 20 = 50 > 40 → evict a1 (15) → 35 ≤ 40. b: evict b1 (30). a frees less.
  t.equal(plan.device, 'a');
  t.same(
    plan.evict.map((m) => m.name),
    ['a1'],
  );
});

t.test('refusals say what holds the memory, or which device is largest', async (t) => {
  const err = t.throws(() =>
    planPlacement('new', 30 * MiB, [
      device('d', 50, 40, [model('pinned', 20, { pinned: true }), model('busy', 20, { inFlight: 3 })]),
    ]),
  ) as any;
  t.equal(err.code, 'MOC_ERR_NO_MEMORY');
  t.match(
    err.message,
    /needs 30\.0 MiB and nothing can be evicted to make room: pinned on d 20\.0 MiB \(pinned\), busy on d 20\.0 MiB \(busy\)/,
  );
  const big = t.throws(() =>
    planPlacement('huge', 500 * MiB, [device('a', 100, 90, []), device('b', 200, 180, [model('x', 50)])]),
  ) as any;
  t.equal(big.code, 'MOC_ERR_NO_MEMORY');
  t.match(big.message, /needs 500\.0 MiB, more than any device can hold \(largest: b, 200\.0 MiB, 150\.0 MiB free\)/);
});
