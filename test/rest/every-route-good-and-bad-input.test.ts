/**
 * The REST API against a real coordinator (uWS listener, device worker, engine process, demo model): every route
 * with good input, then the bad-input list — each answered with the one error shape, and the server keeps serving.
 */
import t from 'tap';
import net from 'node:net';
import { startHarness } from '../helpers/coordinator.js';

const json = (o: unknown) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(o),
});

/** One raw HTTP/1.1 exchange, for requests fetch refuses to send (bad methods, huge headers). */
function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.end(text));
    let out = '';
    s.on('data', (d) => {
      out += d.toString('latin1');
    });
    s.on('end', () => resolve(out));
    s.on('close', () => resolve(out));
    s.on('error', reject);
  });
}

t.test('every route with good input', async (t) => {
  const h = await startHarness(t);
  const u = (p: string) => h.restUrl + p;

  let r = await fetch(u('/health/live'));
  t.equal(r.status, 200);
  t.same(await r.json(), { status: 'ok' });
  t.equal(r.headers.get('x-content-type-options'), 'nosniff', 'security headers');
  t.equal(r.headers.get('cache-control'), 'no-store');

  r = await fetch(u('/health/ready'));
  t.equal(r.status, 200);
  t.match(await r.json(), { status: 'ready', models_loaded: 1, devices: [{ id: 'cpu0', available: true }] });

  r = await fetch(u('/v1/models'));
  const list = (await r.json()) as any;
  t.equal(r.status, 200);
  t.match(list.models, [{ name: 'moc-demo', state: 'loaded', device: 'cpu0', architecture: 'llama' }]);
  t.match(list.models[0].sha256, /^[0-9a-f]{64}$/);

  r = await fetch(u('/v1/models/moc-demo'));
  t.match(await r.json(), { name: 'moc-demo', state: 'loaded' });

  r = await fetch(u('/v1/models'), json({ name: 'copy', path: 'moc-demo.gguf', keep_alive_ms: -1 }));
  t.equal(r.status, 201, 'register → 201');
  t.match(await r.json(), { name: 'copy', state: 'registered' });

  r = await fetch(u('/v1/models/copy/load'), json({ sequences: 2 }));
  t.equal(r.status, 200);
  t.match(await r.json(), { name: 'copy', state: 'loaded', sequences: 2 });

  r = await fetch(u('/v1/models/copy/pin'), json({ pinned: true }));
  t.match(await r.json(), { name: 'copy', pinned: true });

  r = await fetch(u('/v1/aliases/chat'), { ...json({ target: 'copy' }), method: 'PUT' });
  t.same(await r.json(), { alias: 'chat', target: 'copy', previous: '' });
  r = await fetch(u('/v1/models/chat'));
  t.match(await r.json(), { name: 'copy' }, 'a model is found by its alias');

  r = await fetch(u('/v1/infer'), json({ model: 'chat', prompt: 'Hello', max_tokens: 4, temperature: 0 }));
  const out = (await r.json()) as any;
  t.equal(r.status, 200);
  t.match(out, { model: 'copy', device: 'cpu0', tokens_generated: Number, finish_reason: /^(length|eos)$/ });
  t.ok(out.tokens_generated >= 1 && typeof out.text === 'string');

  r = await fetch(
    u('/v1/infer'),
    json({ model: 'moc-demo', prompt: 'Hello', max_tokens: 16, temperature: 0, stream: true }),
  );
  t.equal(r.status, 200);
  t.match(r.headers.get('content-type'), /^text\/event-stream/);
  const text = await r.text();
  const events = [...text.matchAll(/event: (\w+)\ndata: (.*)\n\n/g)].map((m) => [m[1], JSON.parse(m[2]!)] as const);
  const tokens = events.filter(([e]) => e === 'token');
  const done = events.find(([e]) => e === 'done')?.[1];
  t.ok(tokens.length >= 1, `${tokens.length} token events`);
  // A token may decode to no text of its own (a partial UTF-8 byte): it is counted but sends no event.
  t.ok(done?.tokens_generated >= tokens.length, 'done carries the full response');
  t.equal(tokens.map(([, d]) => d.text).join(''), done?.text, 'the tokens add up to the text');

  r = await fetch(u('/v1/devices'));
  const dev = ((await r.json()) as any).devices[0];
  t.match(dev, { id: 'cpu0', available: true, memory: { hard_limit: Number, reserved: Number } });
  t.ok(dev.models.some((m: any) => m.name === 'copy'));

  r = await fetch(u('/v1/models/copy/pin'), json({ pinned: false }));
  r = await fetch(u('/v1/models/copy/unload'), { method: 'POST' });
  t.match(await r.json(), { name: 'copy', freed_bytes: Number });

  r = await fetch(u('/openapi.json'));
  t.equal(((await r.json()) as any).openapi, '3.1.0');
});

t.test('bad input: each gets a coded error that says what to do, and the server keeps serving', async (t) => {
  const h = await startHarness(t, { rest: { corsOrigins: ['https://ops.example'] } });
  const u = (p: string) => h.restUrl + p;
  const port = Number(new URL(h.restUrl).port);
  const expectError = async (what: string, res: Response, status: number, code: string, msg?: RegExp) => {
    const body = (await res.json()) as any;
    t.equal(res.status, status, `${what} → ${status}`);
    t.equal(body.error?.code, code, `${what}: ${body.error?.message}`);
    t.type(body.error?.details, 'object');
    if (msg) t.match(body.error.message, msg);
    return body;
  };

  await expectError(
    'missing prompt',
    await fetch(u('/v1/infer'), json({ model: 'moc-demo' })),
    400,
    'MOC_ERR_INVALID_ARGUMENT',
    /^prompt: /,
  );
  await expectError(
    'wrong type',
    await fetch(u('/v1/infer'), json({ model: 'moc-demo', prompt: 'x', max_tokens: 'ten' })),
    400,
    'MOC_ERR_INVALID_ARGUMENT',
    /^max_tokens: /,
  );
  await expectError(
    'unknown field',
    await fetch(u('/v1/infer'), json({ model: 'moc-demo', prompt: 'x', bogus: 1 })),
    400,
    'MOC_ERR_INVALID_ARGUMENT',
  );
  await expectError(
    'a JSON array',
    await fetch(u('/v1/infer'), json([1, 2])),
    400,
    'MOC_ERR_INVALID_ARGUMENT',
    /^body: /,
  );
  await expectError(
    'bad JSON',
    await fetch(u('/v1/infer'), { method: 'POST', body: '{"model": "moc-demo", ' }),
    400,
    'MOC_ERR_INVALID_ARGUMENT',
    /not valid JSON/,
  );
  await expectError(
    'unknown model',
    await fetch(u('/v1/infer'), json({ model: 'nope', prompt: 'x' })),
    404,
    'MOC_ERR_MODEL_NOT_FOUND',
  );
  await expectError(
    'max_tokens over the context',
    await fetch(u('/v1/infer'), json({ model: 'moc-demo', prompt: 'x', max_tokens: 100000 })),
    400,
    'MOC_ERR_INVALID_ARGUMENT',
    /^max_tokens: .*context/,
  );
  await expectError('unknown model by name', await fetch(u('/v1/models/nope')), 404, 'MOC_ERR_MODEL_NOT_FOUND');
  await expectError(
    'register with a traversal path',
    await fetch(u('/v1/models'), json({ name: 'x', path: '../etc/passwd' })),
    400,
    'MOC_ERR_INVALID_ARGUMENT',
  );
  await expectError(
    'register with a bad name',
    await fetch(u('/v1/models/bad%2Fname/load'), json({})),
    400,
    'MOC_ERR_INVALID_ARGUMENT',
    /^name: /,
  );

  const big = JSON.stringify({ model: 'moc-demo', prompt: 'x'.repeat(2 * 1024 * 1024) });
  await expectError(
    'a 2 MB body',
    await fetch(u('/v1/infer'), { method: 'POST', body: big }),
    413,
    'MOC_ERR_TOO_LARGE',
    /rest\.maxBodyBytes/,
  );
  // Chunked (no content-length): the cap is enforced while reading, not only from the declared length.
  const chunked = new ReadableStream({
    start(c) {
      for (let i = 0; i < 40; i++) c.enqueue(new TextEncoder().encode('x'.repeat(64 * 1024)));
      c.close();
    },
  });
  await expectError(
    'a 2.5 MB chunked body',
    await fetch(u('/v1/infer'), { method: 'POST', body: chunked, duplex: 'half' } as RequestInit),
    413,
    'MOC_ERR_TOO_LARGE',
  );

  await expectError('unknown route', await fetch(u('/v2/nothing')), 404, 'MOC_ERR_NOT_IMPLEMENTED', /openapi\.json/);
  const wrong = await fetch(u('/v1/models'), { method: 'DELETE' });
  t.equal(wrong.headers.get('allow'), 'GET, POST', 'Allow lists the methods the path takes');
  await expectError('wrong method', wrong, 405, 'MOC_ERR_METHOD_NOT_ALLOWED');
  await expectError('a 5 kB URL', await fetch(u(`/v1/models/${'a'.repeat(5000)}`)), 414, 'MOC_ERR_URL_TOO_LONG');
  await expectError(
    'a 9 kB header',
    await fetch(u('/v1/models'), { headers: { 'x-junk': 'j'.repeat(9000) } }),
    431,
    'MOC_ERR_HEADERS_TOO_LARGE',
  );

  // CORS: an allowed origin gets its headers and a preflight; another origin is refused.
  const pre = await fetch(u('/v1/infer'), {
    method: 'OPTIONS',
    headers: { origin: 'https://ops.example', 'access-control-request-method': 'POST' },
  });
  t.equal(pre.status, 204);
  t.equal(pre.headers.get('access-control-allow-origin'), 'https://ops.example');
  t.match(pre.headers.get('access-control-allow-methods'), /POST/);
  const ok = await fetch(u('/v1/models'), { headers: { origin: 'https://ops.example' } });
  t.equal(ok.headers.get('access-control-allow-origin'), 'https://ops.example');
  await expectError(
    'a foreign origin',
    await fetch(u('/v1/models'), { headers: { origin: 'https://evil.example' } }),
    403,
    'MOC_ERR_PERMISSION_DENIED',
    /rest\.corsOrigins/,
  );

  // Garbage on the socket: uWS answers or closes; the process stays up.
  await raw(port, 'THIS IS NOT HTTP\r\n\r\n');
  await raw(port, 'POST /v1/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{"mod');

  const after = await fetch(
    u('/v1/infer'),
    json({ model: 'moc-demo', prompt: 'still here', max_tokens: 2, temperature: 0 }),
  );
  t.equal(after.status, 200, 'the server still serves');
});
