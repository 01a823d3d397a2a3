/**
 * A start that fails part-way (here: the REST port is taken, after the store, devices and engines are up) destroys
 * every part it had started, last first: no engine process, worker or LMDB handle outlives the failed start, and the
 * same data directory opens again at once.
 */
import t from 'tap';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { resolveConfig } from '../../src/config.js';
import { Coordinator } from '../../src/coordinator.js';
import { silentLogger } from '../../src/log.js';
import { until } from '../helpers/coordinator.js';

/**
 * Live processes whose parent is this one (the engines the device workers forked). Zombies are not counted: an
 * engine forked by a worker thread that was terminated is reaped by nobody (no memory, a pid entry; see docs).
 */
function children(): number {
  const out = execFileSync('ps', ['-o', 'stat=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.trim() && !l.trim().startsWith('Z')).length;
}

t.test('a failed start leaves nothing running', async (t) => {
  const dir = t.testdir();
  const taken = net.createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => taken.close());
  const port = (taken.address() as net.AddressInfo).port;
  const before = children();
  const cfg = resolveConfig({ server: { grpcPort: 0 }, rest: { port }, zmq: { port: 0 } }, { baseDir: dir });
  await t.rejects(
    Coordinator.start(cfg, { log: silentLogger }),
    /REST cannot listen/,
    'the start fails on the taken port',
  );
  // `ps` counts itself as our child while it runs: compare with the count taken the same way before.
  // An engine exits when its device worker's IPC channel closes; no event reaches this process for a grandchild's exit.
  await until('the engines exit', async () => children() === before, 10_000);
  t.equal(children(), before, 'no engine process is left');
  const ok = await Coordinator.start(
    resolveConfig({ server: { grpcPort: 0 }, rest: { port: 0 }, zmq: { port: 0 } }, { baseDir: dir }),
    { log: silentLogger },
  );
  t.ok(ok.grpcPort > 0, 'the same data directory starts again');
  await ok.close(2000);
  await until('the engines exit', async () => children() === before, 10_000);
  t.equal(children(), before, 'and a normal close leaves nothing either');
});
