/**
 * Two busy models that do not fit on their device together take turns instead of loading and evicting on every
 * request (docs/models.md, "Two models that do not fit together"; llama-swap#612): a load that needs a busy model's
 * memory waits for it (a pending swap), the busy model keeps serving for its minimum residency, then drains.
 */
import t from 'tap';
import path from 'node:path';
import { startHarness, until, type Harness } from '../helpers/coordinator.js';
import { scrape, sum } from '../helpers/metrics.js';
import { writeTinyLlamaGguf } from '../../src/model/demo-model.js';

// A demo-sized model takes about 4.05 MiB (8 sequences of 512 tokens): 7 MiB holds one, never two.
const DEVICE = { id: 'cpu0', memory: '7MiB' };
const MAX_WAIT_MS = 10_000;
/** Client-side latency beyond the server's wait: the load itself, a generation, gRPC. */
const MARGIN_MS = 5_000;

const RESIDENCY_MS = 1500;

/** One server for both tests (a start costs seconds): swap-a and swap-b registered, swap-a loaded. */
async function twoModels(): Promise<Harness> {
  const h = await startHarness(t, {
    devices: [DEVICE],
    models: [],
    lifecycle: { minResidencyMs: RESIDENCY_MS, maxWaitMs: MAX_WAIT_MS },
  });
  // A second model of the same size, other weights: the project's generator with another seed.
  await writeTinyLlamaGguf(path.join(h.modelsRoot, 'other.gguf'), { seed: 7 });
  await h.unary('RegisterModel', { name: 'swap-a', path: 'moc-demo.gguf' });
  await h.unary('RegisterModel', { name: 'swap-b', path: 'other.gguf' });
  await h.unary('UnloadModel', { name: 'moc-demo' });
  return h;
}
const h = await twoModels();

const okLoads = async (h: Harness) => sum((await scrape(h)).samples, 'moc_model_loads_total', { result: 'OK' });

t.test('20 clients alternating between two models that fit one at a time: all answered, few loads', async (t) => {
  await h.unary('LoadModel', { name: 'swap-a' });
  const before = await okLoads(h);
  const CLIENTS = 20;
  const EACH = 10; // 200 requests
  const latencies: number[] = [];
  const failures: string[] = [];
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      for (let i = 0; i < EACH; i++) {
        const model = i % 2 === 0 ? 'swap-a' : 'swap-b';
        const start = Date.now();
        try {
          const r = await h.unary(
            'Infer',
            { model, prompt: `client ${c} turn ${i}`, max_tokens: 4, temperature: 0 },
            { deadlineMs: 30_000 },
          );
          if (r.model !== model) failures.push(`client ${c} turn ${i}: answered by ${r.model}`);
        } catch (err) {
          failures.push(`client ${c} turn ${i} (${model}): ${(err as Error).message}`);
        }
        latencies.push(Date.now() - start);
      }
    }),
  );
  const loads = (await okLoads(h)) - before;
  const maxWait = Math.max(...latencies);
  t.comment(`200 requests: ${loads} loads, slowest request ${maxWait} ms (maxWaitMs ${MAX_WAIT_MS})`);
  t.same(failures, [], 'every request answered OK');
  t.equal(latencies.length, CLIENTS * EACH);
  t.ok(loads <= 10, `loads counted (${loads}) ≤ 10: the models took turns instead of swapping per request`);
  t.ok(maxWait <= MAX_WAIT_MS + MARGIN_MS, `no request waited longer than maxWaitMs (+ margin): ${maxWait} ms`);
});

t.test('a model kept busy drains for the other after its residency; neither starves', async (t) => {
  // Two sequences of 2048 tokens: as big as the others. Six clients keep both busy with generations of 300 tokens
  // and four more queued, so its queue never runs empty while they send: it goes idle only if their new requests stop
  // reaching it. Only the drain lets swap-b in (without it, swap-b's request waits until maxWaitMs and fails).
  await h.unary('RegisterModel', { name: 'swap-hot', path: 'moc-demo.gguf', sequences: 2, context_size: 2048 });
  await h.unary('LoadModel', { name: 'swap-hot' }); // swap-b is idle after the test above: evicted for it
  const before = await okLoads(h);
  let stop = false;
  const failures: string[] = [];
  let servedHot = 0;
  const hot = Array.from({ length: 6 }, async (_, c) => {
    for (let i = 0; i < 5000 && !stop; i++) {
      await h
        .unary('Infer', { model: 'swap-hot', prompt: `hot ${c} ${i}`, max_tokens: 300, temperature: 0 })
        .then(() => servedHot++)
        .catch((err) => failures.push(`swap-hot: ${(err as Error).message}`));
    }
  });
  t.teardown(() => {
    stop = true;
  });
  await until('swap-hot serving its clients', async () => servedHot >= 6, 10_000);
  const start = Date.now();
  const b = await h.unary('Infer', { model: 'swap-b', prompt: 'cold', max_tokens: 4, temperature: 0 });
  const waitedB = Date.now() - start;
  const hotBeforeB = servedHot;
  t.equal(b.model, 'swap-b', 'the waiting model was served while the other was kept busy');
  t.ok(waitedB <= MAX_WAIT_MS, `within maxWaitMs (${waitedB} ms)`);
  // swap-hot's clients waited during the swap (none failed) and are served again once swap-b is idle.
  await until('swap-hot served again', async () => servedHot > hotBeforeB + 6, MAX_WAIT_MS);
  stop = true;
  await Promise.all(hot);
  t.same(failures, [], "every one of swap-hot's requests answered OK, through the drain and the swap");
  const loads = (await okLoads(h)) - before;
  t.comment(`swap-b waited ${waitedB} ms (residency ${RESIDENCY_MS} ms); ${loads} loads; swap-hot served ${servedHot}`);
  t.equal(loads, 2, 'one swap each way: swap-b in, swap-hot back');
});
