/**
 * One `request` log line per answered request on every transport: transport, operation, code, duration, model,
 * request id, and the caller's W3C trace id (traceparent header, metadata or ZMQ field) — never the prompt or the
 * text. `log.requests: false` turns them off.
 */
import t, { type Test } from 'tap';
import * as grpc from '@grpc/grpc-js';
import path from 'node:path';
import { resolveConfig } from '../../src/config.js';
import { Coordinator } from '../../src/coordinator.js';
import { createLogger } from '../../src/log.js';
import { modelOpsClient } from '../../src/transports/grpc/proto.js';
import { zmqRequest } from '../helpers/zmq.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE}-00f067aa0ba902b7-01`;
const SECRET_PROMPT = 'the prompt must never be logged';

async function start(t: Test, log: Record<string, unknown> = {}) {
  const dir = t.testdir();
  const lines: string[] = [];
  const config = resolveConfig({ server: { grpcPort: 0 }, rest: { port: 0 }, zmq: { port: 0 }, log }, { baseDir: dir });
  const c = await Coordinator.start(config, {
    log: createLogger('info', {
      destination: {
        write: (s: string) => {
          lines.push(s);
        },
      },
    }),
  });
  const client = modelOpsClient(`127.0.0.1:${c.grpcPort}`) as grpc.Client & Record<string, any>;
  t.teardown(async () => {
    client.close();
    await c.close(2000);
  });
  const requests = () => lines.map((l) => JSON.parse(l)).filter((r) => r.event === 'request');
  return {
    c,
    client,
    lines,
    requests,
    rest: `http://127.0.0.1:${c.restPort}`,
    zmq: `tcp://127.0.0.1:${c.zmqPort}`,
    dir: path.resolve(dir),
  };
}

t.test('a line per request on each transport, with the ids and the trace id, never the prompt', async (t) => {
  const s = await start(t);
  const md = new grpc.Metadata();
  md.set('traceparent', TRACEPARENT);
  await new Promise((resolve, reject) =>
    s.client.Infer(
      { model: 'moc-demo', prompt: SECRET_PROMPT, max_tokens: 2, request_id: 'r-grpc' },
      md,
      { deadline: Date.now() + 30_000 },
      (err: grpc.ServiceError | null, r: unknown) => (err ? reject(err) : resolve(r)),
    ),
  );
  const rest = await fetch(`${s.rest}/v1/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent: TRACEPARENT },
    body: JSON.stringify({ model: 'moc-demo', prompt: SECRET_PROMPT, max_tokens: 2, request_id: 'r-rest' }),
  });
  t.equal(rest.status, 200);
  const z = await zmqRequest(s.zmq, {
    action: 'infer',
    model: 'moc-demo',
    prompt: SECRET_PROMPT,
    max_tokens: 2,
    request_id: 'r-zmq',
    traceparent: TRACEPARENT,
  });
  t.equal(z.status, 'ok', JSON.stringify(z));
  const bad = await fetch(`${s.rest}/v1/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent: 'garbage' },
    body: JSON.stringify({ model: 'moc-demo', prompt: SECRET_PROMPT, max_tokens: -3 }),
  });
  t.equal(bad.status, 400);

  const byId = new Map(s.requests().map((r) => [r.request_id, r]));
  for (const transport of ['grpc', 'rest', 'zmq']) {
    const line = byId.get(`r-${transport}`);
    t.match(
      line,
      { level: 'info', transport, operation: 'infer', code: 'OK', model: 'moc-demo', trace_id: TRACE },
      `${transport}: one line with its ids`,
    );
    t.type(line?.ms, 'number', `${transport}: its duration`);
  }
  const refused = s.requests().find((r) => r.code === 'MOC_ERR_INVALID_ARGUMENT');
  t.match(refused, { transport: 'rest', operation: 'infer', model: 'moc-demo' }, 'a refused request has its line too');
  t.notOk('trace_id' in (refused ?? {}), 'a malformed traceparent is ignored');
  t.notOk(
    s.lines.some((l) => l.includes(SECRET_PROMPT)),
    'the prompt appears in no line',
  );
  t.notOk(
    s.requests().some((r) => 'prompt' in r || 'text' in r),
    'nor a prompt or text field',
  );
});

t.test('log.requests: false writes no request line', async (t) => {
  const s = await start(t, { requests: false });
  const rest = await fetch(`${s.rest}/v1/models`);
  t.equal(rest.status, 200);
  t.same(s.requests(), []);
});
