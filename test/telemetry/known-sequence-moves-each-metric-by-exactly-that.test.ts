/**
 * A known sequence moves each metric by exactly what happened, no more: 1 load (which evicts 1 model to make room),
 * 3 inferences, then — while a long generation runs and one request waits in the model's queue of 1 — 1 request
 * refused as Busy and 1 engine process killed (SIGKILL): the generation fails retryably, the queued request runs once
 * the engine is back. Then the device worker crashes: its restart is counted, readiness goes false and comes back,
 * and no counter goes backwards (they live on the main thread).
 */
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { startHarness, until } from '../helpers/coordinator.js';
import { scrape, sum } from '../helpers/metrics.js';
import { LONG_MAX_TOKENS, longModel, startGeneration } from '../helpers/long-generation.js';

const json = { 'content-type': 'application/json' };

t.test(
  '1 load, 1 eviction, 3 inferences, 1 Busy, 1 engine kill, 1 device restart: each metric moves by exactly that',
  async (t) => {
    // The demo model (preloaded) takes ~4 MiB, 'second' (4096-token context) ~7.5 MiB: under a 10 MiB soft limit they
    // do not fit together, so loading 'second' evicts the demo. A queue of 1 per model makes the Busy deterministic.
    const h = await startHarness(t, {
      devices: [{ id: 'cpu0', memory: '16MiB', softLimit: '10MiB', maxQueue: 1 }],
      debug: { faultInjection: true },
      supervisor: { maxRestarts: 5, periodMs: 60_000 },
    });
    const base = (await scrape(h)).samples;
    const devices = async () =>
      (
        (await (await fetch(`${h.restUrl}/v1/devices`)).json()) as {
          devices: Array<{ engine_pid: number; models: Array<{ name: string; queued: number }> }>;
        }
      ).devices;
    const delta = (s: Map<string, number>, name: string, labels: Record<string, string> = {}) =>
      sum(s, name, labels) - sum(base, name, labels);

    // 1 load, which evicts the least recently used model to stay under the soft limit.
    const { name, ...spec } = longModel('second', 1);
    const load = await fetch(`${h.restUrl}/v1/models/${name}/load`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify(spec),
    });
    t.equal(load.status, 200, 'second loaded');

    // 3 inferences.
    const answers: Array<{ prompt_tokens: number; tokens_generated: number }> = [];
    const infer = (prompt: string) =>
      fetch(`${h.restUrl}/v1/infer`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ model: 'second', prompt, max_tokens: 5, temperature: 0 }),
      });
    for (const prompt of ['one', 'two', 'three']) {
      const r = await infer(prompt);
      t.equal(r.status, 200);
      answers.push((await r.json()) as { prompt_tokens: number; tokens_generated: number });
    }

    // A long generation takes the model's one sequence; one request waits in its queue of 1; the next is refused.
    const long = startGeneration(h.client, {
      model: 'second',
      prompt: 'long',
      max_tokens: LONG_MAX_TOKENS,
      temperature: 0,
    });
    await long.started;
    const queued = infer('queued');
    await until('one request queued', async () => {
      const [device] = await devices();
      return device!.models.find((m) => m.name === 'second')?.queued === 1;
    });
    const busy = await infer('refused');
    t.equal(busy.status, 429, 'the third request is refused as Busy');
    t.match(await busy.json(), { error: { code: 'MOC_ERR_BUSY' } });

    // Kill the engine process under the running generation.
    const [device] = await devices();
    process.kill(device!.engine_pid, 'SIGKILL');
    const { error } = await long.ended;
    t.equal(error?.code, grpc.status.UNAVAILABLE, 'the running generation fails retryably');
    const late = await queued;
    t.equal(late.status, 200, 'the queued request runs once the engine is back');
    answers.push((await late.json()) as { prompt_tokens: number; tokens_generated: number });

    const s = await until('the engine restart counted', async () => {
      const samples = (await scrape(h)).samples;
      return delta(samples, 'moc_engine_restarts_total') >= 1 ? samples : undefined;
    });
    t.equal(
      delta(s, 'moc_engine_restarts_total', { device: 'cpu0', reason: 'killed by SIGKILL' }),
      1,
      'engine restarts: 1, by reason',
    );
    t.equal(delta(s, 'moc_requests_total', { operation: 'load', code: 'OK' }), 1, 'load requests: 1');
    t.equal(
      delta(s, 'moc_model_loads_total', { model: 'second', result: 'OK' }),
      1,
      "loads: 1 (the engine's reload after its restart is not a load of the lifecycle)",
    );
    t.equal(delta(s, 'moc_model_loads_total'), 1, 'no other load');
    t.equal(delta(s, 'moc_model_load_duration_seconds_count'), 1, 'one load timed');
    t.equal(
      delta(s, 'moc_model_evictions_total', { model: 'moc-demo', reason: 'lru' }),
      1,
      'evictions: the demo model, to make room',
    );
    t.equal(delta(s, 'moc_model_evictions_total'), 1, 'no other eviction');
    t.equal(
      delta(s, 'moc_requests_total', { transport: 'rest', operation: 'infer', code: 'OK' }),
      4,
      'inferences answered: 3 + the queued one',
    );
    t.equal(delta(s, 'moc_requests_total', { operation: 'infer', code: 'MOC_ERR_BUSY' }), 1, 'Busy: 1');
    t.equal(
      delta(s, 'moc_requests_total', { transport: 'grpc', operation: 'infer', code: 'MOC_ERR_UNAVAILABLE' }),
      1,
      'the killed generation: 1 UNAVAILABLE',
    );
    t.equal(delta(s, 'moc_requests_total', { operation: 'infer' }), 6, 'no other inference request');
    t.equal(
      delta(s, 'moc_infer_compute_duration_seconds_count', { model: 'second' }),
      4,
      'timed inferences: the 4 that finished',
    );
    t.equal(delta(s, 'moc_infer_queue_duration_seconds_count'), 4);
    t.equal(
      delta(s, 'moc_prompt_tokens_total', { model: 'second' }),
      answers.reduce((n, a) => n + a.prompt_tokens, 0),
      'prompt tokens as answered',
    );
    t.equal(
      delta(s, 'moc_generated_tokens_total', { model: 'second' }),
      answers.reduce((n, a) => n + a.tokens_generated, 0),
      'generated tokens as answered',
    );
    t.equal(
      sum(s, 'moc_actor_busy_rejections_total'),
      0,
      "no mailbox refused anything (the Busy was the model's queue)",
    );
    t.equal(delta(s, 'moc_actor_restarts_total'), 0, 'no device worker restart yet');
    t.equal(sum(s, 'moc_models', { state: 'loaded' }), 1, 'one model loaded');
    t.equal(sum(s, 'moc_models', { state: 'registered' }), 1, 'the evicted one registered');
    t.equal(sum(s, 'moc_model_in_flight', { model: 'second' }), 0);
    t.equal(sum(s, 'moc_model_queued', { model: 'second' }), 0);
    t.equal(sum(s, 'moc_ready'), 1, 'ready');

    // The device worker crashes: counted, readiness false while it restarts, then back; nothing goes backwards.
    await h.coordinator.devices.get('cpu0')!.ask({ kind: 'crash', target: 'worker' }, { timeoutMs: 5000 });
    const down = await until(
      'readiness false while the only device restarts',
      async () => {
        const r = await fetch(`${h.restUrl}/health/ready`);
        return r.status === 503 ? (r.json() as Promise<{ reasons: string[] }>) : undefined;
      },
      10_000,
    );
    t.match(down.reasons, [/device cpu0 is restarting|no model is loaded/], 'with the reason');
    await until('ready again', async () => (await fetch(`${h.restUrl}/health/ready`)).status === 200, 60_000);
    // Counted once the new worker has started (the supervisor's onRestart), which readiness may see first.
    const after = await until('the device restart counted', async () => {
      const samples = (await scrape(h)).samples;
      return delta(samples, 'moc_actor_restarts_total') >= 1 ? samples : undefined;
    });
    t.equal(
      delta(after, 'moc_actor_restarts_total', { actor: 'device:cpu0', reason: 'crashed' }),
      1,
      'device restarts: 1',
    );
    t.equal(sum(after, 'moc_ready'), 1, 'moc_ready back to 1');
    for (const [metric, labels] of [
      ['moc_engine_restarts_total', {}],
      ['moc_requests_total', { operation: 'infer' }],
      ['moc_generated_tokens_total', {}],
      ['moc_prompt_tokens_total', {}],
      ['moc_infer_compute_duration_seconds_count', {}],
      ['moc_model_evictions_total', {}],
      ['moc_model_loads_total', {}],
    ] as const) {
      t.equal(sum(after, metric, labels), sum(s, metric, labels), `${metric} kept its value across the device restart`);
    }
  },
);
