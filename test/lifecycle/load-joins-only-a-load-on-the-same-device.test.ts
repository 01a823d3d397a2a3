import t from 'tap';
import { startHarness } from '../helpers/coordinator.js';

// Two concurrent loads of one model asking for different devices: at most one can be right. The other must not
// join the first and report success as if the model were where it asked.
const DEVICES = [
  { id: 'cpu0', kind: 'cpu', memory: '64MiB' },
  { id: 'cpu1', kind: 'cpu', memory: '64MiB' },
];

async function load(url: string, name: string, device: string) {
  const r = await fetch(`${url}/v1/models/${name}/load`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ device }),
  });
  return { asked: device, status: r.status, body: (await r.json()) as any };
}

t.test('a load asking cpu1 does not join an in-flight load on cpu0', async (t) => {
  const h = await startHarness(t, { devices: DEVICES });
  for (let round = 0; round < 3; round++) {
    const name = `m${round}`;
    await fetch(`${h.restUrl}/v1/models`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, path: 'moc-demo.gguf' }),
    });
    const order = round % 2 === 0 ? ['cpu0', 'cpu1'] : ['cpu1', 'cpu0'];
    const answers = await Promise.all(order.map((d) => load(h.restUrl, name, d)));
    const where = ((await fetch(`${h.restUrl}/v1/models/${name}`).then((r) => r.json())) as any).device;
    t.ok(where === 'cpu0' || where === 'cpu1', `${name} is loaded (on ${where})`);
    const ok = answers.filter((a) => a.status === 200);
    t.equal(ok.length, 1, `${name}: exactly one of the two loads succeeds`);
    for (const a of ok) {
      t.equal(a.body.device, a.asked, `${name}: the success reports the device it asked for`);
      t.equal(a.body.device, where, `${name}: and that is where the model is`);
    }
    for (const a of answers.filter((x) => x.status !== 200)) {
      t.equal(a.status, 409, `${name}: the other is refused as a conflict`);
      t.equal(a.body.error?.code, 'MOC_ERR_MODEL_ALREADY_LOADED');
      t.match(a.body.error?.message, where, 'naming the device the model is on');
    }
  }
  // A load asking the device the model is on, or no device, finds it loaded.
  const where = ((await fetch(`${h.restUrl}/v1/models/m0`).then((r) => r.json())) as any).device;
  const same = await load(h.restUrl, 'm0', where);
  t.equal(same.status, 200, 'asking the device it is on succeeds');
  const any = await fetch(`${h.restUrl}/v1/models/m0/load`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  t.equal(any.status, 200, 'a load without a device succeeds wherever the model is');
});
