/**
 * An empty request from a REQ client gets exactly one reply frame: the error object. The server took the empty
 * payload frame for the envelope delimiter and sent [id, '', '', error] back, so after REQ stripped its envelope the
 * client saw two frames (empty + error) and send_json/recv_json clients failed to parse the reply. Checked with
 * real pyzmq (Debian's python3-zmq, as the legacy agents use) and with a zeromq.js REQ socket; DEALER clients with
 * and without the delimiter get their reply in the shape they sent.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as zmq from 'zeromq';
import { startHarness } from '../helpers/coordinator.js';

const PY = '/usr/bin/python3';
const pyHasZmq = existsSync(PY) && spawnSync(PY, ['-c', 'import zmq'], { stdio: 'ignore' }).status === 0;

/** REQ send(b"") then recv_multipart(): prints the frames as a JSON list of strings. */
const PY_EMPTY_REQ = `
import json, sys, zmq
s = zmq.Context.instance().socket(zmq.REQ)
s.setsockopt(zmq.LINGER, 0)
s.setsockopt(zmq.RCVTIMEO, 30000)
s.connect(sys.argv[1])
s.send(b"")
print(json.dumps([f.decode("utf-8", "replace") for f in s.recv_multipart()]))
`;
import { runChild } from '../helpers/child.js';

const pyEmptyReq = (endpoint: string) => runChild(t, PY, ['-c', PY_EMPTY_REQ, endpoint]);

t.test('an empty request gets one reply frame: the error', async (t) => {
  const h = await startHarness(t);

  // Not a skip: the legacy-agent tests need pyzmq too; its absence is a broken environment.
  t.ok(pyHasZmq, `${PY} with pyzmq is available (apt-get install -y python3-zmq)`);
  if (pyHasZmq) {
    const run = await pyEmptyReq(h.zmqUrl);
    t.equal(run.code, 0, `python exit 0 ${run.err}`);
    const frames = JSON.parse(run.out) as string[];
    t.equal(frames.length, 1, `pyzmq REQ receives one frame: ${run.out.trim().slice(0, 300)}`);
    t.match(JSON.parse(frames.at(-1)!), { status: 'error', code: 'INVALID_ARGUMENT', message: /^message: is empty/ });
  }

  const req = new zmq.Request({ linger: 0, receiveTimeout: 30_000 });
  req.connect(h.zmqUrl);
  t.teardown(() => req.close());
  await req.send(Buffer.alloc(0));
  const frames = await req.receive();
  t.equal(frames.length, 1, 'zeromq.js REQ receives one frame');
  t.match(JSON.parse(frames.at(-1)!.toString()), {
    status: 'error',
    code: 'INVALID_ARGUMENT',
    message: /^message: is empty/,
  });
  // The same socket goes on: its state machine got exactly one reply.
  await req.send(JSON.stringify({ action: 'health' }));
  t.match(JSON.parse((await req.receive())[0]!.toString()), { status: 'ok' }, 'the REQ socket is not wedged');

  // DEALER: the reply comes back in the shape the request had.
  const d = new zmq.Dealer({ linger: 0, receiveTimeout: 30_000 });
  d.connect(h.zmqUrl);
  t.teardown(() => d.close());
  await d.send(['', '']); // with the delimiter, an empty payload
  let got = await d.receive();
  t.same(got.slice(0, -1).map(String), [''], 'DEALER with delimiter, empty payload: ["", error]');
  t.match(JSON.parse(got.at(-1)!.toString()), { status: 'error', code: 'INVALID_ARGUMENT', message: /is empty/ });
  await d.send(['', JSON.stringify({ action: 'health' })]);
  got = await d.receive();
  t.same(got.slice(0, -1).map(String), [''], 'DEALER with delimiter: ["", reply]');
  t.match(JSON.parse(got.at(-1)!.toString()), { status: 'ok' });
  await d.send(JSON.stringify({ action: 'health' }));
  got = await d.receive();
  t.equal(got.length, 1, 'DEALER without delimiter: [reply]');
  t.match(JSON.parse(got[0]!.toString()), { status: 'ok' });
  await d.send(Buffer.alloc(0)); // without the delimiter, an empty payload: one empty frame, answered
  got = await d.receive();
  t.match(
    JSON.parse(got.at(-1)!.toString()),
    { status: 'error', code: 'INVALID_ARGUMENT', message: /is empty/ },
    'DEALER, a lone empty frame: answered',
  );
});
