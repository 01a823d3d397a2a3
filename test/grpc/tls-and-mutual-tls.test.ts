/**
 * gRPC over TLS and mutual TLS, with certificates made by openssl at test time: a grpc-js client that trusts the
 * server's CA is served; plaintext on the TLS port, a client trusting another CA, and an expired server certificate
 * are refused, and the server keeps serving. Under mutual TLS a client without a certificate, or with one from
 * another CA, is refused; a certificate whose subject is in tls.clientRoles is that role (no API key), one that is
 * not gets UNAUTHENTICATED. A rotated certificate (the files replaced) is served to new connections without a restart.
 */
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { copyFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { startHarness, until } from '../helpers/coordinator.js';
import { issue, makeCa, type Issued } from '../helpers/tls.js';
import { modelOpsClient } from '../../src/transports/grpc/proto.js';

const ADMIN = 'admin-key-0123456789abcdef';

type Client = grpc.Client & Record<string, any>;
const tlsClient = (port: number, ca: Issued, mine?: Issued): Client =>
  modelOpsClient(
    `127.0.0.1:${port}`,
    {},
    grpc.credentials.createSsl(
      readFileSync(ca.cert),
      mine ? readFileSync(mine.key) : null,
      mine ? readFileSync(mine.cert) : null,
    ),
  );
const list = (c: Client, key?: string) =>
  new Promise<grpc.ServiceError | null>((resolve) => {
    const md = new grpc.Metadata();
    if (key) md.set('authorization', `Bearer ${key}`);
    c.ListModels({}, md, { deadline: Date.now() + 5_000 }, (err: grpc.ServiceError | null) => resolve(err));
  });
const load = (c: Client) =>
  new Promise<grpc.ServiceError | null>((resolve) =>
    c.LoadModel(
      { name: 'moc-demo' },
      new grpc.Metadata(),
      { deadline: Date.now() + 5_000 },
      (err: grpc.ServiceError | null) => resolve(err),
    ),
  );
/** The CN of the certificate a fresh TLS connection to the port is shown; `verify` false: even an expired one. */
const servedCn = (port: number, ca: Issued, verify = true) =>
  new Promise<string>((resolve, reject) => {
    const o = { host: '127.0.0.1', port, ca: readFileSync(ca.cert), ALPNProtocols: ['h2'], rejectUnauthorized: verify };
    const s = tls.connect(o, () => {
      resolve(String(s.getPeerCertificate().subject.CN));
      s.end();
    });
    s.on('error', reject);
  });

t.test('TLS: served with the right CA; plaintext, another CA and an expired certificate refused', async (t) => {
  const dir = t.testdir();
  const ca = makeCa(dir, 'ca');
  const other = makeCa(dir, 'other-ca');
  const server = issue(dir, ca, 'server', '/CN=moc-a', { server: true });
  const h = await startHarness(
    t,
    {
      auth: { keys: [{ role: 'admin', key: ADMIN }] },
      tls: { certFile: server.cert, keyFile: server.key, refreshMs: 1000 },
    },
    { dir },
  );
  const port = h.coordinator.grpcPort;

  const good = tlsClient(port, ca);
  t.teardown(() => good.close());
  t.equal(await list(good, ADMIN), null, "a client trusting the server's CA is served");
  const plain = modelOpsClient(`127.0.0.1:${port}`);
  const e1 = await list(plain, ADMIN);
  plain.close();
  t.equal(e1?.code, grpc.status.UNAVAILABLE, 'plaintext on the TLS port: refused');
  const wrong = tlsClient(port, other);
  const e2 = await list(wrong, ADMIN);
  wrong.close();
  t.equal(e2?.code, grpc.status.UNAVAILABLE, 'a client trusting another CA: refused (the handshake fails)');
  t.equal(await list(good, ADMIN), null, 'and the server keeps serving');

  // Rotation: the files replaced with a certificate for another name; new connections get it within refreshMs.
  t.equal(await servedCn(port, ca), 'moc-a');
  const next = issue(dir, ca, 'server-next', '/CN=moc-b', { server: true });
  copyFileSync(next.key, server.key);
  copyFileSync(next.cert, server.cert);
  await until(
    'the rotated certificate (CN moc-b) to be served',
    async () => (await servedCn(port, ca)) === 'moc-b',
    10_000,
    100,
  );
  t.equal(await servedCn(port, ca), 'moc-b', 'the rotated certificate is served without a restart');
  const fresh = tlsClient(port, ca);
  t.equal(await list(fresh, ADMIN), null, 'and new clients are served with it');
  fresh.close();

  // Expired: the server offers a certificate that has expired; a verifying client refuses it.
  const expired = issue(dir, ca, 'expired', '/CN=moc-old', { server: true, days: -1 });
  copyFileSync(expired.key, server.key);
  copyFileSync(expired.cert, server.cert);
  await until(
    'the expired certificate (CN moc-old) to be served',
    async () => (await servedCn(port, ca, false)) === 'moc-old',
    10_000,
    100,
  );
  const late = tlsClient(port, ca);
  const e3 = await list(late, ADMIN);
  late.close();
  t.equal(e3?.code, grpc.status.UNAVAILABLE, 'an expired server certificate: the client refuses the connection');
});

t.test('mutual TLS: a client certificate is required, verified, and maps to a role', async (t) => {
  const dir = t.testdir();
  const ca = makeCa(dir, 'ca');
  const other = makeCa(dir, 'other-ca');
  const server = issue(dir, ca, 'server', '/CN=moc', { server: true });
  const agent = issue(dir, ca, 'agent', '/CN=agent-1/O=acme');
  const stranger = issue(dir, ca, 'stranger', '/CN=stranger');
  const forged = issue(dir, other, 'forged', '/CN=agent-1/O=acme');
  const h = await startHarness(
    t,
    {
      auth: { keys: [{ role: 'admin', key: ADMIN }] },
      tls: {
        certFile: server.cert,
        keyFile: server.key,
        clientCaFile: ca.cert,
        requireClientCert: true,
        clientRoles: [{ subject: 'CN=agent-1,O=acme', role: 'infer' }],
      },
      rest: { enabled: false }, // REST cannot require client certificates (test/rest/tls-serves-json-and-sse.test.ts)
    },
    { dir },
  );
  const port = h.coordinator.grpcPort;

  const none = tlsClient(port, ca);
  t.equal((await list(none, ADMIN))?.code, grpc.status.UNAVAILABLE, 'no client certificate: refused, even with a key');
  none.close();
  const fake = tlsClient(port, ca, forged);
  t.equal((await list(fake))?.code, grpc.status.UNAVAILABLE, 'a certificate from another CA (same subject): refused');
  fake.close();

  const asAgent = tlsClient(port, ca, agent);
  t.teardown(() => asAgent.close());
  t.equal(await list(asAgent), null, 'CN=agent-1,O=acme is the infer role: served without an API key');
  const denied = await load(asAgent);
  t.equal(denied?.code, grpc.status.PERMISSION_DENIED, 'and may not do what the infer role may not');

  const asStranger = tlsClient(port, ca, stranger);
  t.teardown(() => asStranger.close());
  const e = await list(asStranger);
  t.equal(e?.code, grpc.status.UNAUTHENTICATED, 'a valid certificate no clientRoles entry names: UNAUTHENTICATED');
  t.match(e?.details, /clientRoles/);
  t.equal(await list(asStranger, ADMIN), null, 'with an API key, the key decides');
  t.equal(await list(asAgent), null, 'the server kept serving through every refusal');
});

t.test('TLS settings that cannot work are refused at start, each with its reason', async (t) => {
  const { resolveConfig } = await import('../../src/config.js');
  t.throws(() => resolveConfig({ tls: { certFile: 'a.crt' } }), /certFile and keyFile go together/);
  t.throws(() => resolveConfig({ tls: { requireClientCert: true, certFile: 'a', keyFile: 'b' } }), /set clientCaFile/);
  t.throws(() => resolveConfig({ tls: { clientCaFile: 'ca.crt' } }), /client certificates need TLS itself/);
  const ok = resolveConfig({ tls: { certFile: 'tls/a.crt', keyFile: 'tls/a.key' } }, { baseDir: '/etc/moc' });
  t.equal(ok.tls.certFile, path.join('/etc/moc', 'tls/a.crt'), 'paths are relative to the config file');
  const dir = t.testdir();
  await t.rejects(
    startHarness(t, { tls: { certFile: path.join(dir, 'none.crt'), keyFile: path.join(dir, 'none.key') } }, { dir }),
    /tls: cannot read .*none\.crt/,
    'files that cannot be read fail the start, naming them',
  );
});
