/**
 * The ZMQ ROUTER listener from Node clients (zeromq.js): 100 concurrent REQ clients, a DEALER pipelining requests,
 * every kind of bad input answered exactly once, msgpack answered in kind, a client vanishing mid-request, and
 * idempotent retries of write actions.
 */
import t from 'tap';
import * as zmq from 'zeromq';
import { pack, unpack } from 'msgpackr';
import { startHarness, until } from '../helpers/coordinator.js';

async function reqOnce(endpoint: string, msg: unknown, timeoutMs = 30_000): Promise<any> {
  const s = new zmq.Request({ linger: 0, receiveTimeout: timeoutMs });
  s.connect(endpoint);
  try {
    await s.send(typeof msg === 'string' || Buffer.isBuffer(msg) ? msg : JSON.stringify(msg));
    const [reply] = await s.receive();
    return reply![0] === 0x7b ? JSON.parse(reply!.toString()) : unpack(reply!); // answered in the request's format
  } finally {
    s.close();
  }
}

t.test('REQ and DEALER clients, concurrently', async (t) => {
  const h = await startHarness(t);
  const ep = h.zmqUrl;

  const health = await reqOnce(ep, { action: 'health' });
  t.match(health, { status: 'ok', libzmq: /^\d+\.\d+\.\d+$/, models_loaded: 1 });

  const replies = await Promise.all(
    Array.from({ length: 100 }, (_, i) =>
      reqOnce(ep, {
        action: 'infer',
        request_id: `r${i}`,
        model: 'moc-demo',
        prompt: `agent ${i}`,
        max_tokens: 4,
        temperature: 0.7,
        seed: i,
      }),
    ),
  );
  t.ok(
    replies.every((r, i) => r.status === 'ok' && r.request_id === `r${i}` && r.tokens_generated >= 1),
    '100 concurrent REQ clients, each got its own answer',
  );

  // DEALER: several requests in flight on one socket, answers matched by request_id.
  const d = new zmq.Dealer({ linger: 0, receiveTimeout: 30_000 });
  d.connect(ep);
  t.teardown(() => d.close());
  for (let i = 0; i < 10; i++)
    await d.send([
      '',
      JSON.stringify({
        action: i % 2 ? 'list_models' : 'infer',
        request_id: `d${i}`,
        model: 'moc-demo',
        prompt: 'pipelined',
        max_tokens: 3,
      }),
    ]);
  await d.send(JSON.stringify({ action: 'devices', request_id: 'no-delimiter' })); // a DEALER may omit the empty frame
  const seen = new Map<string, any>();
  while (seen.size < 11) {
    // receiveTimeout bounds each wait; say which reply did not come
    const frames = await d.receive().catch((e: Error) => {
      throw new Error(`no reply ${seen.size + 1} of 11 within 30 s (${e.message}); have ${[...seen.keys()]}`);
    });
    const r = JSON.parse(frames.at(-1)!.toString());
    seen.set(r.request_id, r);
  }
  t.ok(
    [...Array(10).keys()].every((i) => seen.get(`d${i}`)?.status === 'ok'),
    'ten pipelined requests, ten answers',
  );
  t.match(seen.get('d1'), { models: [{ name: 'moc-demo', state: 'loaded' }] });
  t.match(seen.get('no-delimiter'), { status: 'ok', devices: [{ id: 'cpu0' }] });

  const model = await reqOnce(ep, { action: 'model_status', name: 'moc-demo' });
  t.match(model, { status: 'ok', model: { name: 'moc-demo', state: 'loaded' } });

  // msgpack in, msgpack out.
  const m = new zmq.Request({ linger: 0, receiveTimeout: 30_000 });
  m.connect(ep);
  await m.send(pack({ action: 'infer', model: 'moc-demo', prompt: 'packed', max_tokens: 2, request_id: 'mp' }));
  const [packed] = await m.receive();
  m.close();
  t.match(
    unpack(packed!),
    { status: 'ok', request_id: 'mp', model: 'moc-demo' },
    'a msgpack request gets a msgpack answer',
  );
});

t.test('bad input: every request gets exactly one coded reply', async (t) => {
  const h = await startHarness(t, { zmq: { maxMessageBytes: 64 * 1024 } });
  const ep = h.zmqUrl;
  const cases: [string, unknown, string, RegExp][] = [
    ['malformed JSON', '{"action": "infer",', 'INVALID_ARGUMENT', /not valid JSON/],
    ['binary garbage', Buffer.from([0x00, 0xff, 0x13, 0x37, 0xc1]), 'INVALID_ARGUMENT', /not valid JSON/],
    ['bad msgpack', Buffer.from([0x85, 0xc1]), 'INVALID_ARGUMENT', /not valid msgpack/],
    ['a JSON array', '[1,2]', 'INVALID_ARGUMENT', /must be an object/],
    ['no action', { model: 'moc-demo' }, 'UNKNOWN_ACTION', /action: required; actions: infer/],
    ['unknown action', { action: 'explode' }, 'UNKNOWN_ACTION', /unknown action 'explode'/],
    [
      'wrong type',
      { action: 'infer', model: 'moc-demo', prompt: 'x', max_tokens: 'ten' },
      'INVALID_ARGUMENT',
      /^max_tokens: /,
    ],
    ['empty prompt', { action: 'infer', model: 'moc-demo', prompt: '' }, 'INVALID_ARGUMENT', /^prompt: /],
    ['unknown model', { action: 'infer', model: 'nope', prompt: 'x' }, 'NOT_FOUND', /not registered.*register_model/],
    ['bad request_id', { action: 'health', request_id: 42 }, 'INVALID_ARGUMENT', /^request_id: /],
    ['traversal', { action: 'load_model', name: 'x', path: '../../etc/passwd' }, 'INVALID_ARGUMENT', /contains '\.\.'/],
    [
      'oversize',
      { action: 'infer', model: 'moc-demo', prompt: 'x'.repeat(100 * 1024) },
      'TOO_LARGE',
      /zmq\.maxMessageBytes/,
    ],
  ];
  for (const [what, msg, code, re] of cases) {
    const r = await reqOnce(ep, msg);
    t.equal(r.status, 'error', `${what}: answered with an error`);
    t.equal(r.code, code, `${what}: ${r.message}`);
    t.match(r.message, re);
    t.match(r.error_code, /^MOC_ERR_/);
  }

  // Frames a REQ socket cannot send: an empty body, and two body frames.
  const d = new zmq.Dealer({ linger: 0, receiveTimeout: 10_000 });
  d.connect(ep);
  t.teardown(() => d.close());
  await d.send(['', '']);
  t.match(JSON.parse((await d.receive()).at(-1)!.toString()), {
    status: 'error',
    code: 'INVALID_ARGUMENT',
    message: /is empty/,
  });
  await d.send(['', '{"action":"health"}', '{"action":"health"}']);
  t.match(JSON.parse((await d.receive()).at(-1)!.toString()), {
    status: 'error',
    message: /2 frames after the envelope/,
  });

  t.match(await reqOnce(ep, { action: 'health' }), { status: 'ok' }, 'still serving');
});

t.test('a client that vanishes before its reply costs nothing', async (t) => {
  const h = await startHarness(t);
  const zmqT = h.coordinator.zmq!;
  for (let i = 0; i < 20; i++) {
    const d = new zmq.Dealer({ linger: 2000 }); // linger: the request still goes out, then the socket is gone
    d.connect(h.zmqUrl);
    await d.send([
      '',
      JSON.stringify({
        action: 'infer',
        model: 'moc-demo',
        prompt: `gone ${i}`,
        max_tokens: 32,
        temperature: 0.5,
        seed: i,
      }),
    ]);
    d.close();
  }
  await until('the server to receive the 20 requests', async () => zmqT.stats.received >= 20);
  t.equal(zmqT.stats.received, 20, 'the server received every request');
  await until('nothing left in flight', async () => zmqT.stats.inFlight === 0);
  t.equal(zmqT.stats.inFlight, 0, 'nothing left in flight');
  t.ok(zmqT.stats.undeliverable >= 1, `${zmqT.stats.undeliverable} replies counted undeliverable, not retried`);
  t.match(
    await reqOnce(h.zmqUrl, { action: 'infer', model: 'moc-demo', prompt: 'next', max_tokens: 2 }),
    { status: 'ok' },
    'the next client is served',
  );
});

t.test('a write re-sent with the same request_id acts once (Lazy Pirate retries)', async (t) => {
  const h = await startHarness(t);
  const ep = h.zmqUrl;
  const load = { action: 'load_model', request_id: 'load-1', name: 'copy', path: 'moc-demo.gguf', keep_alive_ms: -1 };
  const [a, b] = await Promise.all([reqOnce(ep, load), reqOnce(ep, load)]); // the retry arrives while the first runs
  t.equal(a.status, 'ok');
  t.same(b, a, 'a concurrent retry gets the same answer');
  const unload = { action: 'unload_model', request_id: 'unload-1', name: 'copy' };
  const first = await reqOnce(ep, unload);
  t.match(first, { status: 'ok', name: 'copy' });
  t.ok(first.freed_bytes > 0);
  const again = await reqOnce(ep, unload); // a new socket, as a Lazy Pirate client opens after a timeout
  t.same(again, first, 'the retry gets the first answer, not NOT_FOUND from a second unload');
  const fresh = await reqOnce(ep, { ...unload, request_id: 'unload-2' });
  t.match(fresh, { status: 'error', code: 'NOT_FOUND' }, 'a new request_id acts again');
});

t.test('API keys and roles apply on ZMQ as on gRPC and REST', async (t) => {
  const ADMIN = 'zmq-admin-key-0123456789';
  const INFER = 'zmq-infer-key-0123456789';
  const h = await startHarness(t, {
    auth: {
      keys: [
        { role: 'admin', key: ADMIN },
        { role: 'infer', key: INFER },
      ],
    },
  });
  const ep = h.zmqUrl;
  t.match(await reqOnce(ep, { action: 'health' }), { status: 'ok' }, 'health stays public');
  t.match(await reqOnce(ep, { action: 'list_models' }), {
    status: 'error',
    code: 'UNAUTHENTICATED',
    message: /requires an API key/,
  });
  const wrong = await reqOnce(ep, { action: 'list_models', api_key: 'not-a-key-of-this-server' });
  t.match(wrong, { status: 'error', code: 'UNAUTHENTICATED' });
  t.notMatch(JSON.stringify(wrong), /not-a-key-of-this-server/, 'the presented key is not echoed');
  t.match(await reqOnce(ep, { action: 'infer', api_key: INFER, model: 'moc-demo', prompt: 'hi', max_tokens: 2 }), {
    status: 'ok',
  });
  t.match(await reqOnce(ep, { action: 'list_models', api_key: INFER }), { status: 'ok' });
  t.match(await reqOnce(ep, { action: 'unload_model', api_key: INFER, name: 'moc-demo' }), {
    status: 'error',
    code: 'PERMISSION_DENIED',
    message: /needs the admin role/,
  });
  t.match(await reqOnce(ep, { action: 'load_model', api_key: ADMIN, name: 'moc-demo' }), {
    status: 'ok',
    model: { state: 'loaded' },
  });
});

t.test('overload: a full queue answers BUSY with a retry hint, every request still gets its reply', async (t) => {
  const h = await startHarness(t, { devices: [{ id: 'cpu0', memory: '1GiB', maxQueue: 1 }] });
  const d = new zmq.Dealer({ linger: 0, receiveTimeout: 60_000 });
  d.connect(h.zmqUrl);
  t.teardown(() => d.close());
  for (let i = 0; i < 40; i++) {
    await d.send([
      '',
      JSON.stringify({
        action: 'infer',
        request_id: `b${i}`,
        model: 'moc-demo',
        prompt: `burst ${i}`,
        max_tokens: 48,
        temperature: 0.5,
        seed: i,
      }),
    ]);
  }
  const replies: any[] = [];
  while (replies.length < 40) {
    const frames = await d.receive().catch((e: Error) => {
      throw new Error(`no reply ${replies.length + 1} of 40 within 60 s (${e.message})`);
    });
    replies.push(JSON.parse(frames.at(-1)!.toString()));
  }
  const busy = replies.filter((r) => r.code === 'BUSY');
  t.equal(new Set(replies.map((r) => r.request_id)).size, 40, 'forty requests, forty replies');
  t.ok(busy.length > 0, `${busy.length} answered BUSY`);
  t.ok(
    busy.every((r) => r.retryable === true && r.retry_after_ms > 0 && /retry after/.test(r.message)),
    'with a retry hint',
  );
  t.equal(replies.filter((r) => r.status === 'ok').length + busy.length, 40, 'the rest were served');
});
