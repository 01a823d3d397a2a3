/**
 * A field nested 100k levels deep (a few hundred KB of `[`) is INVALID_ARGUMENT on REST, on ZMQ in JSON and in
 * msgpack, and the server keeps serving: no 500, no crashed router actor. It used to overflow the stack in
 * validation (JSON.stringify of the refused value) or in msgpackr's recursive reader.
 */
import t from 'tap';
import * as zmq from 'zeromq';
import { unpack } from 'msgpackr';
import { startHarness } from '../helpers/coordinator.js';

const LEVELS = 100_000;
/** Built as text, not as an object: building and serialising the object would itself need the deep recursion. */
const deepJson = (levels: number) =>
  `{"action":"infer","model":"moc-demo","prompt":${'['.repeat(levels)}${']'.repeat(levels)}}`;

/** msgpack by hand: {action: "infer", model: "moc-demo", prompt: [[[ … nil … ]]]} with 0x91 = fixarray of one. */
function deepMsgpack(levels: number): Buffer {
  const str = (s: string) => Buffer.concat([Buffer.from([0xa0 | s.length]), Buffer.from(s)]);
  return Buffer.concat([
    Buffer.from([0x83]),
    str('action'),
    str('infer'),
    str('model'),
    str('moc-demo'),
    str('prompt'),
    Buffer.alloc(levels, 0x91),
    Buffer.from([0xc0]),
  ]);
}

async function zmqOnce(endpoint: string, payload: string | Buffer): Promise<any> {
  const s = new zmq.Request({ linger: 0, receiveTimeout: 30_000 });
  s.connect(endpoint);
  try {
    await s.send(payload);
    const [reply] = await s.receive();
    return reply![0] === 0x7b ? JSON.parse(reply!.toString()) : unpack(reply!);
  } finally {
    s.close();
  }
}

t.test('deeply nested requests are INVALID_ARGUMENT and the server keeps serving', async (t) => {
  const h = await startHarness(t);
  // The router actor reports a crash (a non-coded error out of receive()) through onCrash: count them.
  const router = h.coordinator.router as unknown as { opts: { onCrash?: (e: Error) => void } };
  const crashes: Error[] = [];
  const onCrash = router.opts.onCrash;
  router.opts.onCrash = (e) => {
    crashes.push(e);
    onCrash?.(e);
  };

  const body = deepJson(LEVELS).replace('"action":"infer",', '');
  const r = await fetch(`${h.restUrl}/v1/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  const rb = (await r.json()) as any;
  t.equal(r.status, 400, `REST: 400 (${rb.error?.code}: ${rb.error?.message?.slice(0, 200)})`);
  t.match(rb, { error: { code: 'MOC_ERR_INVALID_ARGUMENT', message: /^prompt: nests deeper than 32 levels/ } });

  const zj = await zmqOnce(h.zmqUrl, deepJson(LEVELS));
  t.match(
    zj,
    { status: 'error', code: 'INVALID_ARGUMENT', message: /^prompt: nests deeper than 32 levels/ },
    `ZMQ JSON: ${zj.message?.slice(0, 200)}`,
  );

  const zm = await zmqOnce(h.zmqUrl, deepMsgpack(LEVELS));
  t.match(
    zm,
    { status: 'error', code: 'INVALID_ARGUMENT', message: /nests deeper than 32 levels/ },
    `ZMQ msgpack: ${zm.message?.slice(0, 200)}`,
  );
  // 40 levels: shallow enough for msgpackr, still refused (by the same rule as JSON).
  const zm40 = await zmqOnce(h.zmqUrl, deepMsgpack(40));
  t.match(
    zm40,
    { status: 'error', code: 'INVALID_ARGUMENT', message: /nests deeper than 32 levels/ },
    `ZMQ msgpack, 40 levels: ${zm40.message?.slice(0, 200)}`,
  );

  t.same(
    crashes.map((e) => e.message),
    [],
    'the router actor did not crash',
  );
  t.match(
    await h.coordinator.router.ask({ kind: 'list-models', request: {} }, { timeoutMs: 10_000 }),
    { models: [{ name: 'moc-demo' }] },
    'the router answers',
  );
  const ok = await fetch(`${h.restUrl}/v1/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'moc-demo', prompt: 'after', max_tokens: 2 }),
  });
  t.equal(ok.status, 200, 'REST still serves');
  t.match(
    await zmqOnce(h.zmqUrl, JSON.stringify({ action: 'infer', model: 'moc-demo', prompt: 'after', max_tokens: 2 })),
    { status: 'ok' },
    'ZMQ still serves',
  );
  // A normal request still nests two levels (stop is an array): the limit does not touch it.
  t.match(
    await zmqOnce(
      h.zmqUrl,
      JSON.stringify({ action: 'infer', model: 'moc-demo', prompt: 'x', max_tokens: 2, stop: ['\n'] }),
    ),
    { status: 'ok' },
  );
});
