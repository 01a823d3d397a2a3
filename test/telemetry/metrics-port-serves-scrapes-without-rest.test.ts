/**
 * metrics.port: GET /metrics on a port of its own, which also serves a server running without REST; any other path
 * or method gets the error table's coded JSON error; the port closes with the server.
 */
import t from 'tap';
import { startHarness } from '../helpers/coordinator.js';
import { parse, sum } from '../helpers/metrics.js';

t.test('scrapes on the metrics port with REST disabled; coded errors elsewhere; closed at stop', async (t) => {
  const h = await startHarness(t, { metrics: { port: 0 }, rest: { enabled: false } });
  t.equal(h.coordinator.restPort, 0, 'no REST listener');
  const port = h.coordinator.metricsPort;
  t.ok(port > 0, 'the metrics port is bound');
  await h.unary('Infer', { model: 'moc-demo', prompt: 'scraped', max_tokens: 2 });

  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const samples = parse(await res.text());
  t.equal(
    sum(samples, 'moc_requests_total', { transport: 'grpc', operation: 'infer', code: 'OK' }),
    1,
    'the gRPC inference counted',
  );
  t.equal(sum(samples, 'moc_models', { state: 'loaded' }), 1, 'gauges read at scrape time');

  const other = await fetch(`http://127.0.0.1:${port}/v1/models`);
  t.equal(other.status, 404);
  t.match(await other.json(), { error: { code: 'MOC_ERR_NOT_IMPLEMENTED', message: /serves GET \/metrics only/ } });
  const post = await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST', body: 'x' });
  t.equal(post.status, 405);
  t.equal(post.headers.get('allow'), 'GET');
  t.match(await post.json(), { error: { code: 'MOC_ERR_METHOD_NOT_ALLOWED' } });

  await h.close();
  const after = await fetch(`http://127.0.0.1:${port}/metrics`).then(
    () => 'answered',
    (e: Error) => e.message,
  );
  t.not(after, 'answered', 'the port is closed with the server');
});
