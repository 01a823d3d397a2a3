/**
 * Tool calling through the official `openai` client, unchanged, on a generated model whose GGUF carries Qwen2.5's
 * tool-calling chat template (src/model/chat-templates.ts). The model has random weights, so what it says is noise;
 * what is tested is what the server guarantees whatever the weights: a forced call names the tool and its arguments
 * are a JSON string that parses to the schema's types; streamed calls carry their index and equal the unstreamed
 * ones; calls and results in the history reach the prompt; an agent loop as the client library runs it (runTools); the
 * same call through gRPC and ZMQ; logprobs of a text answer (their tokens write it; a call has none); and every misuse
 * refused by name — tools on a model without a tool template included.
 */
import t, { type Test } from 'tap';
import OpenAI from 'openai';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { startHarness } from '../helpers/coordinator.js';
import { zmqRequest } from '../helpers/zmq.js';
import { writeTinyLlamaGguf } from '../../src/model/demo-model.js';
import { HERMES_TOOLS_SPECIAL_TOKENS, HERMES_TOOLS_TEMPLATE } from '../../src/model/chat-templates.js';

const KEY = 'openai-tools-key-0123456789';

const weather: OpenAI.ChatCompletionFunctionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, days: { type: 'integer' }, unit: { type: 'string', enum: ['c', 'f'] } },
      required: ['city'],
    },
  },
};
const time: OpenAI.ChatCompletionFunctionTool = {
  type: 'function',
  function: {
    name: 'get_time',
    description: 'The time in a zone',
    parameters: { type: 'object', properties: { zone: { type: 'string' } } },
  },
};
const ping: OpenAI.ChatCompletionFunctionTool = { type: 'function', function: { name: 'ping' } };
const ask: OpenAI.ChatCompletionMessageParam[] = [
  { role: 'system', content: 'Use the tools.' },
  { role: 'user', content: 'What is the weather in Paris?' },
];

/** A call's arguments: a JSON string whose values have the schema's types. */
function checkWeatherArgs(t: Test, raw: string): void {
  t.type(raw, 'string', 'arguments are a JSON string, as OpenAI sends them');
  const args = JSON.parse(raw);
  t.type(args.city, 'string', 'city is a string');
  t.ok(Number.isInteger(args.days), `days is an integer (${args.days})`);
  t.ok(['c', 'f'].includes(args.unit), `unit is one of the enum (${args.unit})`);
}

t.test('tool calls with the openai client', async (t) => {
  const h = await startHarness(t, { auth: { keys: [{ role: 'admin', key: KEY }] } });
  await writeTinyLlamaGguf(path.join(h.modelsRoot, 'moc-tools.gguf'), {
    name: 'moc-tools',
    chatTemplate: HERMES_TOOLS_TEMPLATE,
    specialTokens: HERMES_TOOLS_SPECIAL_TOKENS,
  });
  const reg = await fetch(`${h.restUrl}/v1/models`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'moc-tools', path: 'moc-tools.gguf', context_size: 2048, sequences: 2 }),
  });
  t.equal(reg.status, 201, 'the tool model registers');
  const client = new OpenAI({ baseURL: `${h.restUrl}/openai/v1`, apiKey: KEY, maxRetries: 0 });
  // One call an answer (parallel_tool_calls false) where a test reads it whole; parallel calls are tested below.
  const base = {
    model: 'moc-tools',
    messages: ask,
    tools: [weather, time, ping],
    max_tokens: 96,
    temperature: 0,
    parallel_tool_calls: false,
  };

  // A named tool: the call is certain, and its arguments are generated to the schema.
  const named = await client.chat.completions.create({
    ...base,
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
  });
  const choice = named.choices[0]!;
  t.equal(choice.finish_reason, 'tool_calls');
  t.equal(choice.message.content, null, 'content null beside the calls, as OpenAI answers');
  const calls = choice.message.tool_calls!;
  t.ok(calls.length >= 1, `${calls.length} call(s)`);
  const first = calls[0] as OpenAI.ChatCompletionMessageFunctionToolCall;
  t.equal(first.type, 'function');
  t.match(first.id, /^call_[0-9a-f]{24}$/);
  t.equal(first.function.name, 'get_weather', 'the named tool is the one called');
  checkWeatherArgs(t, first.function.arguments);
  // The call's syntax and name are written beside max_tokens (node-llama-cpp counts the arguments only), so usage may pass it.
  t.ok(
    named.usage!.completion_tokens >= first.function.arguments.length / 4,
    `usage counts the call's tokens (${named.usage!.completion_tokens})`,
  );
  const again = await client.chat.completions.create({
    ...base,
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
  });
  t.same(
    (again.choices[0]!.message.tool_calls as OpenAI.ChatCompletionMessageFunctionToolCall[]).map((c) => c.function),
    calls.map((c) => (c as OpenAI.ChatCompletionMessageFunctionToolCall).function),
    'temperature 0: the same call again',
  );

  // required: one of the tools; parallel_tool_calls false: exactly one call.
  const required = await client.chat.completions.create({
    ...base,
    tool_choice: 'required',
    parallel_tool_calls: false,
    temperature: 1,
    seed: 3,
  });
  t.equal(required.choices[0]!.finish_reason, 'tool_calls');
  t.equal(required.choices[0]!.message.tool_calls!.length, 1, 'parallel_tool_calls false: one call');
  const rc = required.choices[0]!.message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
  t.ok(
    ['get_weather', 'get_time', 'ping'].includes(rc.function.name),
    `required: a call to one of the tools (${rc.function.name})`,
  );
  t.type(JSON.parse(rc.function.arguments), 'object', 'its arguments parse to an object');
  const noArgs = await client.chat.completions.create({
    ...base,
    tool_choice: { type: 'function', function: { name: 'ping' } },
  });
  t.same(
    JSON.parse(
      (noArgs.choices[0]!.message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall).function.arguments,
    ),
    {},
    'a tool without parameters is called with {}',
  );

  // n: 2 forced calls, each choice its own.
  const two = await client.chat.completions.create({
    ...base,
    n: 2,
    temperature: 1,
    seed: 9,
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
  });
  t.equal(two.choices.length, 2);
  for (const c of two.choices)
    checkWeatherArgs(t, (c.message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall).function.arguments);

  // auto: the model decides; whatever it does, the answer is consistent.
  const auto = await client.chat.completions.create({ ...base, max_tokens: 24 });
  const ac = auto.choices[0]!;
  // Calls with tool_calls; none with stop; with length, text or a call max_tokens cut.
  if (ac.finish_reason === 'tool_calls') t.ok(ac.message.tool_calls!.length > 0, 'auto: a call');
  else if (ac.finish_reason === 'stop') t.equal(ac.message.tool_calls, undefined, 'auto: text, no call');
  else
    t.equal(ac.finish_reason, 'length', `auto: cut at max_tokens (${ac.message.tool_calls ? 'in a call' : 'in text'})`);

  // Streamed: the calls arrive piece by piece as they are generated, in OpenAI's deltas (the first with id, type and
  // name, every one with the call's index), and add up to the unstreamed ones.
  const stream = await client.chat.completions.create({
    ...base,
    stream: true,
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
  });
  const streamed: { index: number; id?: string; name: string; arguments: string; deltas: number }[] = [];
  let finish: string | null = null;
  let role: string | undefined;
  let shapes = true;
  for await (const c of stream) {
    const ch = c.choices[0];
    if (!ch) continue;
    role ??= ch.delta.role;
    for (const d of ch.delta.tool_calls ?? []) {
      const first = streamed[d.index] === undefined;
      // The first delta of a call names it; the others carry only the next part of its arguments.
      if (
        typeof d.index !== 'number' ||
        first !== (d.id !== undefined && d.type === 'function' && d.function?.name !== undefined)
      )
        shapes = false;
      const at = (streamed[d.index] ??= { index: d.index, name: '', arguments: '', deltas: 0 });
      if (d.id) at.id = d.id;
      at.name += d.function?.name ?? '';
      at.arguments += d.function?.arguments ?? '';
      at.deltas++;
    }
    if (ch.finish_reason) finish = ch.finish_reason;
  }
  t.equal(role, 'assistant');
  t.ok(shapes, 'every delta has its index; only the first of a call has id, type and name');
  t.equal(finish, 'tool_calls', 'streamed finish_reason tool_calls');
  t.same(
    streamed.map((c) => c.index),
    calls.map((_, i) => i),
    'indexes 0..n-1, in order',
  );
  t.ok(streamed[0]!.deltas > 5, `the arguments came in pieces as they were generated (${streamed[0]!.deltas} deltas)`);
  t.same(
    streamed.map((c) => ({ name: c.name, arguments: c.arguments })),
    calls.map((c) => (c as OpenAI.ChatCompletionMessageFunctionToolCall).function),
    'streamed calls add up to the unstreamed ones',
  );
  t.ok(
    streamed.every((c) => c.id?.startsWith('call_')),
    'each streamed call has its id',
  );
  // The client's own stream helper assembles them as it does OpenAI's.
  const helper = await client.chat.completions
    .stream({ ...base, tool_choice: { type: 'function', function: { name: 'get_weather' } } })
    .finalChatCompletion();
  t.same(
    (helper.choices[0]!.message.tool_calls as OpenAI.ChatCompletionMessageFunctionToolCall[]).map((c) => c.function),
    calls.map((c) => (c as OpenAI.ChatCompletionMessageFunctionToolCall).function),
    "the client's stream helper: the same calls",
  );
  // Parallel calls: the model may start more than one; one that max_tokens cuts is in the answer as far as it got, with
  // finish_reason length (as OpenAI answers), so the stream and the answer agree whatever happens.
  const par = { ...base, parallel_tool_calls: true, tool_choice: 'required' as const, max_tokens: 120 };
  const whole = await client.chat.completions.create(par);
  const parStream = await client.chat.completions.create({ ...par, stream: true });
  const parts: { name: string; arguments: string }[] = [];
  let parFinish: string | null = null;
  for await (const c of parStream) {
    for (const d of c.choices[0]?.delta.tool_calls ?? []) {
      const at = (parts[d.index] ??= { name: '', arguments: '' });
      at.name += d.function?.name ?? '';
      at.arguments += d.function?.arguments ?? '';
    }
    parFinish = c.choices[0]?.finish_reason ?? parFinish;
  }
  const wholeCalls = (whole.choices[0]!.message.tool_calls as OpenAI.ChatCompletionMessageFunctionToolCall[]).map(
    (c) => c.function,
  );
  t.same(
    parts,
    wholeCalls,
    `parallel: the streamed calls are the answer's (${wholeCalls.length} call(s), ${whole.choices[0]!.finish_reason})`,
  );
  t.equal(parFinish, whole.choices[0]!.finish_reason, 'and so is the finish reason');
  const parsable = wholeCalls.filter((c) => {
    try {
      JSON.parse(c.arguments);
      return true;
    } catch {
      return false;
    }
  }).length;
  t.equal(
    parsable,
    whole.choices[0]!.finish_reason === 'length' ? wholeCalls.length - 1 : wholeCalls.length,
    'every call parses but one max_tokens cut',
  );

  // A tool without parameters has no argument pieces: it comes whole at the end.
  const pingStream = await client.chat.completions.create({
    ...base,
    stream: true,
    tool_choice: { type: 'function', function: { name: 'ping' } },
  });
  const pingDeltas: any[] = [];
  for await (const c of pingStream) pingDeltas.push(...(c.choices[0]?.delta.tool_calls ?? []));
  t.match(
    pingDeltas,
    [{ index: 0, type: 'function', function: { name: 'ping', arguments: '{}' } }],
    'a call without parameters: one whole delta',
  );

  // The result goes back in a tool message; it reaches the prompt (a longer result, more prompt tokens).
  const withResult = (result: string) =>
    client.chat.completions.create({
      model: 'moc-tools',
      tools: [weather, time, ping],
      max_tokens: 4,
      temperature: 0,
      messages: [
        ...ask,
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: first.id, type: 'function', function: first.function }],
        },
        { role: 'tool', tool_call_id: first.id, content: result },
      ],
    });
  const short = await withResult('{"temp": 21}');
  const long = await withResult(JSON.stringify({ temp: 21, note: 'x'.repeat(200) }));
  t.ok(
    ['length', 'stop', 'tool_calls'].includes(short.choices[0]!.finish_reason),
    `an answer after the result (${short.choices[0]!.finish_reason})`,
  );
  t.ok(
    long.usage!.prompt_tokens - short.usage!.prompt_tokens >= 200,
    `the tool result is in the prompt (${short.usage!.prompt_tokens} → ${long.usage!.prompt_tokens} tokens)`,
  );
  const plain = await client.chat.completions.create({
    model: 'moc-tools',
    messages: ask,
    max_tokens: 4,
    temperature: 0,
  });
  t.ok(
    short.usage!.prompt_tokens > plain.usage!.prompt_tokens + 20,
    `the tools and the call are in the prompt too (${plain.usage!.prompt_tokens} without them)`,
  );

  // An agent loop as the client library runs it (runTools): it sends the tools, parses the call's arguments, runs our
  // function with them, sends the result back as a tool message; then the model answers from that history.
  const ran: unknown[] = [];
  const runner = client.chat.completions.runTools({
    model: 'moc-tools',
    messages: ask,
    max_tokens: 96,
    temperature: 0,
    parallel_tool_calls: false,
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
    // maxLength and an enum: the grammar makes the call end within a few tokens, whatever the (random) weights say.
    tools: [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'The weather in a city',
          parameters: {
            type: 'object',
            properties: { city: { type: 'string', maxLength: 12 }, unit: { enum: ['c', 'f'] } },
          },
          parse: JSON.parse,
          function: (args: unknown) => {
            ran.push(args);
            return { temp: 21, sky: 'clear' };
          },
        },
      },
    ],
  });
  await runner.done();
  t.equal(ran.length, 1, 'runTools ran our function once');
  const call = (runner.messages[2] as OpenAI.ChatCompletionAssistantMessageParam)
    .tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
  t.same(ran[0], JSON.parse(call.function.arguments), 'with the arguments the model generated, parsed');
  t.ok(
    (ran[0] as { city: string }).city.length <= 12 && ['c', 'f'].includes((ran[0] as { unit: string }).unit),
    `held to the schema: ${JSON.stringify(ran[0])}`,
  );
  t.match(
    runner.messages.map((m) => m.role),
    ['system', 'user', 'assistant', 'tool'],
    "the loop's history: the call and its result",
  );
  const answer = await client.chat.completions.create({
    model: 'moc-tools',
    messages: runner.messages,
    tools: [weather],
    tool_choice: 'none',
    max_tokens: 8,
    temperature: 0,
  });
  t.ok(
    answer.choices[0]!.message.content !== null && !answer.choices[0]!.message.tool_calls,
    'the model answers from that history (tool_choice none: text)',
  );

  // Logprobs in a chat with tools: they cover the answer's text (a call has none, as on OpenAI), plain and streamed.
  const scored: OpenAI.ChatCompletionCreateParamsNonStreaming = {
    model: 'moc-tools',
    messages: runner.messages,
    tools: [weather],
    tool_choice: 'none',
    max_tokens: 8,
    temperature: 0,
    logprobs: true,
    top_logprobs: 2,
  };
  const lp = await client.chat.completions.create(scored);
  const content = lp.choices[0]!.logprobs!.content!;
  t.equal(
    lp.choices[0]!.message.content,
    answer.choices[0]!.message.content,
    'the same answer with logprobs as without',
  );
  t.equal(
    content.map((x) => x.token).join(''),
    lp.choices[0]!.message.content,
    `its tokens write the answer (${JSON.stringify(content.map((x) => x.token))})`,
  );
  t.ok(
    content.length > 0 &&
      content.every((x) => x.logprob <= 0 && x.top_logprobs.length === 2 && x.top_logprobs[0]!.logprob >= x.logprob),
    `each token's logprob, with its 2 likeliest alternatives (greedy: the first is at least as likely): ${content
      .slice(0, 3)
      .map((x) => `${JSON.stringify(x.token)} ${x.logprob.toFixed(3)}`)
      .join(', ')}`,
  );
  let streamedLp: OpenAI.ChatCompletionTokenLogprob[] = [];
  for await (const c of await client.chat.completions.create({ ...scored, stream: true }))
    streamedLp = [...streamedLp, ...(c.choices[0]?.logprobs?.content ?? [])];
  t.same(streamedLp, content, 'streamed: the same logprobs');
  const calledLp = await client.chat.completions.create({
    ...base,
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
    logprobs: true,
  });
  t.ok(
    calledLp.choices[0]!.message.tool_calls?.length === 1 && calledLp.choices[0]!.message.content === null,
    'a forced call with logprobs: the call',
  );
  t.same(calledLp.choices[0]!.logprobs?.content, [], 'and no text, so no token logprobs');

  // The same forced call through gRPC: the same arguments (temperature 0).
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${KEY}`);
  const grpcRes = await new Promise<any>((resolve, reject) =>
    h.client.Infer(
      {
        model: 'moc-tools',
        max_tokens: 96,
        temperature: 0,
        tool_choice_name: 'get_weather',
        parallel_tool_calls: false,
        messages: ask.map((m) => ({ role: m.role, content: m.content })),
        tools: [weather, time, ping].map((x) => ({
          name: x.function.name,
          description: x.function.description ?? '',
          parameters_json: x.function.parameters ? JSON.stringify(x.function.parameters) : '',
        })),
      },
      md,
      { deadline: new Date(Date.now() + 60_000) },
      (err: Error | null, res: unknown) => (err ? reject(err) : resolve(res)),
    ),
  );
  t.equal(grpcRes.finish_reason, 'FINISH_REASON_TOOL_CALLS');
  const grpcPieces = await new Promise<any[]>((resolve, reject) => {
    const got: any[] = [];
    const s = h.client.InferStream(
      {
        model: 'moc-tools',
        max_tokens: 96,
        temperature: 0,
        tool_choice_name: 'get_weather',
        parallel_tool_calls: false,
        messages: ask.map((m) => ({ role: m.role, content: m.content })),
        tools: [weather, time, ping].map((x) => ({
          name: x.function.name,
          description: x.function.description ?? '',
          parameters_json: x.function.parameters ? JSON.stringify(x.function.parameters) : '',
        })),
      },
      md,
      { deadline: new Date(Date.now() + 60_000) },
    );
    s.on('data', (c: any) => got.push(c));
    s.on('error', reject);
    s.on('end', () => resolve(got));
  });
  const pieces = grpcPieces.filter((c) => c.tool_call);
  t.ok(pieces.length > 5, `gRPC InferStream: ${pieces.length} tool_call pieces`);
  t.equal(
    pieces.map((c) => c.tool_call.arguments).join(''),
    grpcRes.tool_calls[0].arguments,
    'gRPC: the pieces add up to the call',
  );
  t.equal(
    pieces[0].tool_call.id,
    grpcPieces[grpcPieces.length - 1].done.tool_calls[0].id,
    "gRPC: the streamed call and the answer's have one id",
  );
  t.same(
    grpcRes.tool_calls.map((c: any) => ({ name: c.name, arguments: c.arguments })),
    calls.map((c) => (c as OpenAI.ChatCompletionMessageFunctionToolCall).function),
    'gRPC Infer: the same calls',
  );

  const z = await zmqRequest(
    h.zmqUrl,
    {
      action: 'infer',
      api_key: KEY,
      model: 'moc-tools',
      max_tokens: 96,
      temperature: 0,
      tool_choice: { name: 'get_weather' },
      parallel_tool_calls: false,
      messages: ask,
      tools: [weather, time, ping].map((x) => x.function),
    },
    60_000,
  );
  t.equal(z.status, 'ok');
  t.equal(z.finish_reason, 'tool_calls');
  t.same(
    z.tool_calls.map((c: any) => ({ name: c.name, arguments: c.arguments })),
    calls.map((c) => (c as OpenAI.ChatCompletionMessageFunctionToolCall).function),
    'ZMQ infer: the same calls',
  );

  // Misuse, refused by name (OpenAI's 400 shape).
  const refused = async (what: string, body: Record<string, unknown>, param: string, message: RegExp) => {
    const err = await client.chat.completions.create({ ...base, ...body } as never).catch((e) => e);
    t.ok(err instanceof OpenAI.BadRequestError, `${what}: 400`);
    t.equal(err.param, param, `${what}: param ${param}`);
    t.match(err.message, message, `${what}: ${err.message}`);
  };
  await refused(
    'tools on a model without a chat template',
    { model: 'moc-demo' },
    'tools',
    /model 'moc-demo' cannot call tools: its GGUF has no chat template/,
  );
  await refused(
    'a forced tool that is not among the tools',
    { tool_choice: { type: 'function', function: { name: 'nope' } } },
    'tool_choice',
    /'nope', which is not among the tools/,
  );
  await refused(
    'a schema that is not an object',
    { tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'string' } } }] },
    'tools[0].parameters',
    /type "object"/,
  );
  await refused(
    'a tool message answering no call',
    { messages: [...ask, { role: 'tool', tool_call_id: 'call_x', content: '1' }] },
    'messages[2].tool_call_id',
    /answers no unanswered tool call/,
  );
  await refused(
    'a call left unanswered',
    {
      messages: [
        ...ask,
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_time', arguments: '{}' } }],
        },
      ],
    },
    'messages',
    /c1 unanswered/,
  );
  await refused(
    'arguments that are not JSON',
    {
      messages: [
        ...ask,
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_time', arguments: 'zone=UTC' } }],
        },
        { role: 'tool', tool_call_id: 'c1', content: '1' },
      ],
    },
    'messages[2].tool_calls[0].arguments',
    /JSON object/,
  );
  await refused(
    'the deprecated functions',
    { tools: undefined, functions: [{ name: 'f' }] },
    'functions',
    /send the same as tools/,
  );
  await refused(
    'a tool that is not a function',
    { tools: [{ type: 'code_interpreter' }] },
    'tools[0]',
    /"type": "function"/,
  );
});
