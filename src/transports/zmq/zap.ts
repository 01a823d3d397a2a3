/**
 * ZAP handler (ZeroMQ RFC 27) for CURVE. CURVE alone encrypts but lets any client with any key pair in; libzmq asks
 * the handler bound at inproc://zeromq.zap.01 (same context) whether a client may connect. This one allows CURVE
 * clients whose public key is on the allow-list and refuses everything else, counting both.
 */
import * as zmq from 'zeromq';

const Z85 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const Z85_VALUE = new Map([...Z85].map((c, i) => [c, i] as const));

/** Z85 text (length a multiple of 5) → bytes; throws on a bad character or length. */
export function z85Decode(text: string): Buffer {
  if (text.length % 5 !== 0)
    throw new Error(`a Z85 key has a length that is a multiple of 5 (40 for CURVE), got ${text.length}`);
  const out = Buffer.alloc((text.length / 5) * 4);
  for (let i = 0, o = 0; i < text.length; i += 5, o += 4) {
    let v = 0;
    for (let j = 0; j < 5; j++) {
      const d = Z85_VALUE.get(text[i + j]!);
      if (d === undefined) throw new Error(`'${text[i + j]}' is not a Z85 character`);
      v = v * 85 + d;
    }
    out.writeUInt32BE(v >>> 0, o);
  }
  return out;
}

export const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';

export class ZapHandler {
  private readonly sock = new zmq.Router({ linger: 0 });
  private readonly allowed: Buffer[];
  allowedCount = 0;
  deniedCount = 0;
  private loop: Promise<void> | null = null;

  constructor(
    allowedClientKeys: string[],
    private readonly onDenied: (address: string, mechanism: string) => void = () => {},
  ) {
    this.allowed = allowedClientKeys.map((k) => z85Decode(k));
  }

  async start(): Promise<void> {
    await this.sock.bind(ZAP_ENDPOINT);
    this.loop = this.serve();
  }

  private async serve(): Promise<void> {
    try {
      for await (const frames of this.sock) {
        // [routing id, '', version, request id, domain, address, identity, mechanism, ...credentials]
        const [rid, delim, version, requestId, _domain, address, _identity, mechanism, key] = frames;
        if (!rid || !delim || !version || !requestId) continue; // not a ZAP request: nothing to answer
        const mech = mechanism?.toString() ?? '';
        const ok =
          mech === 'CURVE' && key !== undefined && key.length === 32 && this.allowed.some((a) => a.equals(key));
        if (ok) this.allowedCount++;
        else {
          this.deniedCount++;
          this.onDenied(address?.toString() ?? '', mech);
        }
        await this.sock.send([
          rid,
          '',
          '1.0',
          requestId,
          ok ? '200' : '400',
          ok ? 'OK' : 'client key not allowed',
          ok ? key!.toString('hex').slice(0, 16) : '',
          '',
        ]);
      }
    } catch (err) {
      if (!this.sock.closed) throw err;
    }
  }

  async close(): Promise<void> {
    this.sock.close();
    await this.loop?.catch(() => {});
  }
}
