/**
 * WatchModels under load/unload traffic with a watcher that never reads: what the server buffers for that watcher
 * stays bounded (the latest state per model is held while its stream is full, not every change), and a watcher
 * that reads still sees every model's final state.
 */
import t from 'tap';
import type * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import { startHarness, until } from '../helpers/coordinator.js';
import { nextEvent } from '../helpers/events.js';

const COPY = 'moc-demo-watch-copy';
const CYCLES = 60;

t.test('a watcher that never reads does not make the server buffer every model change', async (t) => {
  const h = await startHarness(t);
  const transport = h.coordinator.grpc;
  const post = (path: string, body?: object) =>
    fetch(`${h.restUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    }).then(async (r) => {
      if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
      return r;
    });
  await post('/v1/models', { name: COPY, path: 'moc-demo.gguf', keep_alive_ms: -1 });

  // The slow watcher: a raw HTTP/2 client that advertises a stream window of 0 bytes and never opens it, so the
  // server cannot send it a single DATA frame and every write backs up on the server (a grpc-js client always
  // opens its window as it reads, even when paused).
  const session = http2.connect(`http://127.0.0.1:${h.coordinator.grpcPort}`, { settings: { initialWindowSize: 0 } });
  session.on('error', () => {});
  t.teardown(() => session.destroy());
  const slow = session.request({
    ':method': 'POST',
    ':path': '/moc.v1.ModelOps/WatchModels',
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  slow.on('error', () => {}); // it may be ended with RESOURCE_EXHAUSTED if the loop outlasts the stall bound
  slow.end(Buffer.from([0, 0, 0, 0, 0])); // one gRPC message: uncompressed, 0 bytes (an empty WatchModelsRequest)

  const latest = new Map<string, any>();
  const normal = h.client.WatchModels({}) as grpc.ClientReadableStream<any>;
  normal.on('data', (m: any) => latest.set(m.name, m));
  normal.on('error', () => {});
  t.teardown(() => normal.cancel());
  await until('both watchers open', async () => transport.watchStats().watchers === 2);

  const samples: number[] = [];
  let held = 0;
  for (let i = 0; i < CYCLES; i++) {
    await post(`/v1/models/${COPY}/load`, {});
    await post(`/v1/models/${COPY}/unload`);
    const s = transport.watchStats();
    samples.push(s.maxBufferedBytes);
    held = Math.max(held, s.held);
  }
  const final = (await (await post(`/v1/models/${COPY}/load`, {})).json()) as { loaded_at_ms: number };

  // The final state, not an earlier cycle's 'loaded': the update of this last load (its loaded_at_ms), on the stream.
  const isFinal = (m: any) =>
    m?.name === COPY && m.state === 'MODEL_STATE_LOADED' && m.loaded_at_ms === final.loaded_at_ms;
  await nextEvent(normal, 'data', isFinal, 'the reading watcher sees the final state', 30_000, () => latest.get(COPY));
  t.equal(latest.get(COPY)?.state, 'MODEL_STATE_LOADED', 'the reading watcher sees the copy loaded');
  t.equal(latest.get('moc-demo')?.state, 'MODEL_STATE_LOADED', 'and the demo model loaded');

  const third = Math.floor(CYCLES / 3);
  const middle = Math.max(...samples.slice(third, 2 * third));
  const late = Math.max(...samples.slice(2 * third));
  t.comment(`buffered bytes for the slowest watcher: middle third max ${middle}, last third max ${late}`);
  t.ok(held > 0, 'the slow watcher is backed up: updates were held for it (the test exercises the full-buffer path)');
  t.ok(late <= middle + 2048, 'what is buffered for it stops growing with the number of changes');
  t.ok(late < 32 * 1024, 'and stays small');
});
