/**
 * CURVE encrypts; the ZAP handler authenticates: a client whose public key is on zmq.curve.allowedClientKeys is
 * served, one with an unknown key and one without CURVE at all get nothing (the handshake is refused).
 */
import t from 'tap';
import * as zmq from 'zeromq';
import { startHarness } from '../helpers/coordinator.js';

const server = zmq.curveKeyPair();
const known = zmq.curveKeyPair();
const stranger = zmq.curveKeyPair();

async function ask(endpoint: string, opts: Record<string, unknown>, timeoutMs: number): Promise<any | 'no-reply'> {
  const s = new zmq.Request({ linger: 0, receiveTimeout: timeoutMs, ...opts });
  s.connect(endpoint);
  try {
    await s.send(JSON.stringify({ action: 'health' }));
    const [r] = await s.receive();
    return JSON.parse(r!.toString());
  } catch (err) {
    if ((err as { code?: string }).code === 'EAGAIN') return 'no-reply';
    throw err;
  } finally {
    s.close();
  }
}

t.test('CURVE with a known key, an unknown key, and no key', async (t) => {
  const h = await startHarness(t, {
    zmq: {
      curve: {
        enabled: true,
        publicKey: server.publicKey,
        secretKey: server.secretKey,
        allowedClientKeys: [known.publicKey],
      },
    },
  });
  const client = (k: { publicKey: string; secretKey: string }) => ({
    curveServerKey: server.publicKey,
    curvePublicKey: k.publicKey,
    curveSecretKey: k.secretKey,
  });

  t.match(
    await ask(h.zmqUrl, client(known), 15_000),
    { status: 'ok', libzmq: /\d/ },
    'a client with an allowed key is served',
  );
  t.equal(await ask(h.zmqUrl, client(stranger), 1500), 'no-reply', 'a client with an unknown key is refused');
  t.equal(await ask(h.zmqUrl, {}, 1500), 'no-reply', 'a client without CURVE is refused');
  const zap = h.coordinator.zmq!.zapCounts!;
  t.ok(zap.denied >= 1 && zap.allowed >= 1, `ZAP allowed ${zap.allowed}, denied ${zap.denied}`);
  t.match(await ask(h.zmqUrl, client(known), 15_000), { status: 'ok' }, 'and the allowed client is still served');
});

t.test('CURVE misconfigured: the start fails naming the key', async (t) => {
  await t.rejects(
    startHarness(t, { zmq: { curve: { enabled: true, publicKey: 'short', secretKey: server.secretKey } } }),
    /zmq\.curve\.publicKey: a Z85 CURVE key of 40 characters/,
  );
});
