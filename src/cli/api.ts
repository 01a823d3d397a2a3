/**
 * The `moc` client commands' connection to a server: REST at MOC_URL (default http://127.0.0.1:8008) with MOC_API_KEY
 * as a bearer key. A server's error becomes a CliError with the exit code scripts can rely on (docs/cli.md).
 */

/** Exit codes, the same for every command (docs/cli.md). */
export const EXIT = {
  OK: 0,
  /** The server refused or failed the request (any error not below). */
  FAILED: 1,
  /** Bad arguments: nothing was sent. */
  USAGE: 2,
  /** No server answered at MOC_URL. */
  UNREACHABLE: 3,
  /** The model, job or goal does not exist (404). */
  NOT_FOUND: 4,
  /** No key, a wrong key, or a key whose role may not do this (401, 403). */
  AUTH: 5,
  /** Busy, rate limited or shutting down (429, 503): the same command may succeed later. */
  RETRY: 6,
  /** A watched job ended failed or cancelled. */
  JOB_NOT_SUCCEEDED: 7,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly code?: string,
  ) {
    super(message);
  }
}

function exitOf(status: number): number {
  if (status === 404) return EXIT.NOT_FOUND;
  if (status === 401 || status === 403) return EXIT.AUTH;
  if (status === 429 || status === 503) return EXIT.RETRY;
  return EXIT.FAILED;
}

export interface SseEvent {
  event: string;
  data: unknown;
}

export class Api {
  readonly base: string;
  constructor(
    base = process.env.MOC_URL || 'http://127.0.0.1:8008',
    private readonly key = process.env.MOC_API_KEY || '',
  ) {
    this.base = base.replace(/\/+$/, '');
  }

  private async send(method: string, path: string, body?: unknown): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers: {
          ...(this.key ? { authorization: `Bearer ${this.key}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(
        `no MOC server answered at ${this.base} (${cause?.code ?? cause?.message ?? (err as Error).message}); start one with 'moc serve' or set MOC_URL`,
        EXIT.UNREACHABLE,
      );
    }
    if (res.ok) return res;
    let code: string | undefined;
    let message = `${res.status} ${res.statusText}`;
    try {
      const e = ((await res.json()) as { error?: { code?: string; message?: string } }).error;
      code = e?.code;
      if (e?.message) message = e.message;
    } catch {
      /* not JSON: keep the status line */
    }
    throw new CliError(code ? `${code}: ${message}` : message, exitOf(res.status), code);
  }

  /** The answer's JSON, as the server's schema for that route says it is (schemas/rest.ts): not validated again here. */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await (await this.send(method, path, body)).json()) as T;
  }

  /** A Server-Sent Events answer, event by event. An error before the stream starts throws as json() does. */
  async *events(method: string, path: string, body?: unknown): AsyncGenerator<SseEvent> {
    const res = await this.send(method, path, body);
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
        }
        if (!data.length) continue; // a comment (": stream open")
        const text = data.join('\n');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          /* plain text */
        }
        yield { event, data: parsed };
      }
    }
  }
}
