/**
 * Numbers JSON can write but JavaScript cannot hold as written. `1e309` parses to Infinity: the refusal says "a
 * number out of range", not "(got null)" (what JSON.stringify makes of Infinity). `-0` is 0 in every field: the
 * validator turns it into 0 before checking, so no field takes it differently from 0 (src/nesting.ts). A msgpack
 * 64-bit integer (msgpackr reads it as a BigInt) is a number when it fits, else refused as out of range.
 */
import t from 'tap';
import * as zmq from 'zeromq';
import { unpack } from 'msgpackr';
import { validate } from '../../src/validate.js';
import { InferRequest } from '../../schemas/messages.js';
import { startHarness } from '../helpers/coordinator.js';

const post = (body: string) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body });

t.test('1e309 is refused as a number out of range', async (t) => {
  const h = await startHarness(t);
  for (const field of ['temperature', 'max_tokens', 'seed', 'keep_alive_ms']) {
    const r = await fetch(`${h.restUrl}/v1/infer`, post(`{"model":"moc-demo","prompt":"hi","${field}":1e309}`));
    const body = (await r.json()) as any;
    t.equal(r.status, 400, `${field}: 400`);
    t.equal(body.error.code, 'MOC_ERR_INVALID_ARGUMENT');
    t.match(body.error.message, new RegExp(`^${field}: .*\\(got a number out of range\\)`), body.error.message);
    t.notMatch(body.error.message, /got null/);
  }

  // -0 gets the answer 0 gets, field by field (accepted where 0 is, refused with the same message where it is not).
  const cases: [string, string][] = [
    ['temperature', '0'],
    ['max_tokens', '0'],
    ['seed', '0'],
    ['priority', '0'],
    ['keep_alive_ms', '0'],
  ];
  for (const [field, zero] of cases) {
    const answer = async (v: string) => {
      const r = await fetch(
        `${h.restUrl}/v1/infer`,
        post(`{"model":"moc-demo","prompt":"hi","max_tokens":2,"seed":1,"${field}":${v}}`),
      );
      const b = (await r.json()) as any;
      return { status: r.status, message: b.error?.message ?? 'ok' };
    };
    const [neg, pos] = [await answer(`-${zero}`), await answer(zero)];
    t.same(neg, pos, `${field}: -0 is answered as 0 (${pos.status} ${pos.message})`);
  }
});

t.test('the validator hands every field -0 as 0', async (t) => {
  const v = validate(InferRequest, {
    model: 'moc-demo',
    prompt: 'hi',
    temperature: -0,
    seed: -0,
    priority: -0,
    keep_alive_ms: -0,
  });
  for (const f of ['temperature', 'seed', 'priority', 'keep_alive_ms'] as const)
    t.ok(Object.is(v[f], 0), `${f}: 0, not -0`);
});

/** msgpack {action: "infer", model: "moc-demo", prompt: "hi", max_tokens: <uint64 n>}, by hand (0xcf = uint64). */
function withUint64MaxTokens(n: bigint): Buffer {
  const str = (x: string) => Buffer.concat([Buffer.from([0xa0 | x.length]), Buffer.from(x)]);
  const u64 = Buffer.alloc(9);
  u64[0] = 0xcf;
  u64.writeBigUInt64BE(n, 1);
  return Buffer.concat([
    Buffer.from([0x84]),
    str('action'),
    str('infer'),
    str('model'),
    str('moc-demo'),
    str('prompt'),
    str('hi'),
    str('max_tokens'),
    u64,
  ]);
}

t.test('msgpack 64-bit integers: a number when it fits, out of range when not', async (t) => {
  const h = await startHarness(t);
  const ask = async (payload: Buffer) => {
    const s = new zmq.Request({ linger: 0, receiveTimeout: 30_000 });
    s.connect(h.zmqUrl);
    try {
      await s.send(payload);
      return unpack((await s.receive())[0]!);
    } finally {
      s.close();
    }
  };
  t.match(await ask(withUint64MaxTokens(2n)), { status: 'ok', tokens_generated: 2 }, 'uint64 2 is max_tokens 2');
  t.match(await ask(withUint64MaxTokens(2n ** 63n)), {
    status: 'error',
    code: 'INVALID_ARGUMENT',
    message: /^max_tokens: .*\(got an integer out of range\)/,
  });
});
