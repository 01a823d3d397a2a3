/**
 * SIGTERM with more work than the grace: when the grace runs out, every SSE stream still generating gets a last
 * `event: error` with a retryable code (MOC_ERR_UNAVAILABLE + retryAfterMs) and a properly ended response, and every
 * request still waiting for a sequence gets a 503 JSON error with Retry-After. A client can then retry elsewhere;
 * a cut socket would leave it unable to tell a shutdown from a crash (before the fix most streams were cut).
 */
import t from 'tap';
import { startHarness, until } from '../helpers/coordinator.js';

const STREAMS = 20;
const QUEUED = 2;

interface Outcome {
  status: number;
  text: string;
  failed?: string;
}

/** Opens a streaming inference; `started` resolves at its first token, `done` once the response ends (or breaks). */
function openStream(url: string, model: string, i: number) {
  let onStart!: () => void;
  const started = new Promise<void>((r) => {
    onStart = r;
  });
  const done = (async (): Promise<Outcome> => {
    let status = 0;
    let text = '';
    try {
      const r = await fetch(`${url}/v1/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model,
          prompt: `stream ${i}`,
          max_tokens: 400,
          temperature: 0.8,
          seed: i,
          stream: true,
        }),
      });
      status = r.status;
      const dec = new TextDecoder();
      for await (const chunk of r.body!) {
        text += dec.decode(chunk as Uint8Array, { stream: true });
        if (text.includes('event: token')) onStart();
      }
      return { status, text };
    } catch (err) {
      // The connection was cut before or during the answer: what the fix must prevent.
      return { status, text, failed: String((err as Error).cause ?? err) };
    }
  })();
  return { started, done };
}

t.test('grace over: running streams end with a retryable error event, waiting requests get 503', async (t) => {
  const h = await startHarness(t);
  const json = (o: unknown) => ({
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(o),
  });
  // One sequence per stream, so all of them are generating (not queued) when the grace runs out.
  let r = await fetch(
    `${h.restUrl}/v1/models`,
    json({ name: 'wide', path: 'moc-demo.gguf', sequences: STREAMS, context_size: 512, keep_alive_ms: -1 }),
  );
  t.equal(r.status, 201);
  r = await fetch(`${h.restUrl}/v1/models/wide/load`, json({}));
  t.equal(r.status, 200);

  const streams = Array.from({ length: STREAMS }, (_, i) => openStream(h.restUrl, 'wide', i));
  await Promise.all(streams.map((s) => s.started));
  // Every sequence is busy: these wait in the queue and have sent nothing yet.
  const waiting = Array.from({ length: QUEUED }, (_, i) => openStream(h.restUrl, 'wide', STREAMS + i));
  await until('the extra requests are queued', async () => {
    const dev = ((await (await fetch(`${h.restUrl}/v1/devices`)).json()) as any).devices[0];
    return dev.models.find((m: any) => m.name === 'wide')?.queued === QUEUED;
  });

  const t0 = Date.now();
  await h.coordinator.close(300);
  t.comment(`close took ${Date.now() - t0} ms`);

  for (const [i, s] of streams.entries()) {
    const o = await s.done;
    t.notOk(o.failed, `stream ${i} ended cleanly${o.failed ? ` (${o.failed})` : ''}`);
    t.equal(o.status, 200);
    const events = [...o.text.matchAll(/event: (\w+)\ndata: (.*)\n\n/g)];
    const last = events.at(-1);
    t.equal(last?.[1], 'error', `stream ${i}: the last event is an error event`);
    const body = last ? JSON.parse(last[2]!) : {};
    t.equal(body.error?.code, 'MOC_ERR_UNAVAILABLE', `stream ${i}: a retryable code`);
    t.type(body.error?.details?.retryAfterMs, 'number', `stream ${i}: says when to retry`);
    t.match(body.error?.message, /shutting down/);
  }
  for (const [i, s] of waiting.entries()) {
    const o = await s.done;
    t.notOk(o.failed, `queued request ${i} got an answer${o.failed ? ` (${o.failed})` : ''}`);
    t.equal(o.status, 503, `queued request ${i}: 503`);
    t.equal(JSON.parse(o.text || '{}').error?.code, 'MOC_ERR_UNAVAILABLE');
  }
});
