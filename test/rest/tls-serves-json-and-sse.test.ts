/**
 * REST over TLS (uWS SSLApp) with openssl-made certificates: a client trusting the CA gets JSON and a Server-Sent
 * Events stream; plaintext HTTP on the TLS port and a client trusting another CA get nothing served, and the server
 * keeps serving. REST cannot require client certificates (uWS 20.30): the config refuses that combination.
 */
import t from 'tap';
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { startHarness } from '../helpers/coordinator.js';
import { issue, makeCa, type Issued } from '../helpers/tls.js';

const ADMIN = 'admin-key-0123456789abcdef';

function request(
  mod: typeof http | typeof https,
  port: number,
  path: string,
  o: { ca?: Issued; mine?: Issued; body?: object } = {},
) {
  return new Promise<{ status: number; type: string; text: string }>((resolve, reject) => {
    const req = mod.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: o.body ? 'POST' : 'GET',
        headers: { authorization: `Bearer ${ADMIN}`, ...(o.body ? { 'content-type': 'application/json' } : {}) },
        ...(o.ca ? { ca: readFileSync(o.ca.cert) } : {}),
        ...(o.mine ? { cert: readFileSync(o.mine.cert), key: readFileSync(o.mine.key) } : {}),
        timeout: 5000,
      },
      (res) => {
        let text = '';
        res
          .setEncoding('utf8')
          .on('data', (d) => {
            text += d;
          })
          .on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(o.body ? JSON.stringify(o.body) : undefined);
  });
}

t.test('REST over TLS: JSON and SSE for a client trusting the CA; plaintext and another CA refused', async (t) => {
  const dir = t.testdir();
  const ca = makeCa(dir, 'ca');
  const other = makeCa(dir, 'other-ca');
  const server = issue(dir, ca, 'server', '/CN=moc', { server: true });
  const h = await startHarness(
    t,
    { auth: { keys: [{ role: 'admin', key: ADMIN }] }, tls: { certFile: server.cert, keyFile: server.key } },
    { dir },
  );
  const port = h.coordinator.restPort;

  const models = await request(https, port, '/v1/models', { ca });
  t.equal(models.status, 200, 'GET /v1/models over TLS');
  t.match(JSON.parse(models.text), { models: [{ name: 'moc-demo' }] });
  const sse = await request(https, port, '/v1/infer', {
    ca,
    body: { model: 'moc-demo', prompt: 'hello', max_tokens: 4, temperature: 0, stream: true },
  });
  t.equal(sse.status, 200);
  t.match(sse.type, /text\/event-stream/, 'an SSE stream over TLS');
  t.match(sse.text, /^data: /m, 'with data events');

  await t.rejects(request(http, port, '/v1/models'), 'plaintext HTTP on the TLS port: no answer is served');
  await t.rejects(
    request(https, port, '/v1/models', { ca: other }),
    /self-signed|unable to verify|certificate/i,
    'a client trusting another CA refuses the server',
  );
  t.equal((await request(https, port, '/health/ready', { ca })).status, 200, 'and the server keeps serving');
});

t.test('REST cannot require client certificates: the config says so rather than serve REST without them', async (t) => {
  const { resolveConfig } = await import('../../src/config.js');
  const tls = { certFile: 'a.crt', keyFile: 'a.key', clientCaFile: 'ca.crt', requireClientCert: true };
  t.throws(() => resolveConfig({ tls }), /REST \(uWebSockets.js 20.30\) cannot require client certificates/);
  t.doesNotThrow(() => resolveConfig({ tls, rest: { enabled: false } }), 'gRPC alone may require them');
});
