import t from 'tap';
import { startHarness } from '../helpers/coordinator.js';

// Fault injection: the engine's first load of 'slow' holds on for 10 s after llama.cpp loaded it. Set before the
// coordinator starts: device workers and engine processes inherit the environment.
const SLOW_MS = 10_000;
process.env.MOC_FAULT_SLOW_LOAD = `slow:${SLOW_MS}`;

const DEVICES = [
  { id: 'cpu0', kind: 'cpu', memory: '1GiB' },
  { id: 'cpu1', kind: 'cpu', memory: '1GiB' },
];

async function post(url: string, body: object) {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: (await r.json()) as any };
}

t.test('a load on cpu0 does not wait for a slow load of another model on cpu1', async (t) => {
  const h = await startHarness(t, {
    devices: DEVICES,
    debug: { faultInjection: true },
    limits: { loadTimeoutMs: 30_000 },
  });
  for (const name of ['slow', 'fast']) {
    t.equal((await post(`${h.restUrl}/v1/models`, { name, path: 'moc-demo.gguf' })).status, 201, `${name} registered`);
  }

  // The slow load is on its device (not only queued in the coordinator) before the fast one starts.
  const slowOnDevice = new Promise<void>((resolve) => {
    const off = h.coordinator.models.watch((m) => {
      if (m.name === 'slow' && m.device === 'cpu1' && m.state === 'loading') {
        off();
        resolve();
      }
    });
  });
  const finished: string[] = [];
  const slow = post(`${h.restUrl}/v1/models/slow/load`, { device: 'cpu1' }).then((r) => {
    finished.push('slow');
    return r;
  });
  await slowOnDevice;

  const started = Date.now();
  const fast = await post(`${h.restUrl}/v1/models/fast/load`, { device: 'cpu0' });
  finished.push('fast');
  t.equal(fast.status, 200, 'the cpu0 load succeeds');
  t.equal(fast.body.device, 'cpu0');
  t.ok(Date.now() - started < SLOW_MS, `the cpu0 load took ${Date.now() - started} ms, less than the slow load's hold`);

  const s = await slow;
  t.equal(s.status, 200, 'the slow cpu1 load succeeds too');
  t.equal(s.body.device, 'cpu1');
  t.same(finished, ['fast', 'slow'], 'the cpu0 load, started later, finished first');
});
