/**
 * uWS crashes the process on a write after abort (uNetworking/uWebSockets.js#1296). 1,000 clients open an SSE
 * inference and vanish (socket destroyed) right after their first token: the process must stay up, every sequence
 * must be freed (nothing in flight or queued afterwards), and the next request must succeed.
 */
import t from 'tap';
import net from 'node:net';
import { startHarness, until } from '../helpers/coordinator.js';

const CLIENTS = 1000;
const IN_PARALLEL = 50;

/** Opens a streaming inference on a raw socket and destroys the socket as soon as a token event arrives. */
function vanishAfterFirstToken(port: number, i: number): Promise<'aborted-after-token' | 'ended-before-token'> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({
      model: 'moc-demo',
      prompt: `client ${i} says hello`,
      max_tokens: 200,
      temperature: 0.8,
      seed: i,
      stream: true,
    });
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(
        `POST /v1/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    });
    let seen = '';
    s.on('data', (d) => {
      seen += d.toString();
      if (seen.includes('event: token')) {
        s.destroy();
        resolve('aborted-after-token');
      }
    });
    s.on('close', () => resolve('ended-before-token'));
    s.on('error', (e) => (seen.includes('event: token') ? resolve('aborted-after-token') : reject(e)));
  });
}

t.test(`${CLIENTS} clients aborting mid-stream: process alive, sequences freed`, async (t) => {
  const h = await startHarness(t);
  const port = Number(new URL(h.restUrl).port);
  const outcomes = { 'aborted-after-token': 0, 'ended-before-token': 0 };
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_PARALLEL }, async () => {
      while (next < CLIENTS) outcomes[await vanishAfterFirstToken(port, next++)]++;
    }),
  );
  t.equal(outcomes['aborted-after-token'], CLIENTS, `${CLIENTS} clients vanished after their first token`);

  const idle = await until(
    'every sequence freed',
    async () => {
      const dev = ((await (await fetch(`${h.restUrl}/v1/devices`)).json()) as any).devices[0];
      const m = dev.models.find((x: any) => x.name === 'moc-demo');
      return m && m.in_flight === 0 && m.queued === 0 ? m : undefined;
    },
    60_000,
  );
  t.equal(idle.state, 'loaded', 'the model is still loaded, nothing in flight or queued');

  const r = await fetch(`${h.restUrl}/v1/infer`, {
    method: 'POST',
    body: JSON.stringify({ model: 'moc-demo', prompt: 'after', max_tokens: 3, temperature: 0 }),
  });
  t.equal(r.status, 200, 'the next request succeeds');
  t.ok(((await r.json()) as any).tokens_generated >= 1);
});
