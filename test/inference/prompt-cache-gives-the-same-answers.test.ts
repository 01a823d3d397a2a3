/**
 * The prompt cache (docs/models.md) changes what is evaluated, never what is generated: across the turns of a
 * conversation, each request is sent twice at temperature 0 — through the cache, and with `cache_prompt: false` — and
 * the answers are the same text, token for token, the same logprobs and the same finish reason, on chats (with
 * logprobs), completions, tools and JSON-schema answers. The cached one says how many prompt tokens it found
 * (`cached_tokens` on every transport, OpenAI's usage), the metrics count them, and no caller finds another's prefix
 * unless the cache is configured as shared.
 */
import t from 'tap';
import path from 'node:path';
import { startHarness, type Harness } from '../helpers/coordinator.js';
import { zmqRequest } from '../helpers/zmq.js';
import { writeTinyLlamaGguf } from '../../src/model/demo-model.js';
import { HERMES_TOOLS_SPECIAL_TOKENS, HERMES_TOOLS_TEMPLATE } from '../../src/model/chat-templates.js';

type Json = Record<string, any>;

async function openai(h: Harness, route: string, body: Json, key?: string): Promise<Json> {
  const r = await fetch(`${h.restUrl}/openai/v1/${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify(body),
  });
  const out = (await r.json()) as Json;
  if (r.status !== 200) throw new Error(`${route}: ${r.status} ${JSON.stringify(out)}`);
  return out;
}

const cachedOf = (r: Json): number => r.usage.prompt_tokens_details.cached_tokens;
/** What must not depend on the cache: every choice's text, tool calls (less their random ids), logprobs, finish. */
const answerOf = (r: Json) =>
  r.choices.map((c: Json) => ({
    text: c.text ?? c.message?.content,
    calls: c.message?.tool_calls?.map((x: Json) => x.function),
    logprobs: c.logprobs,
    finish: c.finish_reason,
  }));

t.test('cache on and off: the same answers across a conversation’s turns', async (t) => {
  const h = await startHarness(t, {});
  await writeTinyLlamaGguf(path.join(h.modelsRoot, 'moc-tools.gguf'), {
    name: 'moc-tools',
    chatTemplate: HERMES_TOOLS_TEMPLATE,
    specialTokens: HERMES_TOOLS_SPECIAL_TOKENS,
  });
  await h.unary('LoadModel', { name: 'moc-tools', path: 'moc-tools.gguf', context_size: 2048, sequences: 4 });

  /** Sends `body` through the cache, then without it; checks the answers agree; returns the cached one. */
  const twice = async (what: string, route: string, body: Json, turn: number) => {
    const cached = await openai(h, route, body);
    const fresh = await openai(h, route, { ...body, cache_prompt: false });
    t.same(answerOf(cached), answerOf(fresh), `${what}, turn ${turn}: the same answer with and without the cache`);
    t.equal(cachedOf(fresh), 0, `${what}, turn ${turn}: cache_prompt false finds nothing`);
    if (turn > 0)
      t.ok(cachedOf(cached) > 0, `${what}, turn ${turn}: ${cachedOf(cached)} of ${cached.usage.prompt_tokens} cached`);
    t.ok(cachedOf(cached) < cached.usage.prompt_tokens, `${what}: the last prompt token is always evaluated`);
    return cached;
  };

  // A chat with logprobs: each turn adds the answer and a new question.
  const messages: Json[] = [{ role: 'system', content: 'You are a terse assistant. Answer in one short line.' }];
  for (let turn = 0; turn < 4; turn++) {
    messages.push({ role: 'user', content: `Question ${turn}: what comes after ${turn}?` });
    const r = await twice(
      'chat',
      'chat/completions',
      { model: 'moc-demo', messages, max_tokens: 10, temperature: 0, logprobs: true, top_logprobs: 3 },
      turn,
    );
    t.equal(r.choices[0].logprobs.content.length, r.usage.completion_tokens, 'one logprob per token');
    messages.push({ role: 'assistant', content: r.choices[0].message.content });
  }

  // Completions: the prompt grows by its own answer and a little more; two choices a request.
  let prompt = 'Once upon a time, in a land far away,';
  for (let turn = 0; turn < 3; turn++) {
    const r = await twice(
      'completions',
      'completions',
      { model: 'moc-demo', prompt, max_tokens: 8, temperature: 0, n: 2 },
      turn,
    );
    prompt += `${r.choices[0].text} and then`;
  }

  // JSON answers to a schema.
  const schema = {
    type: 'object',
    properties: { name: { type: 'string', maxLength: 12 }, n: { type: 'integer' } },
    required: ['name', 'n'],
    additionalProperties: false,
  };
  const chat: Json[] = [{ role: 'user', content: 'Name a city and a number.' }];
  for (let turn = 0; turn < 2; turn++) {
    const r = await twice(
      'json_schema',
      'chat/completions',
      {
        model: 'moc-demo',
        messages: chat,
        max_tokens: 40,
        temperature: 0,
        response_format: { type: 'json_schema', json_schema: { name: 'city', schema } },
      },
      turn,
    );
    chat.push({ role: 'assistant', content: r.choices[0].message.content }, { role: 'user', content: 'Another.' });
  }

  // Tools: a call, its result, and the next turn.
  const tools = [
    {
      type: 'function',
      function: {
        name: 'get_weather',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      },
    },
  ];
  const talk: Json[] = [
    { role: 'system', content: 'Use the tools.' },
    { role: 'user', content: 'What is the weather in Paris?' },
  ];
  for (let turn = 0; turn < 2; turn++) {
    const r = await twice(
      'tools',
      'chat/completions',
      { model: 'moc-tools', messages: talk, tools, max_tokens: 48, temperature: 0, parallel_tool_calls: false },
      turn,
    );
    const m = r.choices[0].message;
    talk.push({ role: 'assistant', content: m.content ?? '', ...(m.tool_calls ? { tool_calls: m.tool_calls } : {}) });
    for (const c of m.tool_calls ?? []) talk.push({ role: 'tool', tool_call_id: c.id, content: '{"sunny":true}' });
    talk.push({ role: 'user', content: 'And tomorrow?' });
  }

  // cached_tokens on gRPC, REST and ZMQ: the same prompt twice, the second finds all but its last token.
  const ask = { model: 'moc-demo', prompt: 'The same prompt on every transport, twice.', max_tokens: 3 };
  const grpc = [await h.unary('Infer', ask), await h.unary('Infer', ask)];
  t.same(
    grpc.map((r) => r.cached_tokens),
    [0, grpc[1].prompt_tokens - 1],
    'gRPC: cached_tokens',
  );
  const rest = async () =>
    (await (
      await fetch(`${h.restUrl}/v1/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(ask),
      })
    ).json()) as Json;
  t.equal((await rest()).cached_tokens, grpc[1].prompt_tokens - 1, 'REST: cached_tokens');
  const z = await zmqRequest(h.zmqUrl, { action: 'infer', ...ask });
  t.equal(z.cached_tokens, grpc[1].prompt_tokens - 1, 'ZMQ: cached_tokens');

  const metrics = await (await fetch(`${h.restUrl}/metrics`)).text();
  const value = (name: string) =>
    Number(new RegExp(`^${name}\\{model="moc-demo"[^}]*\\} (\\S+)$`, 'm').exec(metrics)?.[1] ?? Number.NaN);
  const hits = value('moc_prefix_cache_hits_total');
  const queries = value('moc_prefix_cache_queries_total');
  t.ok(hits > 0 && queries > hits, `metrics: ${hits} of ${queries} prompt tokens found in the cache`);
  const usage = value('moc_kv_cache_usage_ratio');
  t.ok(usage > 0 && usage <= 1, `metrics: the KV cache is ${usage} full`);
  const model = await h.unary('GetModel', { name: 'moc-demo' });
  t.ok(model.kv_cache_usage > 0, `GetModel: kv_cache_usage ${model.kv_cache_usage}`);
});

const A = 'cache-caller-a-0123456789';
const B = 'cache-caller-b-0123456789';
const keys = [
  { name: 'a', role: 'admin', key: A },
  { name: 'b', role: 'admin', key: B },
];
const body = { model: 'moc-demo', prompt: 'A long and private prompt that one caller sent first.', max_tokens: 3 };

t.test('scope caller (the default): no caller finds another’s prefix', async (t) => {
  const h = await startHarness(t, { auth: { keys } });
  const first = await openai(h, 'completions', body, A);
  t.equal(cachedOf(first), 0, 'a, first: nothing cached');
  t.equal(cachedOf(await openai(h, 'completions', body, B)), 0, 'b, the same prompt: nothing of a’s found');
  t.equal(cachedOf(await openai(h, 'completions', body, A)), first.usage.prompt_tokens - 1, 'a again: its own found');
});

t.test('scope shared: every caller finds every prefix; enabled false: none', async (t) => {
  const shared = await startHarness(t, { auth: { keys }, promptCache: { scope: 'shared' } });
  const first = await openai(shared, 'completions', body, A);
  t.equal(cachedOf(await openai(shared, 'completions', body, B)), first.usage.prompt_tokens - 1, 'b finds a’s prefix');
  await shared.close();
  const off = await startHarness(t, { promptCache: { enabled: false } });
  await openai(off, 'completions', body);
  t.equal(cachedOf(await openai(off, 'completions', body)), 0, 'cache off: the same prompt again finds nothing');
});
