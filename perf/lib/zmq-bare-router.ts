/**
 * The ZeroMQ transport ceiling for perf/zmq-load.ts: a bare ROUTER that answers every request with one fixed small
 * JSON frame (no parsing, no actors, no validation). Run as its own process so the load generator does not share
 * its event loop, as with the coordinator. Prints `{"endpoint":"tcp://127.0.0.1:N"}` on stdout once bound; exits
 * on SIGTERM/SIGINT or when its parent goes away (stdin closes). `--reply` sets the frame it answers (perf/zmq-load.ts
 * passes the coordinator's own list_models answer, so both sides send the same bytes).
 *   node --import=tsx perf/lib/zmq-bare-router.ts [--host 127.0.0.1] [--port 0] [--reply JSON]
 */
import { parseArgs } from 'node:util';
import * as zmq from 'zeromq';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    reply: { type: 'string', default: '{"status":"ok","state":"ready"}' },
  },
});
const REPLY = Buffer.from(values.reply!);

const sock = new zmq.Router({ linger: 0 });
await sock.bind(`tcp://${values.host}:${values.port === '0' ? '*' : values.port}`);
process.stdout.write(`${JSON.stringify({ endpoint: sock.lastEndpoint })}\n`);

// Exit outright: the resumed stdin pipe would otherwise keep this process alive after the socket closes.
const stop = () => {
  if (!sock.closed) sock.close();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.stdin.on('end', stop).on('error', stop).resume();

try {
  // REQ clients: [identity, '', payload]; the reply keeps the envelope (everything but the payload).
  for await (const frames of sock) await sock.send([...frames.slice(0, -1), REPLY]);
} catch (err) {
  if (!sock.closed) throw err;
}
