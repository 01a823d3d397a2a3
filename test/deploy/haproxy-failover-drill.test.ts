/**
 * The failover drill, with the real balancer: two replicas started as `npm start` would (own ports and data
 * directories), Debian's HAProxy in front of both with deploy/haproxy/haproxy.cfg, 200 inferences a second through
 * it (half REST, half gRPC). kill -9 of one replica: at least 99.9 % succeed, every request sent 2 s after the kill
 * does, and the replica, started again, takes traffic again. SIGTERM of one replica (shutdown.drainMs above the
 * check interval x fall): not one request fails.
 */
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { spawnServer, type SpawnedServer } from '../../perf/lib/spawn-server.js';
import { packageRoot } from '../../src/package-root.js';
import { modelOpsClient } from '../../src/transports/grpc/proto.js';
import { until } from '../helpers/coordinator.js';
import { spawnChild } from '../helpers/child.js';

const CONFIG = path.join(packageRoot(), 'deploy', 'haproxy', 'haproxy.cfg');
const RATE_PER_TRANSPORT = 100; // per second: 200 in all

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = net
      .createServer()
      .once('error', reject)
      .listen(0, '127.0.0.1', () => {
        const { port } = s.address() as net.AddressInfo;
        s.close(() => resolve(port));
      });
  });

interface Ports {
  rest: number;
  grpc: number;
}
/** A replica on fixed ports (so it can be started again where HAProxy expects it), draining 5 s on SIGTERM. */
const replica = (p: Ports) =>
  spawnServer({
    yaml: `server:\n  grpcPort: ${p.grpc}\nrest:\n  port: ${p.rest}\nzmq:\n  enabled: false\nshutdown:\n  drainMs: 5000\n`,
    logFile: true,
  });

function haproxyEnv(lb: Ports, a: Ports, b: Ports): NodeJS.ProcessEnv {
  return {
    ...process.env,
    MOC_LB_REST_PORT: String(lb.rest),
    MOC_LB_GRPC_PORT: String(lb.grpc),
    MOC1_HOST: '127.0.0.1',
    MOC1_REST_PORT: String(a.rest),
    MOC1_GRPC_PORT: String(a.grpc),
    MOC2_HOST: '127.0.0.1',
    MOC2_REST_PORT: String(b.rest),
    MOC2_GRPC_PORT: String(b.grpc),
  };
}

interface Outcome {
  sentAt: number;
  transport: 'rest' | 'grpc';
  ok: boolean;
  code: string;
}

/** Open loop through the balancer for `ms`: RATE_PER_TRANSPORT REST and as many gRPC inferences a second. */
async function drill(
  lb: Ports,
  client: grpc.Client & Record<string, any>,
  ms: number,
  at?: { afterMs: number; act: () => void },
): Promise<{ outcomes: Outcome[]; actedAt: number }> {
  const out: Promise<Outcome>[] = [];
  const started = performance.now();
  let n = 0;
  const rest = (sentAt: number) =>
    fetch(`http://127.0.0.1:${lb.rest}/v1/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'moc-demo', prompt: `drill ${n}`, max_tokens: 2, temperature: 0 }),
      signal: AbortSignal.timeout(30_000),
    }).then(
      async (r) => ({
        sentAt,
        transport: 'rest' as const,
        ok: r.ok,
        code: r.ok ? 'OK' : `${r.status} ${(await r.text()).slice(0, 120)}`,
      }),
      (e: Error) => ({ sentAt, transport: 'rest' as const, ok: false, code: e.message }),
    );
  const rpc = (sentAt: number) =>
    new Promise<Outcome>((resolve) => {
      client.Infer(
        { model: 'moc-demo', prompt: `drill ${n}`, max_tokens: 2, temperature: 0 },
        { deadline: Date.now() + 30_000 },
        (err: grpc.ServiceError | null) =>
          resolve({ sentAt, transport: 'grpc', ok: !err, code: err ? `${err.code} ${err.details}` : 'OK' }),
      );
    });
  let actedAt = -1;
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const now = performance.now() - started;
      if (at && actedAt < 0 && now >= at.afterMs) {
        actedAt = now;
        at.act();
      }
      // Catch up on the ticks a busy event loop missed, so the rate is the rate.
      while (n < (now / 1000) * RATE_PER_TRANSPORT) {
        n++;
        out.push(rest(now), rpc(now));
      }
      if (now >= ms) {
        clearInterval(tick);
        resolve();
      }
    }, 5);
  });
  return { outcomes: await Promise.all(out), actedAt };
}

t.test('haproxy -c accepts deploy/haproxy/haproxy.cfg', async (t) => {
  const r = spawnSync('haproxy', ['-c', '-f', CONFIG], {
    env: haproxyEnv({ rest: 1, grpc: 2 }, { rest: 3, grpc: 4 }, { rest: 5, grpc: 6 }),
    encoding: 'utf8',
  });
  t.equal(r.error, undefined, 'haproxy is installed (Debian package haproxy; .ci/run installs it)');
  t.equal(r.status, 0, `valid: ${r.stdout}${r.stderr}`);
});

t.test('two replicas behind HAProxy: kill -9 one, then SIGTERM one, under 200 inferences a second', async (t) => {
  const [lbRest, lbGrpc, aRest, aGrpc, bRest, bGrpc] = await Promise.all(Array.from({ length: 6 }, freePort));
  const lb = { rest: lbRest!, grpc: lbGrpc! };
  const portsA = { rest: aRest!, grpc: aGrpc! };
  const portsB = { rest: bRest!, grpc: bGrpc! };
  const servers: SpawnedServer[] = [];
  let haproxy: ChildProcess | undefined;
  t.teardown(async () => {
    haproxy?.kill('SIGKILL');
    await Promise.all(servers.map((s) => s.stop('SIGKILL').catch(() => {})));
  });
  const [a, b] = await Promise.all([replica(portsA), replica(portsB)]);
  servers.push(a!, b!);
  let hpLog = '';
  haproxy = spawnChild(t, 'haproxy', ['-f', CONFIG, '-db'], {
    env: haproxyEnv(lb, portsA, portsB),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  haproxy.stdout!.on('data', (d) => {
    hpLog += d;
  });
  haproxy.stderr!.on('data', (d) => {
    hpLog += d;
  });
  const client = modelOpsClient(`127.0.0.1:${lb.grpc}`);
  t.teardown(() => client.close());
  const readyThrough = (port: number) =>
    fetch(`http://127.0.0.1:${port}/health/ready`).then(
      (r) => r.ok,
      () => false,
    );
  await until(
    'both replicas ready',
    async () => (await readyThrough(portsA.rest)) && (await readyThrough(portsB.rest)),
    60_000,
  );
  await until('HAProxy serving', () => readyThrough(lb.rest), 30_000);

  // 1. kill -9 of replica A at second 4 of 10: HAProxy's checks (inter 2 s, fall 2) mark it down within 4 s of the
  // kill; the 2 s after that show the balancer settled on one replica (every request of the last 4 s must succeed).
  const { outcomes: run, actedAt: killedAt } = await drill(lb, client, 10_000, {
    afterMs: 4_000,
    act: () => {
      a!.proc.kill('SIGKILL');
    },
  });
  const failed = run.filter((o) => !o.ok);
  // Sent and failed by second (the closing note of a drill reports them).
  const bySecond = (os: { ok: boolean; sentAt: number }[]) => {
    const b: { s: number; sent: number; failed: number }[] = [];
    for (const o of os) {
      const s = Math.floor(o.sentAt / 1000);
      b[s] ??= { s, sent: 0, failed: 0 };
      b[s].sent++;
      if (!o.ok) b[s].failed++;
    }
    return b
      .filter(Boolean)
      .map((x) => `${x.s}s ${x.sent}/${x.failed}`)
      .join(', ');
  };
  t.comment(`kill -9 at ${Math.round(killedAt)} ms; sent/failed by second: ${bySecond(run)}`);
  t.ok(run.length >= 1_900, `${run.length} requests sent (200 a second for 10 s)`);
  t.ok(
    failed.length <= run.length * 0.001,
    `at least 99.9 % succeeded: ${failed.length} of ${run.length} failed ${JSON.stringify(failed.slice(0, 5))}`,
  );
  const late = run.filter((o) => o.sentAt >= killedAt + 2_000);
  t.same(
    late.filter((o) => !o.ok),
    [],
    `every request sent 2 s after the kill succeeded (${late.length})`,
  );
  for (const tr of ['rest', 'grpc'] as const)
    t.ok(
      run.some((o) => o.transport === tr && o.ok),
      `${tr} served`,
    );

  // The killed replica starts again on its ports and takes traffic again (HAProxy's checks bring it back).
  const a2 = await replica(portsA);
  servers.push(a2);
  const servedBy = async (s: Ports) => {
    const text = await fetch(`http://127.0.0.1:${s.rest}/metrics`).then(
      (r) => r.text(),
      () => '',
    );
    return text
      .split('\n')
      .filter((l) => l.startsWith('moc_requests_total{') && l.includes('operation="infer"') && l.includes('code="OK"'))
      .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
  };
  await until(
    'the restarted replica serves requests sent through HAProxy',
    async () => {
      await drill(lb, client, 500);
      return (await servedBy(portsA)) > 0;
    },
    30_000,
  );

  // Model affinity: requests naming their model (x-moc-model, gRPC moc-model metadata) all land on one replica.
  for (const tr of ['rest', 'grpc'] as const) {
    const before = [await servedBy(portsA), await servedBy(portsB)];
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        tr === 'rest'
          ? fetch(`http://127.0.0.1:${lb.rest}/v1/infer`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', 'x-moc-model': 'moc-demo' },
              body: JSON.stringify({ model: 'moc-demo', prompt: `affinity ${i}`, max_tokens: 1 }),
            }).then((r) => t.equal(r.status, 200))
          : new Promise<void>((resolve) => {
              const md = new grpc.Metadata();
              md.set('moc-model', 'moc-demo');
              client.Infer(
                { model: 'moc-demo', prompt: `affinity ${i}`, max_tokens: 1 },
                md,
                { deadline: Date.now() + 30_000 },
                (err: grpc.ServiceError | null) => {
                  t.error(err);
                  resolve();
                },
              );
            }),
      ),
    );
    const moved = [(await servedBy(portsA)) - before[0]!, (await servedBy(portsB)) - before[1]!].sort((x, y) => x - y);
    t.same(moved, [0, 20], `${tr}: the 20 requests naming moc-demo all went to one replica`);
  }

  // 2. SIGTERM of replica B at second 2 of 8: it turns not-ready, HAProxy drains it (drainMs 5 s covers the checks'
  // 4 s), it exits at about second 7, nothing fails.
  const { outcomes: graceful } = await drill(lb, client, 8_000, {
    afterMs: 2_000,
    act: () => {
      b!.proc.kill('SIGTERM');
    },
  });
  const gracefulFailed = graceful.filter((o) => !o.ok);
  t.comment(`SIGTERM at 2000 ms; sent/failed by second: ${bySecond(graceful)}`);
  t.same(
    gracefulFailed.slice(0, 5),
    [],
    `SIGTERM: not one of ${graceful.length} requests failed (${gracefulFailed.length} did)`,
  );
  t.same(await b!.exited, { code: 0, signal: null }, 'the SIGTERMed replica exited cleanly');
  if (failed.length || gracefulFailed.length) t.comment(hpLog.split('\n').slice(-30).join('\n'));
});
