/**
 * The REST port's front (src/transports/rest/front.ts): uWebSockets.js 20.30 leaves an HTTP/1.0 request, or an
 * HTTP/1.1 request without Host, hanging. Through the front, HTTP/1.0 is served (one request a connection, closed
 * after the answer) — ApacheBench, an HTTP/1.0 client, gets every answer — and what cannot be served gets a coded
 * error and a closed connection at once. HTTP/1.1 keep-alive and pipelining still work, and the server keeps serving.
 */
import t from 'tap';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startHarness } from '../helpers/coordinator.js';

/** Sends raw bytes (in pieces, `gapMs` apart) and collects everything until the server closes (or timeoutMs). */
function raw(
  port: number,
  pieces: string[],
  gapMs = 0,
  timeoutMs = 5000,
): Promise<{ text: string; closed: boolean; ms: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ text, closed: false, ms: Date.now() - t0 });
    }, timeoutMs);
    s.on('data', (d) => {
      text += d.toString('latin1');
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true, ms: Date.now() - t0 });
    });
    s.on('error', () => {});
    s.on('connect', async () => {
      for (const [i, p] of pieces.entries()) {
        if (i && gapMs) await new Promise((r) => setTimeout(r, gapMs));
        s.write(p, 'latin1');
      }
    });
  });
}
const statusOf = (text: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
const bodyOf = (text: string) => JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));

t.test('HTTP/1.0 is served; HTTP/1.1 without Host and non-HTTP/1.x heads get a coded 400, at once', async (t) => {
  const h = await startHarness(t);
  const port = Number(new URL(h.restUrl).port);

  const a = await raw(port, ['GET /health/live HTTP/1.0\r\n\r\n']);
  t.equal(statusOf(a.text), 200, 'HTTP/1.0 without Host: 200');
  t.same(bodyOf(a.text), { status: 'ok' });
  t.ok(a.closed, `and the connection is closed after the answer (${a.ms} ms)`);

  const b = await raw(port, ['GET /v1/models HTTP/1.0\r\nHost: moc\r\nConnection: keep-alive\r\n\r\n']);
  t.equal(statusOf(b.text), 200, 'HTTP/1.0 asking for keep-alive: 200');
  t.match(bodyOf(b.text), { models: [{ name: 'moc-demo' }] });
  t.ok(b.closed, 'served as one request, then closed');

  const body = JSON.stringify({ model: 'moc-demo', prompt: 'hello', max_tokens: 3, temperature: 0 });
  const c = await raw(
    port,
    [`POST /v1/infer HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`, body],
    50,
  );
  t.equal(statusOf(c.text), 200, 'HTTP/1.0 POST with a body sent after the head: 200');
  t.equal(bodyOf(c.text).tokens_generated, 3);

  const d = await raw(port, ['GET /health/live HTTP/1.1\r\n\r\n']);
  t.equal(statusOf(d.text), 400, 'HTTP/1.1 without Host: 400');
  t.equal(bodyOf(d.text).error.code, 'MOC_ERR_INVALID_ARGUMENT');
  t.match(bodyOf(d.text).error.message, /must carry a Host header/);
  t.ok(d.closed && d.ms < 2000, `closed at once (${d.ms} ms)`);

  for (const [name, head, why] of [
    ['HTTP/2 without TLS', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', /HTTP\/2\.0 is not served on the REST port/],
    ['not HTTP at all', 'hello there\r\n\r\n', /is not an HTTP\/1\.1 request line/],
    ['HTTP/0.9-style line', 'GET /\r\n\r\n', /is not an HTTP\/1\.1 request line/],
  ] as const) {
    const r = await raw(port, [head]);
    t.equal(statusOf(r.text), 400, `${name}: 400`);
    t.match(bodyOf(r.text).error.message, why, `${name}: says why`);
    t.ok(r.closed, `${name}: closed`);
  }
  const big = await raw(port, [`GET /health/live HTTP/1.1\r\nHost: x\r\nX-Fill: ${'a'.repeat(70_000)}`]);
  t.equal(statusOf(big.text), 413, 'a head that never ends within the limit: 413');
  t.equal(bodyOf(big.text).error.code, 'MOC_ERR_TOO_LARGE');

  // HTTP/1.1 as before: a head in pieces, keep-alive, pipelining.
  const slow = await raw(port, ['GET /health/li', 've HTTP/1.1\r\nHo', 'st: x\r\n\r\n'], 100, 1500);
  t.equal(statusOf(slow.text), 200, 'a head arriving in three pieces: 200');
  t.notOk(slow.closed, 'and the connection stays open (keep-alive)');
  const piped = await raw(port, [
    'GET /health/live HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: x\r\n\r\nGET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  ]);
  t.equal(
    piped.text.match(/HTTP\/1\.1 200 OK/g)?.length,
    3,
    'three pipelined requests on one connection: three answers',
  );
  t.ok(piped.closed, 'and closed after the one that asked');

  const after = await fetch(`${h.restUrl}/v1/models`);
  t.equal(after.status, 200, 'the server keeps serving');
  const metrics = await (await fetch(`${h.restUrl}/metrics`)).text();
  t.match(
    metrics,
    /moc_requests_total\{transport="rest",operation="unknown",code="MOC_ERR_INVALID_ARGUMENT"\} [4-9]/,
    'refusals at the front are counted',
  );
});

t.test('ApacheBench (HTTP/1.0) gets every answer', async (t) => {
  const h = await startHarness(t);
  const { stdout } = await promisify(execFile)('ab', ['-n', '200', '-c', '4', '-s', '10', `${h.restUrl}/health/live`]);
  t.match(stdout, /Complete requests:\s+200/, '200 complete');
  t.match(stdout, /Failed requests:\s+0/, '0 failed');
  t.notMatch(stdout, /Non-2xx responses/, 'every answer 2xx');
});
