/**
 * The gauges a model-aware gateway reads (docs/metrics.md, For a gateway) count a known load, value by value:
 * adapter a1 (1 sequence) runs a long generation with 2 requests in its queue; model x drains (unloaded while a
 * long generation runs) and a request for it waits at the router for its load; adapter a2's load waits behind x's
 * (one placement turn per device), so its request waits too. Then lora_requests_info for their base names a1
 * running and a1, a2 waiting, its value the epoch second of that change; and when everything has ended, each gauge
 * is back to 0 for every registered model (the series stay: the picker keeps the last value of a missing one).
 */
import t from 'tap';
import path from 'node:path';
import { demoPath, startHarness, until } from '../helpers/coordinator.js';
import { scrape, sum } from '../helpers/metrics.js';
import { startGeneration } from '../helpers/long-generation.js';

/**
 * a1's and x's generations must outlast every step and scrape up to the busy check, on a loaded CI machine too (with
 * the helper's 4,000 tokens, ~4 s, x's once ended first, and x was gone before the check saw it draining). They are
 * cancelled once checked, so a longer one costs nothing: 16,000 tokens in a 16,384-token sequence (8 MiB of KV cache
 * on the demo model), four times the helper's and slower per token as the sequence fills.
 */
const CONTEXT = 16_384;
const MAX_TOKENS = 16_000;
import { writeLoraAdapterGguf } from '../../src/model/lora-adapter.js';

const json = { 'content-type': 'application/json' };
const LORA = 'moc_lora_requests_info';

/** The `moc_lora_requests_info` samples: labels as an object, and the value. */
function loraSeries(samples: Map<string, number>): Array<{ labels: Record<string, string>; value: number }> {
  const out: Array<{ labels: Record<string, string>; value: number }> = [];
  for (const [key, value] of samples) {
    if (!key.startsWith(`${LORA}{`)) continue;
    const labels: Record<string, string> = {};
    for (const m of key.slice(LORA.length + 1, -1).matchAll(/(\w+)="([^"]*)"/g)) labels[m[1]!] = m[2]!;
    out.push({ labels, value });
  }
  return out;
}

t.test('waiting, running, KV cache and lora_requests_info count exactly the load driven', async (t) => {
  const h = await startHarness(t);
  const post = async (route: string, body: object) => {
    const res = await fetch(`${h.restUrl}${route}`, { method: 'POST', headers: json, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  const infer = (model: string, maxTokens: number) =>
    post('/v1/infer', { model, prompt: 'Once upon a time', max_tokens: maxTokens, temperature: 0 });
  const gauge = (s: Map<string, number>, name: string, model: string) =>
    sum(s, `moc_model_requests_${name}`, { model });

  await writeLoraAdapterGguf(path.join(h.modelsRoot, 'a1.gguf'), demoPath(h), { seed: 1 });
  await writeLoraAdapterGguf(path.join(h.modelsRoot, 'a2.gguf'), demoPath(h), { seed: 2 });
  const long = { context_size: CONTEXT, sequences: 1, keep_alive_ms: -1 };
  for (const body of [
    { name: 'base', path: 'moc-demo.gguf', ...long },
    { name: 'a1', base: 'base', adapter: 'a1.gguf', ...long },
    { name: 'a2', base: 'base', adapter: 'a2.gguf', ...long },
    { name: 'x', path: 'moc-demo.gguf', ...long },
    { name: 'kv', path: 'moc-demo.gguf', context_size: 256, sequences: 1, keep_alive_ms: -1 },
  ]) {
    const r = await post('/v1/models', body);
    t.equal(r.status, 201, `${body.name} registered (${JSON.stringify(r.body).slice(0, 200)})`);
  }

  // Idle: every registered model has its series at 0; the base's adapters are counted, none busy.
  const idle = (await scrape(h)).samples;
  for (const m of ['base', 'a1', 'a2', 'x', 'kv', 'moc-demo']) {
    t.ok(idle.has(`moc_model_requests_waiting{model="${m}"}`), `${m}: a waiting series while idle`);
    t.equal(gauge(idle, 'waiting', m), 0, `${m}: 0 waiting`);
    t.equal(gauge(idle, 'running', m), 0, `${m}: 0 running`);
    t.equal(sum(idle, 'moc_model_kv_cache_usage_ratio', { model: m }), 0, `${m}: not loaded (or unused), KV 0`);
  }
  const [idleLora, ...noMore] = loraSeries(idle);
  t.equal(noMore.length, 0, 'one lora_requests_info series: one base has adapters');
  t.same(idleLora?.labels, { base: 'base', max_lora: '2', running_lora_adapters: '', waiting_lora_adapters: '' });

  // KV cache: one generation on kv (256 tokens, 1 sequence) leaves its prompt and answer in the sequence.
  const kv = await infer('kv', 5);
  t.equal(kv.status, 200);
  const held = kv.body.prompt_tokens + kv.body.tokens_generated;
  const afterKv = (await scrape(h)).samples;
  const usage = sum(afterKv, 'moc_model_kv_cache_usage_ratio', { model: 'kv' });
  // The last token generated is not evaluated (nothing comes after it): the sequence holds the others.
  t.equal(
    usage,
    (held - 1) / 256,
    `KV of kv: ${usage} = ${held - 1}/256 (${held} prompt + generated, the last not evaluated)`,
  );
  t.equal(usage, sum(afterKv, 'moc_kv_cache_usage_ratio', { model: 'kv' }), 'as the per-device gauge says');

  // a1: a long generation runs on its one sequence, 2 requests wait in its queue.
  const startedAt = Date.now() / 1000;
  const g1 = startGeneration(h.client, { model: 'a1', prompt: 'long', max_tokens: MAX_TOKENS, temperature: 0 });
  t.teardown(() => g1.cancel());
  await g1.started;
  const queued = [infer('a1', 2), infer('a1', 2)];
  await until('2 requests in the queue of a1', async () => gauge((await scrape(h)).samples, 'waiting', 'a1') === 2);

  // x: a long generation runs, then x is unloaded: it drains; a request for x waits for its load, which waits for
  // x to be gone, holding the device's placement turn; a2's load waits for that turn.
  const g2 = startGeneration(h.client, { model: 'x', prompt: 'long', max_tokens: MAX_TOKENS, temperature: 0 });
  t.teardown(() => g2.cancel());
  await g2.started;
  const unload = post('/v1/models/x/unload', {});
  await until('x on its way out', async () => {
    const v = (await (await fetch(`${h.restUrl}/v1/models/x`)).json()) as { state: string };
    return v.state !== 'loaded';
  });
  const forX = infer('x', 2);
  const forA2 = infer('a2', 2);
  const busy = await until('x and a2 waiting for their loads', async () => {
    const s = (await scrape(h)).samples;
    return gauge(s, 'waiting', 'x') === 1 && gauge(s, 'waiting', 'a2') === 1 && s;
  });
  const now = Date.now() / 1000;
  t.equal(gauge(busy, 'running', 'a1'), 1, 'a1: 1 running');
  t.equal(gauge(busy, 'waiting', 'a1'), 2, 'a1: 2 waiting in its queue');
  t.equal(gauge(busy, 'running', 'a2'), 0, 'a2: none running');
  t.equal(gauge(busy, 'waiting', 'a2'), 1, 'a2: 1 waiting for its load');
  t.equal(gauge(busy, 'running', 'x'), 1, 'x: its generation still running while it drains');
  t.equal(gauge(busy, 'waiting', 'x'), 1, 'x: 1 waiting for its load');
  t.equal(gauge(busy, 'running', 'base'), 0, "base: none running of its own (its adapters' are theirs)");
  t.equal(gauge(busy, 'waiting', 'base'), 0, 'base: none waiting');
  const [busyLora, ...more] = loraSeries(busy);
  t.equal(more.length, 0, 'still one series');
  t.same(busyLora?.labels, {
    base: 'base',
    max_lora: '2',
    running_lora_adapters: 'a1',
    waiting_lora_adapters: 'a1,a2',
  });
  t.ok(
    busyLora!.value >= Math.floor(startedAt) && busyLora!.value <= now,
    `its value is when that changed, in epoch seconds (${busyLora!.value}, load started ${startedAt})`,
  );
  t.ok(busyLora!.value > idleLora!.value, 'later than the idle labels');
  const again = loraSeries((await scrape(h)).samples)[0]!;
  if (JSON.stringify(again.labels) === JSON.stringify(busyLora!.labels))
    t.equal(again.value, busyLora!.value, 'unchanged labels, unchanged value');

  // Everything ends: the generations are stopped, x unloads, the waiters load their models and are answered.
  g1.cancel();
  g2.cancel();
  await Promise.all([g1.ended, g2.ended]);
  for (const r of await Promise.all([...queued, forX, forA2])) t.equal(r.status, 200, 'a waiting request answered');
  t.equal((await unload).status, 200, 'x unloaded');
  const done = await until('every gauge back to 0', async () => {
    const s = (await scrape(h)).samples;
    const models = ['base', 'a1', 'a2', 'x'];
    return models.every((m) => gauge(s, 'waiting', m) === 0 && gauge(s, 'running', m) === 0) && s;
  });
  const [doneLora] = loraSeries(done);
  t.same(doneLora?.labels, { base: 'base', max_lora: '2', running_lora_adapters: '', waiting_lora_adapters: '' });
  t.ok(doneLora!.value >= busyLora!.value, 'the last change is the latest');
});
