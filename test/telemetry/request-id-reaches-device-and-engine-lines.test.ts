/**
 * The request id and the caller's trace id follow a request from the listener through the router into the device
 * thread and the engine process: at log.level debug each writes its own line under the same ids (a real server, so
 * the device thread's and the engine's stderr are the ones an operator reads). The prompt appears in none.
 */
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { EPHEMERAL_PORTS, spawnServer } from '../../perf/lib/spawn-server.js';
import { modelOpsClient } from '../../src/transports/grpc/proto.js';
import { until } from '../helpers/coordinator.js';
import { untrackChildren } from '../helpers/untracked-children.js';

untrackChildren(); // its servers and their engines: no tap hook on each module they load

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const SECRET_PROMPT = 'a prompt no log line may carry';

t.test(
  "the request line, the device thread's line and the engine's line share the request id and trace id",
  async (t) => {
    const server = await spawnServer({
      yaml: `${EPHEMERAL_PORTS}log:\n  level: debug\n`,
      env: { MOC_LOG_LEVEL: '' },
      keepRequestLines: true,
    });
    t.teardown(() => server.stop('SIGKILL'));
    const listening = server.logs.find((l) => l.event === 'server.listening')!;

    const rest = await fetch(`${listening.rest}/v1/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${TRACE}-b7ad6b7169203331-01` },
      body: JSON.stringify({ model: 'moc-demo', prompt: SECRET_PROMPT, max_tokens: 3, request_id: 'trace-me-rest' }),
    });
    t.equal(rest.status, 200, 'REST infer answered');
    const generated: Record<string, number> = {
      'trace-me-rest': ((await rest.json()) as { tokens_generated: number }).tokens_generated,
    };

    const client = modelOpsClient(server.grpcAddress) as grpc.Client & Record<string, any>;
    t.teardown(() => client.close());
    const md = new grpc.Metadata();
    md.set('traceparent', `00-${TRACE}-00f067aa0ba902b7-01`);
    generated['trace-me-grpc'] = await new Promise<number>((resolve, reject) =>
      client.Infer(
        { model: 'moc-demo', prompt: SECRET_PROMPT, max_tokens: 3, request_id: 'trace-me-grpc' },
        md,
        { deadline: Date.now() + 30_000 },
        (err: grpc.ServiceError | null, r: { tokens_generated: number }) =>
          err ? reject(err) : resolve(r.tokens_generated),
      ),
    );

    for (const [transport, id] of [
      ['rest', 'trace-me-rest'],
      ['grpc', 'trace-me-grpc'],
    ] as const) {
      const mine = (event: string) => server.logs.find((l) => l.event === event && l.request_id === id);
      const lines = await until(
        `${transport}: the three lines of ${id}`,
        async () => {
          const r = [mine('request'), mine('device.inference'), mine('engine.generation')];
          return r.every(Boolean) && r;
        },
        30_000,
      );
      const [request, device, engine] = lines as Record<string, any>[];
      t.match(
        request,
        { level: 'info', transport, operation: 'infer', code: 'OK', model: 'moc-demo', trace_id: TRACE },
        `${transport}: the request line`,
      );
      // The demo model may stop before max_tokens (an end-of-text token): the lines say what the answer said.
      const tokens = generated[id];
      t.match(
        device,
        { level: 'debug', device: 'cpu0', model: 'moc-demo', code: 'OK', trace_id: TRACE, tokens },
        `${transport}: the device thread's line`,
      );
      t.type(device.queue_ms, 'number');
      t.match(
        engine,
        { level: 'debug', device: 'cpu0', model: 'moc-demo', code: 'OK', trace_id: TRACE, tokens },
        `${transport}: the engine's line`,
      );
      t.type(engine.engine_pid, 'number', 'the engine line names its process');
      t.not(engine.engine_pid, server.proc.pid, 'which is not the coordinator');
    }
    t.notOk(
      server.logs.some((l) => JSON.stringify(l).includes(SECRET_PROMPT)),
      'the prompt is in no line',
    );
  },
);

t.test('at info (the default) the device thread and the engine write no per-request line', async (t) => {
  const server = await spawnServer({ env: { MOC_LOG_LEVEL: '' }, keepRequestLines: true });
  t.teardown(() => server.stop('SIGKILL'));
  const listening = server.logs.find((l) => l.event === 'server.listening')!;
  const rest = await fetch(`${listening.rest}/v1/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'moc-demo', prompt: 'hello', max_tokens: 2, request_id: 'quiet' }),
  });
  t.equal(rest.status, 200);
  await until(
    'the request line',
    async () => server.logs.some((l) => l.event === 'request' && l.request_id === 'quiet'),
    30_000,
  );
  t.notOk(
    server.logs.some((l) => l.event === 'device.inference' || l.event === 'engine.generation'),
    'no debug line',
  );
});
