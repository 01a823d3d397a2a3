/**
 * The HTTP transport ceiling for perf/rest-load.ts: a bare uWebSockets.js server, in its own process (as the
 * coordinator is), with no routing table, auth, validation or actors. `GET /v1/models` answers a fixed JSON of the
 * coordinator's size (passed as --models-bytes); `POST /v1/infer` reads the body (onData, onAborted) and answers a
 * fixed InferResponse-shaped JSON. Prints `{"port":N}` once listening; exits when its parent goes away (stdin closes).
 *   node --import=tsx perf/lib/rest-bare-uws.ts [--models-bytes 1200]
 */
import { parseArgs } from 'node:util';
import uWS from 'uWebSockets.js';

const { values } = parseArgs({ options: { 'models-bytes': { type: 'string', default: '1200' } } });
const pad = Math.max(0, Number(values['models-bytes']) - 40);
const MODELS = JSON.stringify({ models: [{ name: 'moc-demo', state: 'loaded', pad: 'x'.repeat(pad) }] });
const INFER = JSON.stringify({
  request_id: 'r',
  model: 'moc-demo',
  device: 'cpu0',
  text: 'abcdefgh',
  prompt_tokens: 10,
  tokens_generated: 8,
  finish_reason: 'length',
  queue_ms: 0,
  compute_ms: 0,
});

const app = uWS
  .App()
  .get('/v1/models', (res) => {
    res.cork(() => res.writeStatus('200 OK').writeHeader('content-type', 'application/json').end(MODELS));
  })
  .post('/v1/infer', (res) => {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    res.onData((_chunk, last) => {
      if (last && !aborted)
        res.cork(() => res.writeStatus('200 OK').writeHeader('content-type', 'application/json').end(INFER));
    });
  });
app.listen('127.0.0.1', 0, (sock) => {
  if (!sock) {
    console.error('bare uWS: cannot listen');
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ port: uWS.us_socket_local_port(sock as unknown as uWS.us_socket) })}\n`);
  process.stdin
    .on('end', () => process.exit(0))
    .on('error', () => process.exit(0))
    .resume();
});
