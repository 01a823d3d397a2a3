/**
 * The official `openai` npm client, unchanged, against the OpenAI-compatible routes (base URL /openai/v1): models,
 * chat (plain and streamed, with usage in the last chunk), completion (plain, streamed, echo, several prompts), n
 * choices, seed reproducibility, stop strings, top_p, a prompt too long for the context (a clear error, never a cut),
 * an unknown model (404 in OpenAI's shape), a wrong key (401), an infer key on nothing it may not do, overload (429
 * with Retry-After), and fields this server does not serve refused by name (tool calls: openai-tool-calls.test.ts).
 */
import t from 'tap';
import OpenAI from 'openai';
import * as grpc from '@grpc/grpc-js';
import { startHarness } from '../helpers/coordinator.js';
import { LONG_MAX_TOKENS, longModel, startGeneration } from '../helpers/long-generation.js';

const KEY = 'openai-test-key-0123456789';

t.test('the openai client against /openai/v1', async (t) => {
  const h = await startHarness(t, { auth: { keys: [{ role: 'admin', key: KEY }] } });
  // maxRetries 0: the client would otherwise retry 429s and 5xx by itself, hiding what the server answered.
  const client = new OpenAI({ baseURL: `${h.restUrl}/openai/v1`, apiKey: KEY, maxRetries: 0 });

  const models = await client.models.list();
  t.ok(
    models.data.some((m) => m.id === 'moc-demo' && m.object === 'model'),
    'models.list names the demo model',
  );
  t.equal((await client.models.retrieve('moc-demo')).id, 'moc-demo', 'models.retrieve');

  const chat = await client.chat.completions.create({
    model: 'moc-demo',
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hello there' },
    ],
    max_tokens: 8,
    temperature: 0,
  });
  t.equal(chat.object, 'chat.completion');
  t.match(chat.id, /^chatcmpl-/);
  t.equal(chat.choices.length, 1);
  t.equal(chat.choices[0]!.message.role, 'assistant');
  t.type(chat.choices[0]!.message.content, 'string');
  t.equal(chat.choices[0]!.finish_reason, 'length', 'stopped by max_tokens: length');
  t.equal(chat.usage?.completion_tokens, 8, 'usage: 8 completion tokens');
  t.ok(
    chat.usage!.prompt_tokens > 5,
    `usage: prompt tokens counted after the chat template (${chat.usage!.prompt_tokens})`,
  );
  t.equal(chat.usage!.total_tokens, chat.usage!.prompt_tokens + 8);

  // Streamed: the text of the chunks is the text of the same request unstreamed (temperature 0).
  const stream = await client.chat.completions.create({
    model: 'moc-demo',
    messages: [{ role: 'user', content: 'Hello there' }],
    max_tokens: 12,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  });
  let streamed = '';
  let role: string | undefined;
  let finish: string | null | undefined;
  let usage: OpenAI.CompletionUsage | null | undefined;
  let chunks = 0;
  for await (const c of stream) {
    chunks++;
    t.equal(c.object, 'chat.completion.chunk');
    if (c.usage) usage = c.usage;
    const ch = c.choices[0];
    if (!ch) continue;
    role ??= ch.delta.role;
    streamed += ch.delta.content ?? '';
    if (ch.finish_reason) finish = ch.finish_reason;
  }
  const plain = await client.chat.completions.create({
    model: 'moc-demo',
    messages: [{ role: 'user', content: 'Hello there' }],
    max_tokens: 12,
    temperature: 0,
  });
  t.ok(chunks > 2, `streamed in ${chunks} chunks`);
  t.equal(role, 'assistant', 'the first chunk carries the role');
  t.equal(streamed, plain.choices[0]!.message.content, 'the streamed text equals the unstreamed one');
  t.equal(finish, 'length');
  const { prompt_tokens_details: _, ...counts } = usage ?? {};
  const { prompt_tokens_details: cached, ...plainCounts } = plain.usage ?? {};
  t.same(counts, plainCounts, 'usage in the last chunk (stream_options.include_usage)');
  // The same chat again (after the streamed one): its prompt is in the prompt cache, all but the last token
  // (docs/models.md).
  t.equal(cached?.cached_tokens, plain.usage!.prompt_tokens - 1, 'the repeated prompt was found in the prompt cache');

  // Completions: plain, echo, two prompts × n 2, streamed.
  const comp = await client.completions.create({
    model: 'moc-demo',
    prompt: 'Once upon a time',
    max_tokens: 6,
    temperature: 0,
  });
  t.equal(comp.object, 'text_completion');
  t.equal(comp.choices[0]!.finish_reason, 'length');
  t.equal(comp.usage?.completion_tokens, 6);
  const echo = await client.completions.create({
    model: 'moc-demo',
    prompt: 'Once upon a time',
    max_tokens: 6,
    temperature: 0,
    echo: true,
  });
  t.equal(
    echo.choices[0]!.text,
    `Once upon a time${comp.choices[0]!.text}`,
    'echo: the prompt, then the same completion',
  );
  const multi = await client.completions.create({
    model: 'moc-demo',
    prompt: ['alpha', 'beta'],
    n: 2,
    max_tokens: 4,
    temperature: 0,
  });
  t.same(
    multi.choices.map((c) => c.index),
    [0, 1, 2, 3],
    'two prompts × n 2: four choices, indexed prompt-major',
  );
  t.equal(multi.choices[0]!.text, multi.choices[1]!.text, 'temperature 0: the two choices of one prompt agree');
  t.equal(multi.usage?.completion_tokens, 16);
  const cstream = await client.completions.create({
    model: 'moc-demo',
    prompt: 'Once upon a time',
    max_tokens: 6,
    temperature: 0,
    stream: true,
  });
  let ctext = '';
  for await (const c of cstream) ctext += c.choices[0]?.text ?? '';
  t.equal(ctext, comp.choices[0]!.text, 'streamed completion text equals the plain one');

  // n: 3 run as parallel sequences; a seed makes them repeat, and they differ from each other.
  const ask = (seed: number) =>
    client.chat.completions.create({
      model: 'moc-demo',
      messages: [{ role: 'user', content: 'Tell me something' }],
      n: 3,
      max_tokens: 16,
      temperature: 1.5,
      seed,
    });
  const [a, b, c] = await Promise.all([ask(42), ask(42), ask(7)]);
  t.equal(a.choices.length, 3, 'n: 3 choices');
  t.same(
    a.choices.map((x) => x.index),
    [0, 1, 2],
  );
  t.same(
    a.choices.map((x) => x.message.content),
    b.choices.map((x) => x.message.content),
    'the same seed: the same three answers',
  );
  t.not(a.choices[0]!.message.content, c.choices[0]!.message.content, 'another seed: another answer');
  t.ok(new Set(a.choices.map((x) => x.message.content)).size > 1, 'the choices of one request differ (seed + index)');
  t.equal(a.usage?.completion_tokens, 48, 'usage counts every choice');

  // Stop strings: the answer ends before the stop string, finish_reason stop.
  const long = await client.completions.create({ model: 'moc-demo', prompt: 'abc', max_tokens: 40, temperature: 0 });
  const text = long.choices[0]!.text;
  // A two-character stop string from the greedy answer that does not occur earlier in it (no spaces: a stop string
  // ending in a space did not stop the demo model in node-llama-cpp — noted in docs/openai.md).
  const at = Array.from({ length: text.length }, (_, i) => i).find(
    (i) =>
      i >= 3 && /^[^\s\uFFFD]{2}$/.test(text.slice(i, i + 2)) && !text.slice(0, i + 1).includes(text.slice(i, i + 2)),
  );
  t.ok(at !== undefined, `a stop string can be picked from ${JSON.stringify(text)}`);
  const stopAt = text.slice(at!, at! + 2);
  const stopped = await client.completions.create({
    model: 'moc-demo',
    prompt: 'abc',
    max_tokens: 40,
    temperature: 0,
    stop: [stopAt],
  });
  const cut = stopped.choices[0]!.text;
  // The text before it, up to the demo model's incomplete UTF-8 bytes (shown as U+FFFD either way).
  t.ok(
    !cut.includes(stopAt) && text.startsWith(cut.replace(/\uFFFD+$/, '')) && cut.length <= at!,
    `stopped before '${stopAt}': ${JSON.stringify(cut)}`,
  );
  t.equal(stopped.choices[0]!.finish_reason, 'stop');
  t.ok(stopped.usage!.completion_tokens < 40, 'fewer tokens than max_tokens');
  const nucleus = await client.completions.create({
    model: 'moc-demo',
    prompt: 'abc',
    max_tokens: 8,
    temperature: 1,
    top_p: 0.01,
    seed: 3,
  });
  t.equal(
    nucleus.choices[0]!.text,
    (await client.completions.create({ model: 'moc-demo', prompt: 'abc', max_tokens: 8, temperature: 0 })).choices[0]!
      .text,
    'top_p 0.01 keeps only the likeliest token: the greedy answer',
  );

  // logprobs: the model's own log-probabilities of the tokens it generated, with the likeliest alternatives.
  const lp = await client.chat.completions.create({
    model: 'moc-demo',
    messages: [{ role: 'user', content: 'Write a poem' }],
    max_tokens: 6,
    temperature: 0,
    logprobs: true,
    top_logprobs: 3,
  });
  const content = lp.choices[0]!.logprobs?.content ?? [];
  t.ok(content.length >= 1 && content.length <= 6, `one entry per generated token (${content.length})`);
  // Byte tokens of a character split across tokens each show as U+FFFD alone: compared without those.
  const noFffd = (x: string) => x.replaceAll('\uFFFD', '');
  const spelt = noFffd(content.map((c) => c.token).join(''));
  t.ok(
    spelt.length > 0 && noFffd(lp.choices[0]!.message.content!).startsWith(spelt),
    `the tokens spell the answer (${JSON.stringify(spelt)} of ${JSON.stringify(lp.choices[0]!.message.content)})`,
  );
  t.ok(
    content.every((c) => c.logprob <= 0 && c.top_logprobs.length === 3),
    'each logprob ≤ 0, with 3 alternatives',
  );
  t.ok(
    content.every(
      (c) => c.top_logprobs[0]!.logprob >= c.top_logprobs[1]!.logprob && c.top_logprobs[0]!.logprob >= c.logprob - 1e-9,
    ),
    'alternatives likeliest first; none beats the first',
  );
  t.ok(
    content.every((c) => Array.isArray(c.bytes)),
    'with bytes',
  );
  t.equal(
    lp.choices[0]!.message.content,
    (
      await client.chat.completions.create({
        model: 'moc-demo',
        messages: [{ role: 'user', content: 'Write a poem' }],
        max_tokens: 6,
        temperature: 0,
      })
    ).choices[0]!.message.content,
    'asking for logprobs does not change the answer',
  );
  const clp = await client.completions.create({
    model: 'moc-demo',
    prompt: 'Once upon a time',
    max_tokens: 5,
    temperature: 0,
    logprobs: 2,
  });
  const l = clp.choices[0]!.logprobs!;
  t.ok(
    l.tokens!.length >= 1 &&
      [l.token_logprobs, l.top_logprobs, l.text_offset].every((a) => a!.length === l.tokens!.length),
    'completions: parallel arrays of one length',
  );
  t.ok(
    l.top_logprobs!.every((m) => Object.keys(m).length >= 1 && Object.keys(m).length <= 2),
    'top_logprobs: at most 2 alternatives each',
  );
  t.same(l.text_offset!.slice(0, 2), [0, l.tokens![0]!.length], 'text_offset: where each token starts');
  const slp = await client.chat.completions.create({
    model: 'moc-demo',
    messages: [{ role: 'user', content: 'Write a poem' }],
    max_tokens: 6,
    temperature: 0,
    logprobs: true,
    top_logprobs: 3,
    stream: true,
  });
  let streamedLp: unknown[] = [];
  for await (const c of slp)
    if (c.choices[0]?.logprobs?.content) streamedLp = streamedLp.concat(c.choices[0].logprobs.content);
  t.same(
    streamedLp.map((x: any) => x.token),
    content.map((c) => c.token),
    'streamed: the same tokens, with the finish chunk',
  );
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${KEY}`);
  const grpcLp = await new Promise<any>((resolve, reject) =>
    h.client.Infer(
      { model: 'moc-demo', prompt: 'Once upon a time', max_tokens: 5, temperature: 0, logprobs: 2 },
      md,
      { deadline: Date.now() + 20_000 },
      (e: Error | null, r: any) => (e ? reject(e) : resolve(r)),
    ),
  );
  t.same(
    grpcLp.logprobs.map((x: any) => x.token),
    l.tokens,
    'gRPC Infer carries the same logprobs',
  );

  // Penalties change what greedy decoding repeats.
  const base = await client.completions.create({ model: 'moc-demo', prompt: 'abc', max_tokens: 30, temperature: 0 });
  const penalised = await client.completions.create({
    model: 'moc-demo',
    prompt: 'abc',
    max_tokens: 30,
    temperature: 0,
    frequency_penalty: 2,
    presence_penalty: 2,
  });
  t.not(
    penalised.choices[0]!.text,
    base.choices[0]!.text,
    'frequency and presence penalties change a repetitive answer',
  );

  // Without max_tokens, as OpenAI: chat runs until the model stops or the context is full; completions write 16.
  const ctx = (
    (await (
      await fetch(`${h.restUrl}/v1/models/moc-demo`, { headers: { authorization: `Bearer ${KEY}` } })
    ).json()) as { context_size: number }
  ).context_size;
  const open = await client.chat.completions.create({
    model: 'moc-demo',
    messages: [{ role: 'user', content: 'Go on' }],
    temperature: 1,
    seed: 2,
  });
  const u = open.usage!;
  if (open.choices[0]!.finish_reason === 'length')
    t.equal(u.prompt_tokens + u.completion_tokens, ctx, `no max_tokens: the context (${ctx}) filled`);
  else
    t.ok(
      u.prompt_tokens + u.completion_tokens < ctx && u.completion_tokens > 64,
      `no max_tokens: the model stopped by itself after ${u.completion_tokens} tokens, past the server's default of 64`,
    );
  const legacy = await client.completions.create({ model: 'moc-demo', prompt: 'Once upon a time', temperature: 0 });
  t.equal(legacy.usage?.completion_tokens, 16, "completions without max_tokens: 16, OpenAI's default there");
  const own = await fetch(`${h.restUrl}/v1/infer`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'moc-demo', prompt: 'Once', max_tokens: -1, temperature: 1, seed: 5 }),
  });
  const rest = (await own.json()) as { prompt_tokens: number; tokens_generated: number; finish_reason: string };
  t.equal(own.status, 200, "MOC's own route takes max_tokens -1");
  if (rest.finish_reason === 'length')
    t.equal(rest.prompt_tokens + rest.tokens_generated, ctx, "max_tokens -1: to the context's end");
  else t.equal(rest.finish_reason, 'eos', `max_tokens -1: or until the model stops (${rest.tokens_generated} tokens)`);
  const zero = await fetch(`${h.restUrl}/v1/infer`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'moc-demo', prompt: 'Once', max_tokens: 0 }),
  });
  t.match(
    await zero.json(),
    { error: { code: 'MOC_ERR_INVALID_ARGUMENT', message: /max_tokens: is 0, which generates nothing/ } },
    'max_tokens 0: refused, saying what to send',
  );

  // Errors, in OpenAI's shape, raised by the client as its own exception classes.
  const tooLong = await client.completions
    .create({ model: 'moc-demo', prompt: 'x'.repeat(3000), max_tokens: 4 })
    .catch((e) => e);
  t.ok(tooLong instanceof OpenAI.BadRequestError, 'a prompt longer than the context: 400');
  t.equal(tooLong.code, 'context_length_exceeded');
  t.match(tooLong.message, /exceeds the model's context of 512 tokens/);
  const unknown = await client.chat.completions
    .create({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] })
    .catch((e) => e);
  t.ok(unknown instanceof OpenAI.NotFoundError, 'an unknown model: 404');
  t.equal(unknown.code, 'model_not_found');
  t.equal(unknown.type, 'invalid_request_error');
  const wrongKey = await new OpenAI({
    baseURL: `${h.restUrl}/openai/v1`,
    apiKey: 'not-a-key-0123456789',
    maxRetries: 0,
  }).models
    .list()
    .catch((e) => e);
  t.ok(wrongKey instanceof OpenAI.AuthenticationError, 'a wrong key: 401');
  t.equal(wrongKey.code, 'invalid_api_key');
  const tools = await client.chat.completions
    .create({
      model: 'moc-demo',
      messages: [{ role: 'user', content: 'hi' }],
      tools: [{ type: 'function', function: { name: 'f', parameters: {} } }],
    })
    .catch((e) => e);
  t.ok(tools instanceof OpenAI.BadRequestError, 'tools on a model without a tool template: refused, not ignored');
  t.match(tools.message, /model 'moc-demo' cannot call tools: its GGUF has no chat template/);
  t.equal(tools.param, 'tools');
  const image = await client.chat.completions
    .create({
      model: 'moc-demo',
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] }],
    })
    .catch((e) => e);
  t.ok(image instanceof OpenAI.BadRequestError, 'an image: refused');
  t.match(image.message, /'image_url' content is not supported/);
  const odd = await fetch(`${h.restUrl}/openai/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'moc-demo', messages: [{ role: 'user', content: 'hi' }], temprature: 0.5 }),
  });
  t.equal(odd.status, 400, 'a misspelt field: 400');
  t.match(((await odd.json()) as any).error.message, /Unrecognized request argument supplied: temprature/);
  const metrics = await (await fetch(`${h.restUrl}/metrics`, { headers: { authorization: `Bearer ${KEY}` } })).text();
  t.match(
    metrics,
    /moc_requests_total\{transport="rest",operation="none",code="MOC_ERR_INVALID_ARGUMENT"\} [2-9]/,
    'refusals before any inference are counted (image, misspelt field)',
  );
  t.match(
    metrics,
    /moc_requests_total\{transport="rest",operation="infer",code="OK"\} \d+/,
    'each choice counts as an infer operation',
  );
});

t.test('overload: 429 with Retry-After, raised by the client as RateLimitError', async (t) => {
  const h = await startHarness(t, { devices: [{ id: 'cpu0', memory: '1GiB', maxQueue: 1 }] });
  await h.unary('LoadModel', longModel('long', 1));
  const held = startGeneration(h.client, {
    model: 'long',
    prompt: 'hold',
    max_tokens: LONG_MAX_TOKENS,
    temperature: 0,
  });
  await held.started;
  const client = new OpenAI({ baseURL: `${h.restUrl}/openai/v1`, apiKey: 'unused-in-open-mode', maxRetries: 0 });
  // One sequence busy and a queue of one: of three at once, one waits in the queue and two are refused at once.
  let settled = 0;
  let twoSettled!: () => void;
  const two = new Promise<void>((r) => {
    twoSettled = r;
  });
  const burst = [0, 1, 2].map((i) =>
    client.chat.completions
      .create({ model: 'long', messages: [{ role: 'user', content: `burst ${i}` }], max_tokens: 2 })
      .then(
        () => 'ok' as const,
        (e: unknown) => e,
      )
      .finally(() => {
        if (++settled === 2) twoSettled();
      }),
  );
  await two;
  held.cancel(); // frees the sequence: the queued one runs
  await held.ended;
  const answers = await Promise.all(burst);
  const refused = answers.filter((a) => a instanceof OpenAI.RateLimitError) as InstanceType<
    typeof OpenAI.RateLimitError
  >[];
  t.equal(refused.length, 2, 'two of three refused with 429 (RateLimitError)');
  t.equal(answers.filter((a) => a === 'ok').length, 1, 'the queued one served once the sequence was free');
  t.ok(Number(refused[0]!.headers?.get('retry-after')) >= 1, 'with Retry-After');
  t.equal((refused[0]!.error as any)?.moc_code, 'MOC_ERR_BUSY');
  const after = await client.chat.completions.create({
    model: 'moc-demo',
    messages: [{ role: 'user', content: 'after' }],
    max_tokens: 2,
  });
  t.equal(after.choices.length, 1, 'served again');
});
