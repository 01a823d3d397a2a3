/**
 * Issue 24 item 1: a streamed answer with logprobs was cut (no `[DONE]`, curl exit 18, `rest.slow_reader` in the
 * log) although the client read at full speed: all of a choice's logprobs went out as one event larger than the
 * stalled-reader guard's 256 KiB, which counted bytes, not stalling. Now the guard cuts only a reader whose socket takes
 * nothing for rest.sseStallMs (src/transports/rest/sse.ts), and OpenAI streams send logprobs in chunks of bounded
 * size. Here: readers that read get every event to the end, with every logprob (the requests); a reader that
 * never reads is still cut.
 */
import t from 'tap';
import OpenAI from 'openai';
import { startHarness, until } from '../helpers/coordinator.js';
import { spawnChild } from '../helpers/child.js';

const STALL_MS = 1000;

/** The `data:` payloads of an SSE body, with their event names. */
function events(body: string): Array<{ event?: string; data: string }> {
  return body
    .split('\n\n')
    .filter((e) => /^data: /m.test(e))
    .map((e) => ({ event: /^event: (.*)$/m.exec(e)?.[1], data: /^data: (.*)$/m.exec(e)![1]! }));
}

t.test('a reader that reads gets every logprob, however many', async (t) => {
  const h = await startHarness(t, { rest: { sseStallMs: STALL_MS } });
  const stream = async (path: string, body: unknown) => {
    const res = await fetch(`${h.restUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    t.equal(res.status, 200, `${path}: 200`);
    // A cut stream ends the body early (undici raises "terminated"): the text read so far is what counts.
    let text = '';
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
    } catch (err) {
      t.comment(`${path}: the stream broke off after ${text.length} characters: ${(err as Error).message}`);
    }
    return events(text);
  };
  const biggest = (es: Array<{ data: string }>) => Math.max(...es.map((e) => Buffer.byteLength(e.data)));

  // The chat request.
  const chat = await stream('/openai/v1/chat/completions', {
    model: 'moc-demo',
    messages: [{ role: 'user', content: 'Hi' }],
    max_tokens: 300,
    logprobs: true,
    top_logprobs: 20,
    stream: true,
    seed: 3,
    stream_options: { include_usage: true },
  });
  t.equal(chat[chat.length - 1]?.data, '[DONE]', 'chat: the stream ends with [DONE]');
  const chunks = chat.filter((e) => e.data.startsWith('{')).map((e) => JSON.parse(e.data));
  const content = chunks.flatMap((c) => c.choices).flatMap((c: any) => c.logprobs?.content ?? []);
  const text = chunks
    .flatMap((c) => c.choices)
    .map((c: any) => c.delta?.content ?? '')
    .join('');
  const usage = chunks.find((c) => c.usage)?.usage;
  t.equal(content.length, usage?.completion_tokens, `chat: one logprob per token (${content.length})`);
  t.equal(content.map((e: any) => e.token).join(''), text, "chat: the streamed logprobs' tokens join to the text");
  t.ok(biggest(chat) < 64 * 1024, `chat: no event grows with the answer (largest ${biggest(chat)} bytes)`);

  // The official client's stream helper gathers the chunks' logprobs into its final answer.
  const client = new OpenAI({ baseURL: `${h.restUrl}/openai/v1`, apiKey: 'unused', maxRetries: 0 });
  const final = await client.chat.completions
    .stream({
      model: 'moc-demo',
      messages: [{ role: 'user', content: 'Hi' }],
      max_tokens: 60,
      logprobs: true,
      top_logprobs: 20,
      seed: 3,
      stream_options: { include_usage: true },
    })
    .finalChatCompletion();
  const gathered = final.choices[0]!.logprobs?.content ?? [];
  t.equal(gathered.length, final.usage?.completion_tokens, 'openai client: every logprob gathered from the chunks');
  t.equal(gathered.map((e) => e.token).join(''), final.choices[0]!.message.content, 'openai client: they join');

  // The legacy completions, streamed.
  const comp = await stream('/openai/v1/completions', {
    model: 'moc-demo',
    prompt: 'Hi',
    max_tokens: 300,
    logprobs: 5,
    stream: true,
    seed: 3,
    stream_options: { include_usage: true },
  });
  t.equal(comp[comp.length - 1]?.data, '[DONE]', 'completions: the stream ends with [DONE]');
  const cc = comp.filter((e) => e.data.startsWith('{')).map((e) => JSON.parse(e.data));
  const tokens = cc.flatMap((c) => c.choices).flatMap((c: any) => c.logprobs?.tokens ?? []);
  const offsets = cc.flatMap((c) => c.choices).flatMap((c: any) => c.logprobs?.text_offset ?? []);
  t.equal(tokens.length, cc.find((c) => c.usage)?.usage.completion_tokens, 'completions: one logprob per token');
  t.equal(
    tokens.join(''),
    cc
      .flatMap((c) => c.choices)
      .map((c: any) => c.text)
      .join(''),
    'completions: join to text',
  );
  t.same(
    offsets,
    tokens.map((_: string, i: number) => tokens.slice(0, i).join('').length),
    'completions: text_offset counts through the chunks',
  );

  // REST /v1/infer: the `done` event carries the whole answer, logprobs and all; a reader that reads gets it.
  const infer = await stream('/v1/infer', {
    model: 'moc-demo',
    prompt: 'Hi',
    logprobs: 20,
    max_tokens: 400,
    stream: true,
    seed: 3,
  });
  const done = infer.find((e) => e.event === 'done');
  t.ok(done, `infer: the done event arrived (${done ? Buffer.byteLength(done.data) : 0} bytes)`);
  if (done) {
    const r = JSON.parse(done.data);
    t.equal(r.logprobs.length, r.tokens_generated, 'infer: one logprob per token');
  }
});

/**
 * The stalled reader: a Python socket with a 4 KiB receive buffer sends a streamed chat of 16 choices of 400 tokens
 * with 20 alternatives each (~9 MB of events, more than the kernel's buffers hold for it) and never reads. The
 * answer cannot finish: the stream is cut once the socket has taken nothing for rest.sseStallMs.
 */
const STALLED_CLIENT = `
import json, socket, sys, time
port, body = int(sys.argv[1]), sys.argv[2].encode()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", port))
s.sendall(b"POST /openai/v1/chat/completions HTTP/1.1\\r\\nHost: x\\r\\nContent-Type: application/json\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body) + body)
print("sent", flush=True)
sys.stdin.readline()  # the test says when to read again
got, closed = b"", False
s.settimeout(10)
try:
    while True:
        d = s.recv(65536)
        if not d:
            closed = True
            break
        got += d
except ConnectionResetError:
    closed = True
except socket.timeout:
    pass
print(json.dumps({"bytes": len(got), "closed": closed, "done": b"data: [DONE]" in got}), flush=True)
`;

t.test('a reader that stops reading is cut once it has stalled', async (t) => {
  const h = await startHarness(t, { rest: { sseStallMs: STALL_MS, front: false } });
  const port = Number(new URL(h.restUrl).port);
  const body = JSON.stringify({
    model: 'moc-demo',
    messages: [{ role: 'user', content: 'Hi' }],
    max_tokens: 400,
    n: 16,
    logprobs: true,
    top_logprobs: 20,
    stream: true,
    seed: 4,
  });
  const child = spawnChild(t, '/usr/bin/python3', ['-c', STALLED_CLIENT, String(port), body], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => lines.push(...d.split('\n').filter(Boolean)));
  await until('the request is sent', async () => lines.includes('sent') || undefined, 10_000);
  const began = Date.now();
  await until(
    'the choices have ended',
    async () => {
      const dev = ((await (await fetch(`${h.restUrl}/v1/devices`)).json()) as any).devices[0];
      const m = dev.models.find((x: any) => x.name === 'moc-demo');
      return m && m.in_flight === 0 && m.queued === 0 ? m : undefined;
    },
    60_000,
  );
  t.comment(`the choices ended ${Date.now() - began} ms after the request`);
  child.stdin!.write('\n');
  await until('the client has read', async () => lines.find((l) => l.startsWith('{')), 20_000);
  const r = JSON.parse(lines.find((l) => l.startsWith('{'))!);
  t.comment(`the stalled client then read ${r.bytes} bytes`);
  t.ok(r.closed, 'its connection was closed');
  t.notOk(r.done, 'without [DONE]: it was cut, not finished');
  t.ok(r.bytes > 0, 'it had started');
  const next = await fetch(`${h.restUrl}/v1/infer`, {
    method: 'POST',
    body: JSON.stringify({ model: 'moc-demo', prompt: 'after', max_tokens: 3, temperature: 0 }),
  });
  t.equal(next.status, 200, 'the next request is served');
});
