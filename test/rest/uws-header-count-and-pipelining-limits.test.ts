/**
 * Two limits of uWebSockets.js 20.30 that MOC cannot lift from JavaScript, pinned as docs/rest.md states them, so
 * that a uWS upgrade that changes either shows up here (and the docs get updated):
 * - at most 48 header fields: the 49th makes uWS's parser wait for more bytes, never reaching our handler;
 * - pipelining works only behind synchronous answers: uWS closes a connection whose next request arrives while the
 *   previous answer is pending ("denying async pipelining").
 */
import t from 'tap';
import net from 'node:net';
import { startHarness } from '../helpers/coordinator.js';

/** Writes `text` in one go; resolves with what came back when the server closes, or after `waitMs`. */
function raw(port: number, text: string, waitMs: number): Promise<{ out: string; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(text));
    let out = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ out, closedByServer: false });
    }, waitMs);
    s.on('data', (d) => {
      out += d.toString('latin1');
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ out, closedByServer: true });
    });
    s.on('error', reject);
  });
}

const get = (path: string, fields: number) => {
  let head = `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n`;
  for (let i = 1; i < fields; i++) head += `X-Field-${i}: v\r\n`;
  return `${head}\r\n`;
};

t.test('48 header fields are served; 49 never reach the handler (documented, not answerable)', async (t) => {
  const h = await startHarness(t);
  const port = Number(new URL(h.restUrl).port);
  const ok = await raw(port, get('/health/live', 48), 2000);
  t.match(ok.out, /^HTTP\/1\.1 200 /, '48 fields: answered');
  const over = await raw(port, get('/health/live', 49), 1000);
  t.equal(over.out, '', '49 fields: no answer (uWS waits for the rest of a header block it will never finish)');
  t.equal((await fetch(`${h.restUrl}/health/live`)).status, 200, 'the server keeps serving');
});

t.test(
  'pipelined requests: answered when the first answer is synchronous, connection closed when it is not',
  async (t) => {
    const h = await startHarness(t);
    const port = Number(new URL(h.restUrl).port);
    const sync = await raw(port, get('/health/live', 1) + get('/openapi.json', 1), 2000);
    t.equal(sync.out.match(/HTTP\/1\.1 200 /g)?.length, 2, 'both synchronous answers arrive in order');
    // GetDevices asks the device threads (worker messages): its answer comes after the handler returned. (The model
    // list, answered from the live view within the same turn, is not a reliable example any more.)
    const pending = await raw(port, get('/v1/devices', 1) + get('/v1/devices', 1), 2000);
    t.same(pending, { out: '', closedByServer: true }, 'uWS closes the connection: no answer to either (docs/rest.md)');
    t.equal((await fetch(`${h.restUrl}/v1/models`)).status, 200, 'the server keeps serving');
  },
);
