import t from 'tap';
import { startHarness } from '../helpers/coordinator.js';

const specOf = (m: any) => ({
  name: m.name,
  path: m.path,
  contextSize: m.contextSize,
  sequences: m.sequences,
  keepAliveMs: m.keepAliveMs,
  pinned: m.pinned,
});

t.test('a load that arrives while the model is unloading waits for the unload, loads again and serves', async (t) => {
  const h = await startHarness(t);
  const dev = h.coordinator.devices.get('cpu0')!;
  const demo = (await dev.ask({ kind: 'status' }, { timeoutMs: 5000 })).models.find((m: any) => m.name === 'moc-demo')!;
  // Both asks are in the device mailbox together: the load is received while the unload is under way.
  const unloading = dev.ask({ kind: 'unload', model: 'moc-demo' }, { timeoutMs: 30_000 });
  const loading = dev.ask({ kind: 'load', model: specOf(demo) }, { timeoutMs: 30_000 });
  const [unloaded, loaded] = await Promise.all([unloading, loading]);
  t.ok(unloaded.freedBytes > 0, 'the unload finished and freed the old reservation');
  t.equal(loaded.state, 'loaded', 'the load reports the model loaded, not the unloading entry');
  t.ok(loaded.loadedAt >= demo.loadedAt, 'a fresh load');
  const r = await dev.ask(
    {
      kind: 'infer',
      requestId: 'after',
      model: 'moc-demo',
      prompt: 'hi',
      maxTokens: 2,
      temperature: 0,
      stop: [],
      priority: 0,
      stream: false,
    },
    { timeoutMs: 30_000 },
  );
  t.equal(r.model, 'moc-demo', 'an infer right after the load is served');
  const s = await dev.ask({ kind: 'status' }, { timeoutMs: 5000 });
  t.equal(
    s.memory.reserved,
    s.models.reduce((n: number, m: any) => n + m.reservedBytes, 0),
    'the ledger counts exactly the loaded model',
  );
});

t.test('requests racing the keep-alive expiry (keep_alive_ms 0) are served, never NOT_FOUND', async (t) => {
  const h = await startHarness(t);
  const reg = await fetch(`${h.restUrl}/v1/models`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'blink', path: 'moc-demo.gguf', keep_alive_ms: 0, sequences: 1 }),
  });
  t.equal(reg.status, 201);
  // Each request finds the model unloading after the previous one (expiry 0), or its route still saying loaded.
  const failures: string[] = [];
  for (let i = 0; i < 25; i++) {
    const res = await fetch(`${h.restUrl}/v1/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'blink', prompt: `p${i}`, max_tokens: 1, temperature: 0 }),
    });
    if (res.status !== 200) failures.push(`${res.status} ${await res.text()}`);
  }
  t.same(failures, [], 'every request was served');
});
