import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { EPHEMERAL_PORTS, spawnServer } from '../../perf/lib/spawn-server.js';
import { modelOpsClient } from '../../src/transports/grpc/proto.js';
import { until } from '../helpers/coordinator.js';
import { longModel, startGeneration } from '../helpers/long-generation.js';
import { untrackChildren } from '../helpers/untracked-children.js';

untrackChildren(); // its servers and their engines: no tap hook on each module they load

const call = (client: any, method: string, req: object) =>
  new Promise<any>((resolve, reject) =>
    client[method](req, { deadline: Date.now() + 30_000 }, (err: grpc.ServiceError | null, res: any) =>
      err ? reject(err) : resolve(res),
    ),
  );

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

t.test('SIGTERM: in-flight work finishes, new calls are refused, engines stop, exit 0', async (t) => {
  const server = await spawnServer();
  t.teardown(() => server.stop('SIGKILL'));
  const client = modelOpsClient(server.grpcAddress);
  t.teardown(() => client.close());
  const enginePid = (await call(client, 'GetDevices', {})).devices[0].engine_pid;
  // ~1,000 tokens take about a second here: running when SIGTERM arrives (a token has streamed), done well within
  // the 10 s grace.
  await call(client, 'LoadModel', longModel('long'));
  const inflight = startGeneration(client, { model: 'long', temperature: 0, prompt: 'finish me', max_tokens: 1000 });
  await inflight.started;
  server.proc.kill('SIGTERM');
  await until('stopping', async () => server.logs.some((l) => l.event === 'server.stopping'));
  const refused = await call(client, 'Infer', {
    model: 'moc-demo',
    temperature: 0,
    prompt: 'too late',
    max_tokens: 2,
  }).catch((e) => e);
  t.equal(refused.code, grpc.status.UNAVAILABLE, 'a new call after SIGTERM is refused UNAVAILABLE');
  const { chunks, error } = await inflight.ended;
  t.equal(error, null, 'the in-flight call was not cut');
  t.match(
    chunks.at(-1)?.done,
    { finish_reason: 'FINISH_REASON_LENGTH', tokens_generated: 1000 },
    'it ran to its end (1000 tokens)',
  );
  const exit = await server.exited;
  t.same(exit, { code: 0, signal: null }, 'exit code 0');
  t.ok(
    server.logs.some((l) => l.event === 'server.stopped' && l.drained === true),
    'logged a drained stop',
  );
  t.notOk(alive(enginePid), 'the engine process is gone');
});

t.test('restart intensity exceeded at the root: clean exit with a non-zero code', async (t) => {
  // maxRestarts 0: the first engine death exhausts the device's own restarts, the worker gives up, and the root
  // supervisor may not restart it either.
  const server = await spawnServer({ yaml: `${EPHEMERAL_PORTS}supervisor:\n  maxRestarts: 0\n  periodMs: 60000\n` });
  t.teardown(() => server.stop('SIGKILL'));
  const client = modelOpsClient(server.grpcAddress);
  t.teardown(() => client.close());
  const enginePid = (await call(client, 'GetDevices', {})).devices[0].engine_pid;
  process.kill(enginePid, 'SIGKILL');
  const exit = await server.exited;
  t.equal(exit.code, 1, 'exit code 1, for systemd/Kubernetes to restart the process');
  const escalated = server.logs.find((l) => l.event === 'server.escalated');
  t.match(escalated?.reason, /exceeded 0 restarts/, 'the log says why');
});
