/**
 * auth.jwt: bearer JWTs verified with jose against a JWKS file or URL, on REST, gRPC and ZMQ. Of valid, expired,
 * wrong signature, unknown kid, `alg: none`, wrong audience and an HMAC token, only the first passes — each refusal
 * says why, and the server keeps serving. A static key still works beside them; the role claim decides what a token
 * may do; a rotated JWKS file is picked up without a restart.
 */
import t from 'tap';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { startHarness } from '../helpers/coordinator.js';
import { zmqRequest } from '../helpers/zmq.js';
import { KeyRing } from '../../src/auth/keys.js';
import { resolveConfig } from '../../src/config.js';
import { ManualClock } from '../../src/kernel/clock.js';

const ISS = 'https://idp.example.test';
const AUD = 'moc';
const STATIC = 'static-admin-key-0123456789';

interface Signer {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  jwk: JWK;
}
async function signer(kid: string, alg = 'ES256'): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}
function token(
  s: Signer,
  claims: Record<string, unknown> = {},
  o: { exp?: string | number; aud?: string; kid?: string } = {},
): Promise<string> {
  return new SignJWT({ role: 'infer', ...claims })
    .setProtectedHeader({ alg: s.alg, kid: o.kid ?? s.kid })
    .setIssuer(ISS)
    .setAudience(o.aud ?? AUD)
    .setSubject('agent-7')
    .setIssuedAt()
    .setExpirationTime(o.exp ?? '5m')
    .sign(s.privateKey);
}
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const jwks = (...s: Signer[]) => JSON.stringify({ keys: s.map((x) => x.jwk) });

t.test('REST, gRPC and ZMQ: only a valid token passes; each refusal says why', async (t) => {
  const k1 = await signer('k1');
  const other = await signer('k1'); // same kid, another key: a forged signature
  // Not t.testdir(): the harness takes that one over (and empties it).
  const dir = mkdtempSync(path.join(tmpdir(), 'moc-jwks-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const jwksFile = path.join(dir, 'jwks.json');
  writeFileSync(jwksFile, jwks(k1));
  // What the verifier counts time on (remembered tokens, when the JWKS file is looked at again): moved by the test.
  const clock = new ManualClock();
  const h = await startHarness(
    t,
    { auth: { keys: [{ role: 'admin', key: STATIC }], jwt: { jwksFile, issuer: ISS, audience: AUD } } },
    { clock },
  );

  const now = Math.floor(Date.now() / 1000);
  const valid = await token(k1);
  const cases: [string, string, RegExp][] = [
    ['expired', await token(k1, {}, { exp: now - 600 }), /has expired/],
    ['wrong signature', await token(other), /signature does not verify/],
    ['unknown kid', await token(k1, {}, { kid: 'k9' }), /no key in the configured JWKS matches/],
    [
      'alg none',
      `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ role: 'admin', iss: ISS, aud: AUD, sub: 'x', exp: now + 300 })}.`,
      /algorithm is not in auth\.jwt\.algorithms|not a valid signed JWT/,
    ],
    [
      'HMAC with the public key as secret',
      await new SignJWT({ role: 'admin' })
        .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
        .setIssuer(ISS)
        .setAudience(AUD)
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(JSON.stringify(k1.jwk))),
      /algorithm is not in auth\.jwt\.algorithms/,
    ],
    ['wrong audience', await token(k1, {}, { aud: 'another-service' }), /'aud' claim is not accepted/],
    ['no role', await token(k1, { role: 'superuser' }), /'role' claim names no role/],
  ];

  const list = (cred: string) => fetch(`${h.restUrl}/v1/models`, { headers: { authorization: `Bearer ${cred}` } });
  const ok = await list(valid);
  t.equal(ok.status, 200, 'REST: a valid token is served');
  t.equal((await list(valid)).status, 200, 'and again (remembered)');
  for (const [name, tok, why] of cases) {
    const r = await list(tok);
    const body = (await r.json()) as any;
    t.equal(r.status, 401, `REST ${name}: 401`);
    t.equal(body.error?.code, 'MOC_ERR_UNAUTHENTICATED', `REST ${name}: MOC_ERR_UNAUTHENTICATED`);
    t.match(body.error?.message, why, `REST ${name}: says why (${body.error?.message})`);
  }
  // A body read while its token is verified: a fresh token (not remembered) on a POST.
  const fresh = await token(k1, { jti: 'post' });
  const inf = await fetch(`${h.restUrl}/v1/infer`, {
    method: 'POST',
    headers: { authorization: `Bearer ${fresh}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'moc-demo', prompt: 'hello', max_tokens: 4, temperature: 0 }),
  });
  t.equal(inf.status, 200, 'REST POST /v1/infer with a token seen for the first time');
  t.equal(((await inf.json()) as any).tokens_generated, 4);
  const badPost = await fetch(`${h.restUrl}/v1/infer`, {
    method: 'POST',
    headers: { authorization: `Bearer ${cases[0]![1]}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'moc-demo', prompt: 'hello', max_tokens: 4 }),
  });
  t.equal(badPost.status, 401, 'REST POST with an expired token: 401');
  await badPost.arrayBuffer();
  // The role claim decides: an infer token may not load models.
  const load = await fetch(`${h.restUrl}/v1/models/moc-demo/load`, {
    method: 'POST',
    headers: { authorization: `Bearer ${valid}`, 'content-type': 'application/json' },
    body: '{}',
  });
  t.equal(load.status, 403, 'an infer token on an admin route: 403');
  t.match(((await load.json()) as any).error.message, /needs the admin role; this key has the infer role/);
  const admin = await token(k1, { role: ['viewer', 'admin'] });
  t.equal(
    (
      await fetch(`${h.restUrl}/v1/models/moc-demo/load`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: '{}',
      })
    ).status,
    200,
    'a role claim listing admin: may load',
  );
  t.equal((await list(STATIC)).status, 200, 'a static key still works beside JWTs');

  // gRPC: the same tokens in metadata.
  const call = (cred: string, m: 'ListModels' | 'Infer' = 'ListModels', req: object = {}) =>
    new Promise<grpc.ServiceError | null>((resolve) => {
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${cred}`);
      h.client[m](req, md, { deadline: Date.now() + 20_000 }, (e: grpc.ServiceError | null) => resolve(e));
    });
  t.equal(await call(await token(k1, { jti: 'grpc' })), null, 'gRPC: a token seen for the first time is served');
  t.equal(
    await call(valid, 'Infer', { model: 'moc-demo', prompt: 'hi', max_tokens: 2 }),
    null,
    'gRPC Infer with a valid token',
  );
  for (const [name, tok, why] of cases) {
    const e = await call(tok);
    t.equal(e?.code, grpc.status.UNAUTHENTICATED, `gRPC ${name}: UNAUTHENTICATED`);
    t.match(e?.details, why, `gRPC ${name}: says why`);
  }

  // ZMQ: the token in api_key.
  t.match(
    await zmqRequest(h.zmqUrl, { action: 'list_models', api_key: await token(k1, { jti: 'zmq' }) }),
    { status: 'ok' },
    'ZMQ: a valid token is served',
  );
  for (const [name, tok, why] of cases) {
    const z = await zmqRequest(h.zmqUrl, { action: 'list_models', api_key: tok, request_id: name });
    t.match(z, { status: 'error', code: 'UNAUTHENTICATED', request_id: name }, `ZMQ ${name}: UNAUTHENTICATED`);
    t.match(z.message, why, `ZMQ ${name}: says why`);
  }

  // Rotation: a new key added to the file is used without a restart (a kid the file lacks makes it look again).
  const k2 = await signer('k2', 'EdDSA');
  const byK2 = await token(k2);
  t.equal((await list(byK2)).status, 401, 'k2 before it is in the JWKS: refused');
  writeFileSync(jwksFile, jwks(k1, k2));
  t.equal((await list(byK2)).status, 401, 'within a second of the last look, the file is not read again');
  clock.advance(1100); // an unknown kid makes the verifier look at the file again, at most once a second
  t.equal((await list(byK2)).status, 200, 'k2 after the JWKS file gained it: served, no restart');
  t.equal((await list(await token(k1, { jti: 'after' }))).status, 200, 'k1 still served');

  const metrics = await (
    await fetch(`${h.restUrl}/metrics`, { headers: { authorization: `Bearer ${STATIC}` } })
  ).text();
  t.match(
    metrics,
    /moc_requests_total\{transport="rest",operation="list-models",code="MOC_ERR_UNAUTHENTICATED"\} \d+/,
    'refusals are counted',
  );
});

t.test('a JWKS URL: fetched, cached, and a token it cannot verify refused', async (t) => {
  const k1 = await signer('url-1', 'RS256');
  let fetches = 0;
  const idp = createServer((_req, res) => {
    fetches++;
    res.setHeader('content-type', 'application/json');
    res.end(jwks(k1));
  });
  await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
  t.teardown(() => idp.close());
  const jwksUrl = `http://127.0.0.1:${(idp.address() as { port: number }).port}/jwks.json`;
  const h = await startHarness(t, {
    auth: { jwt: { jwksUrl, issuer: ISS, audience: AUD, roleClaim: 'groups', roles: { 'moc-agents': 'infer' } } },
  });
  const list = (cred?: string) =>
    fetch(`${h.restUrl}/v1/models`, { headers: cred ? { authorization: `Bearer ${cred}` } : {} });
  for (let i = 0; i < 5; i++)
    t.equal(
      (await list(await token(k1, { groups: ['staff', 'moc-agents'], jti: `n${i}` }))).status,
      200,
      `token ${i}: served`,
    );
  t.equal(fetches, 1, 'the JWKS was fetched once for five tokens');
  t.equal((await list(await token(k1, { groups: ['staff'] }))).status, 401, 'a groups claim mapping to no role: 401');
  const none = await list();
  t.equal(none.status, 401, 'no credential: 401');
  t.equal(((await none.json()) as any).error.code, 'MOC_ERR_UNAUTHENTICATED');
  const stranger = await signer('url-1', 'RS256');
  t.equal(
    (await list(await token(stranger, { groups: ['moc-agents'] }))).status,
    401,
    'signed by a key the URL does not publish: 401',
  );
});

t.test('a JWKS URL that does not answer: retry later (503), not a refusal of the token', async (t) => {
  const k1 = await signer('down-1');
  // Port 9 (discard) on loopback: nothing listens, the fetch is refused.
  const h = await startHarness(t, {
    auth: { jwt: { jwksUrl: 'http://127.0.0.1:9/jwks.json', issuer: ISS, audience: AUD } },
  });
  const r = await fetch(`${h.restUrl}/v1/models`, { headers: { authorization: `Bearer ${await token(k1)}` } });
  t.equal(r.status, 503, '503');
  const e = ((await r.json()) as any).error;
  t.equal(e.code, 'MOC_ERR_UNAVAILABLE');
  t.match(e.message, /the JWKS URL \(auth\.jwt\.jwksUrl\) could not be read/);
  t.ok(r.headers.get('retry-after'), 'with Retry-After');
});

t.test('the key ring: a token is verified once, then answered at once; principal named after sub', async (t) => {
  const k1 = await signer('k1');
  const dir = t.testdir({ 'jwks.json': jwks(k1) });
  let now = Date.now();
  const cfg = resolveConfig({ auth: { jwt: { jwksFile: 'jwks.json', issuer: ISS, audience: AUD } } }, { baseDir: dir });
  const keys = KeyRing.fromConfig(cfg, {}, () => now);
  t.notOk(keys.open, 'JWT alone is not the open mode');
  const tok = await token(k1, {}, { exp: '2m' });
  const first = keys.check(tok, 'infer');
  t.ok(first instanceof Promise, 'first sight: verified asynchronously');
  t.same(await first, { role: 'infer', name: 'jwt:agent-7' });
  t.same(keys.check(tok, 'infer'), { role: 'infer', name: 'jwt:agent-7' }, 'then decided at once');
  now += 61_000;
  t.ok(keys.check(tok, 'infer') instanceof Promise, 'remembered at most a minute, then verified again');
  t.throws(
    () => keys.authenticate('x.y.z'),
    { code: 'MOC_ERR_UNAUTHENTICATED' },
    'authenticate() never verifies; an unseen token is refused',
  );
});

t.test('config: what JWT needs, refused at start with the reason', async (t) => {
  const bad = (jwt: object) => {
    try {
      resolveConfig({ auth: { jwt } });
      return '';
    } catch (e) {
      return (e as Error).message;
    }
  };
  t.match(bad({ jwksUrl: 'https://idp/jwks' }), /issuer: required.*audience: required/s);
  t.match(bad({ jwksUrl: 'http://idp.example.com/jwks', issuer: ISS, audience: AUD }), /must be https/);
  t.equal(
    bad({ jwksUrl: 'http://127.0.0.1:9/jwks', issuer: ISS, audience: AUD }),
    '',
    'plain http on loopback is allowed',
  );
  t.match(bad({ jwksUrl: 'https://a/jwks', jwksFile: 'x.json', issuer: ISS, audience: AUD }), /not both/);
  t.match(bad({ jwksUrl: 'https://a/jwks', issuer: ISS, audience: AUD, algorithms: ['HS256'] }), /algorithms/);
  const dir = t.testdir({ 'broken.json': '{"keys": [' });
  t.throws(
    () =>
      KeyRing.fromConfig(
        resolveConfig({ auth: { jwt: { jwksFile: 'broken.json', issuer: ISS, audience: AUD } } }, { baseDir: dir }),
      ),
    { code: 'MOC_ERR_INVALID_ARGUMENT', message: /auth\.jwt\.jwksFile: cannot use .*broken\.json/ },
  );
  t.throws(
    () =>
      KeyRing.fromConfig(
        resolveConfig({ auth: { jwt: { jwksFile: 'missing.json', issuer: ISS, audience: AUD } } }, { baseDir: dir }),
      ),
    { message: /cannot use .*missing\.json/ },
  );
});
