/**
 * The REST port's front: a Node TCP listener that reads the head of each connection's first request before uWS
 * does, because uWebSockets.js 20.30 answers neither an HTTP/1.0 request nor an HTTP/1.1 request without `Host` —
 * it leaves the connection hanging until its idle timeout (HAProxy's default `option httpchk`, ApacheBench and other
 * HTTP/1.0 probes all hit this). No JavaScript hook sees such a request inside uWS, so the front does:
 *
 * - HTTP/1.1 with Host: passed on unchanged, and the connection is then piped both ways (no more parsing).
 * - HTTP/1.0: served as a one-request connection — the request line is sent on as HTTP/1.1 with `Host` (when it
 *   had none) and `Connection: close`, so uWS answers and closes, as an HTTP/1.0 client expects.
 * - HTTP/1.1 without Host (RFC 9112 §3.2: "MUST respond with 400"), Content-Length values that differ (§6.3), another version (HTTP/2 without TLS, 0.9), a head
 *   that is not HTTP, too big, or that does not arrive within HEAD_TIMEOUT_MS: a coded JSON error, then close.
 *
 * uWS itself listens on a Unix socket in a private directory, reachable only through the front. The cost is every
 * byte crossing the main thread once more (docs/performance.md has the REST figures with the front); TLS (SSLApp)
 * cannot be read here, so a TLS REST port is uWS directly, with the hang (docs/operations.md).
 */
import net from 'node:net';
import { errors, type MocError } from '../../errors.js';

/** How long a connection may take to send its first request's head. */
const HEAD_TIMEOUT_MS = 10_000;
/** After uWS closed a connection, how long what the client still sends is read and dropped before it is cut. */
const DRAIN_AFTER_CLOSE_MS = 5000;

export interface FrontOptions {
  /** Where uWS listens (a Unix socket path). */
  upstream: string;
  /** The most bytes a request head may have (request line + headers). */
  maxHeadBytes: number;
  /** Told of each connection refused here, with its error code (the metrics count it). */
  refused?: (code: string) => void;
}

export class HttpFront {
  private readonly server: net.Server;
  /** Connections whose first request head is still being read (nothing of theirs has reached uWS). */
  private readonly pending = new Set<net.Socket>();
  /** Connections piped to uWS: they end when uWS closes its side. */
  private readonly piped = new Set<net.Socket>();

  constructor(private readonly o: FrontOptions) {
    this.server = net.createServer({ noDelay: true }, (c) => this.accept(c));
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', (err) =>
        reject(new Error(`REST cannot listen on ${host}:${port} (${(err as Error).message}); set rest.port`)),
      );
      this.server.listen({ host, port, exclusive: true }, () =>
        resolve((this.server.address() as net.AddressInfo).port),
      );
    });
  }

  /** Stop accepting and drop connections that have not sent a request; piped ones end when uWS closes them. */
  close(): void {
    this.server.close();
    for (const c of this.pending) c.destroy();
  }

  /**
   * close(), then wait up to graceMs for the piped connections to end (uWS's answers still on their way through
   * them), and cut what is left.
   */
  async destroy(graceMs = 1000): Promise<void> {
    this.close();
    const until = Date.now() + graceMs;
    while (this.piped.size && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    for (const c of this.piped) c.destroy();
  }

  get connections(): number {
    return this.pending.size + this.piped.size;
  }

  private accept(c: net.Socket): void {
    this.pending.add(c);
    c.on('close', () => {
      this.pending.delete(c);
      this.piped.delete(c);
    });
    c.on('error', () => c.destroy());
    let head: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      c.off('data', onData);
      this.refuse(
        c,
        errors.invalidArgument(
          'request',
          `its head did not arrive within ${HEAD_TIMEOUT_MS / 1000} s; send the request line and headers at once`,
        ),
      );
    }, HEAD_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      head = head.length ? Buffer.concat([head, chunk]) : chunk;
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > this.o.maxHeadBytes) {
          clearTimeout(timer);
          c.off('data', onData);
          this.refuse(
            c,
            errors.tooLarge(
              'the request head',
              head.length,
              this.o.maxHeadBytes,
              'rest.maxHeaderBytes + rest.maxUrlBytes',
            ),
          );
        }
        return;
      }
      clearTimeout(timer);
      c.off('data', onData);
      c.pause();
      let first: Buffer;
      try {
        first = rewrite(head, end);
      } catch (err) {
        return this.refuse(c, err as MocError);
      }
      this.connect(c, first);
    };
    c.on('data', onData);
    c.on('close', () => clearTimeout(timer));
  }

  private connect(c: net.Socket, first: Buffer): void {
    this.pending.delete(c);
    this.piped.add(c);
    const up = net.connect(this.o.upstream);
    // uWS closed its side (answered a Connection: close, refused a body, shut down): the client's side ends once the
    // answer is flushed. What the client is still sending (a refused body) is read and dropped, as uWS itself does:
    // closing with unread bytes would make the kernel send a reset, and the client could lose the answer.
    up.on('close', () => {
      c.unpipe(up);
      c.on('data', () => {});
      c.resume();
      c.end();
      setTimeout(() => c.destroy(), DRAIN_AFTER_CLOSE_MS).unref();
    });
    // An error (EPIPE: the client was still sending when uWS closed) is followed by 'close', which ends the client's
    // side gracefully; destroying it here would reset the connection under an answer already sent.
    up.on('error', () => {});
    c.on('close', () => up.destroy());
    up.once('connect', () => {
      up.write(first);
      c.pipe(up);
      up.pipe(c);
      c.resume();
    });
  }

  private refuse(c: net.Socket, e: MocError): void {
    this.o.refused?.(e.code);
    // The same shape as every other REST error (Exchange.error).
    const body = JSON.stringify({ error: { code: e.code, message: e.message, details: e.details } });
    const status = e.httpStatus;
    c.end(
      `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
    // Read and drop what the client still sends (see connect), then cut it.
    c.on('data', () => {});
    c.resume();
    setTimeout(() => c.destroy(), DRAIN_AFTER_CLOSE_MS).unref();
  }
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  413: 'Payload Too Large',
  431: 'Request Header Fields Too Large',
  505: 'HTTP Version Not Supported',
};

/**
 * The first request's bytes as uWS will take them; throws the error to answer. `end`: where the head's blank line is.
 * Only the head is looked at; the rest (a body, pipelined requests) is passed on untouched.
 */
export function rewrite(buf: Buffer, end: number): Buffer {
  const lineEnd = buf.indexOf('\r\n');
  const line = buf.toString('latin1', 0, lineEnd);
  const m = /^([A-Z]+) (\S+) HTTP\/(\d)\.(\d)$/.exec(line);
  if (!m)
    throw errors.invalidArgument(
      'request',
      `'${line.slice(0, 80)}' is not an HTTP/1.1 request line (METHOD /path HTTP/1.1)`,
    );
  const version = `${m[3]}.${m[4]}`;
  const headers = end > lineEnd ? buf.toString('latin1', lineEnd + 2, end).split('\r\n') : [];
  const hasHost = headers.some((h) => /^host\s*:/i.test(h));
  // Content-Length values that differ, in two fields or one list (`5, 50`): invalid framing, 400 then close
  // (RFC 9112 §6.3). uWS would close a list without a word; two fields on later requests the REST handler refuses.
  const lengths = headers.flatMap((h) =>
    /^content-length\s*:/i.test(h) ? h.slice(h.indexOf(':') + 1).split(',') : [],
  );
  if (new Set(lengths.map((v) => v.trim())).size > 1)
    throw errors.conflictingContentLength(lengths.map((v) => v.trim()));
  if (version === '1.1') {
    if (hasHost) return buf;
    throw errors.invalidArgument('Host', 'an HTTP/1.1 request must carry a Host header (RFC 9112 §3.2); add one');
  }
  if (version !== '1.0')
    throw errors.invalidArgument(
      'request',
      `HTTP/${version} is not served on the REST port; use HTTP/1.1 (gRPC is the HTTP/2 port)`,
    );
  // HTTP/1.0: one request per connection, told to uWS as HTTP/1.1 that closes.
  const kept = headers.filter((h) => !/^(connection|keep-alive)\s*:/i.test(h));
  const out = [
    `${m[1]} ${m[2]} HTTP/1.1`,
    ...kept,
    ...(hasHost ? [] : ['Host: localhost']),
    'Connection: close',
    '',
    '',
  ].join('\r\n');
  return Buffer.concat([Buffer.from(out, 'latin1'), buf.subarray(end + 4)]);
}
