/**
 * A client sends a 100 MB message (refused: RESOURCE_EXHAUSTED), then a call with 1 MB of metadata on the same
 * channel, then exits. One metadata value that large makes Node's http2 (nghttp2) give up on the connection
 * without telling grpc-js, so the server's socket used to stay ESTABLISHED for ever and hold the shutdown for the
 * whole grace. Now the server's sockets go back to what they were, and close() does not wait for such connections.
 * With API keys configured, the same 100 MB from a caller without a key is refused by the key check, not read.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { startHarness, until, type Harness } from '../helpers/coordinator.js';
import { modelOpsClient } from '../../src/transports/grpc/proto.js';

const ADMIN = 'grpc-admin-key-0123456789';
/** Short keepalive so an abandoned connection is reclaimed in ~2 s instead of the default ~25 s. */
const server = { grpcKeepaliveMs: 1000, grpcKeepaliveTimeoutMs: 1000 };

/** Sockets of this process whose local port is the gRPC port (the server's side of each connection), not the listener. */
function serverSockets(port: number): number {
  let n = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4) continue;
      const localPort = parseInt(f[1]!.split(':')[1]!, 16);
      if (localPort === port && f[3] !== '0A' /* LISTEN */) n++;
    }
  }
  return n;
}

/** One round: a 100 MB Infer, then an Infer carrying 1 MB of metadata, then the client exits. Returns the two codes. */
async function round(h: Harness, headers: Record<string, string> = {}): Promise<[number, number]> {
  const client = modelOpsClient(`127.0.0.1:${h.coordinator.grpcPort}`, { 'grpc.max_send_message_length': -1 });
  const deadline = () => new Date(Date.now() + 60_000);
  const md = (extra: Record<string, string>) => {
    const m = new grpc.Metadata();
    for (const [k, v] of Object.entries({ ...headers, ...extra })) m.set(k, v);
    return m;
  };
  const code = (req: object, m: grpc.Metadata) =>
    new Promise<number>((resolve) => {
      client.Infer(req, m, { deadline: deadline() }, (err: grpc.ServiceError | null) => resolve(err ? err.code : 0));
    });
  const big = await code({ model: 'moc-demo', prompt: 'x'.repeat(100 * 1024 * 1024), max_tokens: 1 }, md({}));
  const meta = await code({ model: 'moc-demo', prompt: 'hi', max_tokens: 1 }, md({ 'x-big': 'y'.repeat(1024 * 1024) }));
  client.close();
  return [big, meta];
}

// One coordinator for the first two claims (a second start cost ~2 s of the file's time): the second one's rounds
// come after the first one's sockets are back, so it sees connections left by clients just as a fresh server would.
t.test('without keys', async (t) => {
  const h = await startHarness(t, { server });

  await t.test(
    'after oversize message + oversize metadata rounds, the server holds no socket of the gone clients',
    async (t) => {
      const port = h.coordinator.grpcPort;
      const baseline = serverSockets(port);
      for (let i = 0; i < 3; i++) {
        const [big] = await round(h);
        t.equal(big, grpc.status.RESOURCE_EXHAUSTED, `round ${i}: the 100 MB message is refused`);
      }
      // No event tells anyone that Node gave up on those connections: wait on the kernel's table.
      await until('server sockets back to baseline', async () => serverSockets(port) <= baseline, 45_000);
      t.ok(serverSockets(port) <= baseline, 'no server socket left behind');
      // The channel of a well-behaved client still works.
      const r = await h.unary('Infer', { model: 'moc-demo', prompt: 'hi', max_tokens: 2, temperature: 0 });
      t.ok(r.text !== undefined, 'a normal call is served');
    },
  );

  await t.test('close() does not wait the grace for connections left by such clients', async (t) => {
    for (let i = 0; i < 3; i++) await round(h);
    h.client.close();
    const started = Date.now();
    await h.coordinator.close(10_000);
    const took = Date.now() - started;
    t.ok(took < 5_000, `close(10000) returned in ${took} ms, well under the grace`);
  });
});

t.test('with keys configured, a caller without a key cannot make the server read its 100 MB', async (t) => {
  const h = await startHarness(t, { server, auth: { keys: [{ name: 'ops', role: 'admin', key: ADMIN }] } });
  const port = h.coordinator.grpcPort;
  const baseline = serverSockets(port);
  for (let i = 0; i < 2; i++) {
    const [big, meta] = await round(h);
    // UNAUTHENTICATED, not RESOURCE_EXHAUSTED: the key check ended the call before any of the message was decoded.
    t.equal(big, grpc.status.UNAUTHENTICATED, `round ${i}: the 100 MB message gets UNAUTHENTICATED`);
    t.not(meta, grpc.status.OK, `round ${i}: the 1 MB metadata call is refused`);
  }
  await until('server sockets back to baseline', async () => serverSockets(port) <= baseline, 45_000);
  t.ok(serverSockets(port) <= baseline, 'no server socket left behind');
  const started = Date.now();
  await h.coordinator.close(10_000);
  t.ok(Date.now() - started < 5_000, 'close(10000) returns well under the grace');
});
