/**
 * A lean gRPC unary load generator on node:http2: the request message is encoded by hand (a few string fields),
 * sent as one length-prefixed frame on a stream of one HTTP/2 session per server, and a call is answered when its
 * trailers say grpc-status 0 (anything else rejects with that status and message). What ghz or h2load would be, were
 * they installable here: the load generator shares the machine's two cores with the servers it measures, and
 * grpc-js's client spends ~0.3 ms of CPU per call (interceptors, call objects, metadata), as much as a MOC host's whole
 * submit path — a figure about the servers should not be mostly one about their client.
 */
import http2 from 'node:http2';
import net from 'node:net';

/** A protobuf message of string fields only: field number → value (empty strings left out, as proto3 does). */
export function encodeStrings(fields: Record<number, string>): Buffer {
  const parts: Buffer[] = [];
  for (const [n, v] of Object.entries(fields)) {
    if (v === '') continue;
    const bytes = Buffer.from(v, 'utf8');
    parts.push(varint((Number(n) << 3) | 2), varint(bytes.length), bytes);
  }
  return Buffer.concat(parts);
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

export interface UnaryClient {
  /** One call of `path` (/package.Service/Method) with an encoded message; resolves with the response message bytes. */
  call(method: string, message: Buffer, deadlineMs?: number): Promise<Buffer>;
  close(): void;
}

export function unaryClient(address: string): UnaryClient {
  // TCP_NODELAY, as gRPC's clients set it (grpc-js since 1.13.3, the C core, Go, Java): with Nagle on, a request's
  // frames written apart wait for the server's delayed ACK whenever the connection is not busy.
  const i = address.lastIndexOf(':');
  const session = http2.connect(`http://${address}`, {
    createConnection: () =>
      net.connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)), noDelay: true }),
  });
  session.on('error', () => {}); // a call in flight rejects with its stream's error
  return {
    call(method, message, deadlineMs = 30_000) {
      return new Promise((resolve, reject) => {
        const frame = Buffer.allocUnsafe(5 + message.length);
        frame.writeUInt8(0, 0);
        frame.writeUInt32BE(message.length, 1);
        message.copy(frame, 5);
        const stream = session.request({
          ':method': 'POST',
          ':path': method,
          'content-type': 'application/grpc',
          te: 'trailers',
          'grpc-timeout': `${deadlineMs}m`,
        });
        const chunks: Buffer[] = [];
        let status: string | undefined;
        let why = '';
        stream.on('response', (h) => {
          // A trailers-only answer (an error before any message) carries grpc-status in the headers.
          if (h['grpc-status'] !== undefined) {
            status = String(h['grpc-status']);
            why = decodeURIComponent(String(h['grpc-message'] ?? ''));
          }
        });
        stream.on('trailers', (h) => {
          status = String(h['grpc-status']);
          why = decodeURIComponent(String(h['grpc-message'] ?? ''));
        });
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('error', reject);
        stream.on('close', () => {
          if (status === '0') return resolve(Buffer.concat(chunks).subarray(5));
          reject(Object.assign(new Error(why || `stream closed (${stream.rstCode})`), { code: status ?? 'closed' }));
        });
        stream.end(frame);
      });
    },
    close() {
      session.close();
    },
  };
}
