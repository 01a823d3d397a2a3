/**
 * The OpenAI-compatible routes (docs/openai.md): `/openai/v1/models`, `/chat/completions`, `/completions`. Each
 * choice is one `infer` operation (src/transports/operations.ts), so keys and roles, per-key budgets, the model's
 * bounded queue, load on demand, aliases, metrics and request logs are the ones every other route has; `n` choices
 * are n inferences submitted at once, which the device runs on parallel sequences of the model's context.
 *
 * Streaming follows OpenAI: `data: <chunk>` per piece of text (each choice's first carries `role`), a chunk with
 * each choice's finish_reason, with `stream_options.include_usage` a last chunk with `usage` and no choices, then
 * `data: [DONE]`. An error before the first byte is an HTTP error; after it, a `data: {"error": …}` event ends the
 * stream (the clients raise it).
 */
import { randomBytes } from 'node:crypto';
import { errors } from '../../errors.js';
import {
  MAX_SEED,
  type ChatMessage,
  type InferRequest,
  type ResponseFormat,
  type TokenEvent,
  type Tool,
  type ToolCall,
  type ToolChoice,
} from '../../../schemas/messages.js';
import type { InferResponse, ModelResource } from '../../../schemas/rest.js';
import { describe, validate } from '../../validate.js';
import { runOperation, type OperationCall } from '../operations.js';
import { ChatCompletionRequest, CompletionRequest, EmbeddingRequest, finishReasonOf } from './wire.js';

/** What a handler writes to: the REST exchange, as JSON or as an SSE stream. */
export interface OpenAiOut {
  json(status: number, body: unknown): void;
  /** Starts the event stream (headers out); from then on errors go in-band. */
  startStream(): void;
  data(chunk: unknown): void;
  done(): void;
  /** The client went away or the stream was cut: stop every choice. */
  signal: AbortSignal;
  /** Called just before the operations run: from then on they count the answer (before it, a refusal is counted here). */
  operating(): void;
}

type Call = Omit<OperationCall, 'onToken' | 'signal'>;

/** OpenAI's default max_tokens of the legacy completions endpoint. */
const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

const newId = (prefix: string) => `${prefix}-${randomBytes(12).toString('base64url')}`;

/**
 * The inference's request id is the response's `id` (`<id>-<index>` for a choice of several): what RecordFeedback
 * takes as `answer_id` to rate an answer given on this API (with feedback.recordInferences on).
 */
const answerId = (id: string, choices: number, index: number) => ({
  request_id: choices === 1 ? id : `${id}-${index}`,
});
const now = () => Math.floor(Date.now() / 1000);

/** Unknown fields, as OpenAI words it (TypeBox would only say "additional property"). */
function refuseUnknown(body: Record<string, unknown>, schema: { properties: Record<string, unknown> }): void {
  const unknown = Object.keys(body).filter((k) => !Object.hasOwn(schema.properties, k));
  if (unknown.length)
    throw errors.invalidArgument(
      unknown[0]!,
      `Unrecognized request argument supplied: ${unknown.join(', ')} (docs/openai.md lists what is served)`,
    );
}

const unsupported = (field: string, why: string) =>
  errors.invalidArgument(field, `${why} (docs/openai.md lists what is served)`);

/**
 * The sampling fields both routes pass on to the inference as they are. logit_bias keys are token ids of the model
 * serving the request (its own vocabulary, as llama-server takes them), not OpenAI's tokenizer's.
 */
function samplingInput(b: {
  temperature?: number | null;
  top_p?: number | null;
  frequency_penalty?: number | null;
  presence_penalty?: number | null;
  logit_bias?: Record<string, number> | null;
  cache_prompt?: boolean | null;
}): Pick<
  InferRequest,
  'logit_bias' | 'temperature' | 'top_p' | 'frequency_penalty' | 'presence_penalty' | 'cache_prompt'
> {
  return {
    ...(b.cache_prompt === false ? { cache_prompt: false } : {}),
    ...(b.logit_bias && Object.keys(b.logit_bias).length ? { logit_bias: b.logit_bias } : {}),
    ...(b.temperature !== undefined && b.temperature !== null ? { temperature: b.temperature } : {}),
    ...(b.top_p !== undefined && b.top_p !== null && b.top_p > 0 ? { top_p: b.top_p } : {}),
    ...(b.frequency_penalty ? { frequency_penalty: b.frequency_penalty } : {}),
    ...(b.presence_penalty ? { presence_penalty: b.presence_penalty } : {}),
  };
}

/**
 * A token's bytes: an alternative named `bytes:\xNN…` (a byte that is not text on its own) is those bytes; any other
 * name, and every entry's token (the text it adds to the answer, token-logprobs.ts), is its UTF-8.
 */
function bytesOf(token: string): number[] {
  const raw = /^bytes:((?:\\x[0-9a-f]{2})+)$/.exec(token);
  if (raw)
    return raw[1]!
      .split('\\x')
      .slice(1)
      .map((h) => Number.parseInt(h, 16));
  return [...Buffer.from(token, 'utf8')];
}

/** Logprob entries per streamed chunk: a long answer's logprobs go out as several events of bounded size. */
const LOGPROBS_PER_CHUNK = 16;

function slices<T>(all: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < all.length; i += size) out.push(all.slice(i, i + size));
  return out;
}

/** Chat's logprobs object: `{ content: [{ token, logprob, bytes, top_logprobs }], refusal }`. */
function chatLogprobs(logprobs: InferResponse['logprobs']): unknown {
  if (!logprobs) return null;
  return {
    content: logprobs.map((x) => ({
      token: x.token,
      logprob: x.logprob,
      bytes: bytesOf(x.token),
      top_logprobs: x.top.map((a) => ({ token: a.token, logprob: a.logprob, bytes: bytesOf(a.token) })),
    })),
    refusal: null,
  };
}

/**
 * The legacy completions logprobs object: parallel arrays, top_logprobs as token → logprob maps (the alternatives'
 * names are distinct, token-logprobs.ts). `offset`: the text's length before the first of them.
 */
function completionLogprobs(logprobs: InferResponse['logprobs'], offset: number): unknown {
  if (!logprobs) return null;
  const text_offset: number[] = [];
  let at = offset;
  for (const x of logprobs) {
    text_offset.push(at);
    at += x.token.length;
  }
  return {
    tokens: logprobs.map((x) => x.token),
    token_logprobs: logprobs.map((x) => x.logprob),
    top_logprobs: logprobs.map((x) => Object.fromEntries(x.top.map((a) => [a.token, a.logprob]))),
    text_offset,
  };
}

/**
 * Choice i of n is sampled with seed + i, so the choices differ and the same request repeats. Seeds are 0 to
 * 4294967295 as on every transport (the schema refuses others); a seed whose last choice, seed + n − 1, would pass
 * the range is refused too, rather than wrapped round onto the seed 0, 1, … of another request.
 */
function seedsOf(seed: number | null | undefined, n: number): (i: number) => { seed?: number } {
  if (seed === null || seed === undefined) return () => ({});
  if (seed + n - 1 > MAX_SEED)
    throw errors.invalidArgument(
      'seed',
      `must be at most ${MAX_SEED - n + 1} with n ${n} (got ${seed}): choice i is sampled with seed + i, and seeds go from 0 to ${MAX_SEED}`,
    );
  return (i) => ({ seed: seed + i });
}

function stopOf(stop: string | string[] | null | undefined): string[] | undefined {
  if (stop === null || stop === undefined) return undefined;
  return typeof stop === 'string' ? [stop] : stop.length ? stop : undefined;
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** An assistant message's tool_calls ({id, type: 'function', function: {name, arguments}}) → ours. */
function messageToolCalls(calls: unknown[], at: string): ToolCall[] {
  return calls.map((c, j) => {
    const f = isObject(c) ? c.function : undefined;
    if (
      !isObject(c) ||
      (c.type !== undefined && c.type !== 'function') ||
      typeof c.id !== 'string' ||
      !isObject(f) ||
      typeof f.name !== 'string' ||
      typeof f.arguments !== 'string'
    ) {
      throw errors.invalidArgument(
        `${at}.tool_calls[${j}]`,
        'must be {"id": "...", "type": "function", "function": {"name": "...", "arguments": "<JSON text>"}}',
      );
    }
    return { id: c.id, name: f.name, arguments: f.arguments };
  });
}

/** OpenAI chat messages → ours: text only; `developer` is a system message; tool calls and tool results as they are. */
function chatMessages(messages: ChatCompletionRequest['messages']): ChatMessage[] {
  return messages.map((m, i) => {
    const role = m.role === 'developer' ? 'system' : m.role;
    if (role !== 'system' && role !== 'user' && role !== 'assistant' && role !== 'tool') {
      throw unsupported(
        `messages[${i}].role`,
        `must be system, developer, user, assistant or tool (got ${describe(m.role)})` +
          (m.role === 'function'
            ? '; the deprecated function role is not served: send its result as a tool message'
            : ''),
      );
    }
    const toolCalls = m.tool_calls?.length ? messageToolCalls(m.tool_calls, `messages[${i}]`) : undefined;
    let content: string;
    if (typeof m.content === 'string') content = m.content;
    else if (m.content === null || m.content === undefined) {
      if (role !== 'assistant')
        throw errors.invalidArgument(`messages[${i}].content`, 'is required for system, user and tool messages');
      content = '';
    } else {
      content = m.content
        .map((p, j) => {
          if (p.type !== 'text')
            throw unsupported(
              `messages[${i}].content[${j}]`,
              `'${p.type}' content is not supported: this server serves text-only models; send {"type": "text", "text": "..."}`,
            );
          if (typeof p.text !== 'string')
            throw errors.invalidArgument(
              `messages[${i}].content[${j}].text`,
              'is required: a text part is {"type": "text", "text": "..."}',
            );
          return p.text;
        })
        .join('');
    }
    return {
      role,
      content,
      ...(toolCalls ? { tool_calls: toolCalls } : {}),
      ...(m.tool_call_id !== undefined ? { tool_call_id: m.tool_call_id } : {}),
    };
  });
}

/** OpenAI's tools ({type: 'function', function: {name, description, parameters, strict}}) → ours. */
function openAiTools(tools: unknown[]): Tool[] {
  return tools.map((t, i) => {
    const f = isObject(t) ? t.function : undefined;
    if (!isObject(t) || t.type !== 'function' || !isObject(f) || typeof f.name !== 'string') {
      throw errors.invalidArgument(
        `tools[${i}]`,
        'must be {"type": "function", "function": {"name": "...", "description": "...", "parameters": {JSON Schema}}}',
      );
    }
    const extra = Object.keys(f).find((k) => !['name', 'description', 'parameters', 'strict'].includes(k));
    if (extra)
      throw errors.invalidArgument(
        `tools[${i}].function.${extra}`,
        'Unrecognized argument (name, description, parameters and strict are)',
      );
    if (f.description !== undefined && typeof f.description !== 'string')
      throw errors.invalidArgument(`tools[${i}].function.description`, 'must be a string');
    if (f.parameters !== undefined && !isObject(f.parameters))
      throw errors.invalidArgument(`tools[${i}].function.parameters`, 'must be a JSON Schema object');
    // strict is how this server always works: arguments are generated under a grammar made from the schema.
    return {
      name: f.name,
      ...(f.description !== undefined ? { description: f.description as string } : {}),
      ...(f.parameters !== undefined ? { parameters: f.parameters as Record<string, unknown> } : {}),
    };
  });
}

/** OpenAI's tool_choice: 'none' | 'auto' | 'required' | {type: 'function', function: {name}}. */
function openAiToolChoice(choice: unknown): ToolChoice | undefined {
  if (choice === undefined || choice === null) return undefined;
  if (choice === 'none' || choice === 'auto' || choice === 'required') return choice;
  if (
    isObject(choice) &&
    choice.type === 'function' &&
    isObject(choice.function) &&
    typeof choice.function.name === 'string'
  )
    return { name: choice.function.name };
  throw errors.invalidArgument(
    'tool_choice',
    'must be "none", "auto", "required" or {"type": "function", "function": {"name": "..."}}',
  );
}

/** OpenAI's response_format → ours: text (nothing to send), json_object, or json_schema with its `schema`. */
function openAiResponseFormat(f: ChatCompletionRequest['response_format']): ResponseFormat | undefined {
  if (!f || f.type === 'text') return undefined;
  if (f.type === 'json_object') return { type: 'json_object' };
  if (f.type === 'json_schema') {
    const j = f.json_schema;
    if (!isObject(j) || typeof j.name !== 'string')
      throw errors.invalidArgument(
        'response_format.json_schema',
        'must be {"name": "...", "schema": {JSON Schema}, "strict": true}',
      );
    if (j.schema !== undefined && !isObject(j.schema))
      throw errors.invalidArgument(
        'response_format.json_schema.schema',
        `must be a JSON Schema object, not ${JSON.stringify(j.schema)}; leave it out for any JSON object`,
      );
    // strict is how every JSON answer is made here (under a grammar); without a schema, any JSON object.
    return isObject(j.schema) ? { type: 'json_schema', schema: j.schema } : { type: 'json_object' };
  }
  throw unsupported('response_format', `'${f.type}' is not a response format; send text, json_object or json_schema`);
}

/** The answer's calls in OpenAI's shape; `index` is each call's place in the list (streamed deltas need it). */
const openAiToolCalls = (calls: ToolCall[], withIndex: boolean) =>
  calls.map((c, index) => ({
    ...(withIndex ? { index } : {}),
    id: c.id,
    type: 'function',
    function: { name: c.name, arguments: c.arguments },
  }));

interface Choice {
  index: number;
  /** The choice as gRPC, REST and ZMQ clients send it: the infer operation validates and converts it (operations.ts). */
  input: InferRequest;
  prefix?: string;
}
interface Finished {
  index: number;
  r: InferResponse;
  prefix?: string;
}

/**
 * Runs the choices at once. Streaming: `onText(index, text)` per piece; the first piece of any choice starts the
 * stream. A failing choice fails the request (and stops the others).
 */
async function runChoices(
  choices: Choice[],
  call: Call,
  out: OpenAiOut,
  onPiece?: (index: number, e: TokenEvent) => void,
): Promise<Finished[]> {
  out.operating();
  // One controller a choice: each operation hangs its own listeners (timeout, router ask) on its signal, so n = 16
  // choices sharing one signal would put 16+ listeners on it (Node's MaxListenersExceededWarning).
  const acs = choices.map(() => new AbortController());
  const stopAll = (reason: unknown) => {
    for (const ac of acs) if (!ac.signal.aborted) ac.abort(reason);
  };
  const stop = () => stopAll(errors.cancelled('the request'));
  out.signal.addEventListener('abort', stop, { once: true });
  try {
    return await Promise.all(
      choices.map((c, k) =>
        runOperation('infer', c.input, {
          ...call,
          signal: acs[k]!.signal,
          ...(onPiece ? { onToken: (e) => onPiece(c.index, e) } : {}),
        }).then(
          (r) => ({ index: c.index, r, ...(c.prefix !== undefined ? { prefix: c.prefix } : {}) }),
          (err) => {
            stopAll(err);
            throw err;
          },
        ),
      ),
    );
  } finally {
    out.signal.removeEventListener('abort', stop);
  }
}

/**
 * OpenAI's usage: every choice's completion tokens, and the prompt tokens of `prompted` (the choices whose prompt is
 * counted: once per prompt, not once per choice, as OpenAI counts them), with those the prompt cache held.
 */
const usageOf = (finished: Finished[], prompted: Finished[]) => {
  const completion = finished.reduce((n, f) => n + f.r.tokens_generated, 0);
  const promptTokens = prompted.reduce((n, f) => n + f.r.prompt_tokens, 0);
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completion,
    total_tokens: promptTokens + completion,
    prompt_tokens_details: { cached_tokens: prompted.reduce((n, f) => n + f.r.cached_tokens, 0) },
  };
};

export async function chatCompletions(body: Record<string, unknown>, call: Call, out: OpenAiOut): Promise<void> {
  refuseUnknown(body, ChatCompletionRequest);
  const b = validate(ChatCompletionRequest, body);
  if (b.functions?.length)
    throw unsupported(
      'functions',
      'the deprecated functions field is not served; send the same as tools: [{"type": "function", "function": {...}}]',
    );
  if (b.function_call !== undefined && b.function_call !== null)
    throw unsupported('function_call', 'the deprecated function_call field is not served; send tool_choice');
  const tools = b.tools?.length ? openAiTools(b.tools) : undefined;
  const toolChoice = openAiToolChoice(b.tool_choice);
  const responseFormat = openAiResponseFormat(b.response_format);
  if (b.modalities?.some((m) => m !== 'text')) throw unsupported('modalities', 'only text is served');
  if (b.audio !== undefined && b.audio !== null) throw unsupported('audio', 'only text is served');
  if (b.prediction !== undefined && b.prediction !== null)
    throw unsupported('prediction', 'predicted outputs are not supported');
  if (b.top_logprobs && !b.logprobs) throw errors.invalidArgument('top_logprobs', 'needs logprobs: true');
  const messages = chatMessages(b.messages);
  const n = b.n ?? 1;
  // Absent: until the model stops or the context is full, as OpenAI's chat (and llama-server, Ollama) do.
  const maxTokens = b.max_completion_tokens ?? b.max_tokens ?? -1;
  const stop = stopOf(b.stop);
  const seedOf = seedsOf(b.seed, n);
  const id = newId('chatcmpl');
  const choices: Choice[] = Array.from({ length: n }, (_, i) => ({
    index: i,
    input: {
      ...answerId(id, n, i),
      model: b.model,
      messages,
      max_tokens: maxTokens,
      ...samplingInput(b),
      ...(b.logprobs ? { logprobs: b.top_logprobs ?? 0 } : {}),
      ...seedOf(i),
      ...(stop ? { stop } : {}),
      ...(tools ? { tools } : {}),
      ...(toolChoice ? { tool_choice: toolChoice } : {}),
      ...(responseFormat ? { response_format: responseFormat } : {}),
      ...(b.parallel_tool_calls !== undefined && b.parallel_tool_calls !== null
        ? { parallel_tool_calls: b.parallel_tool_calls }
        : {}),
    },
  }));
  const created = now();
  if (!b.stream) {
    const finished = await runChoices(choices, call, out);
    const model = finished[0]!.r.model;
    out.json(200, {
      id,
      object: 'chat.completion',
      created,
      model,
      system_fingerprint: null,
      choices: finished.map((f) => ({
        index: f.index,
        // As OpenAI answers a call: content null unless the model also wrote text.
        message: f.r.tool_calls
          ? {
              role: 'assistant',
              content: f.r.text || null,
              tool_calls: openAiToolCalls(f.r.tool_calls, false),
              refusal: null,
            }
          : { role: 'assistant', content: f.r.text, refusal: null },
        logprobs: chatLogprobs(f.r.logprobs),
        finish_reason: finishReasonOf(f.r.finish_reason),
      })),
      usage: usageOf(finished, finished.slice(0, 1)),
    });
    return;
  }
  const chunk = (model: string, choices: unknown[], extra: Record<string, unknown> = {}) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    system_fingerprint: null,
    choices,
    ...extra,
  });
  const began = new Set<number>();
  let streaming = false;
  const model = b.model;
  const begin = () => {
    if (!streaming) {
      streaming = true;
      out.startStream();
    }
  };
  /** Per choice, the calls already streamed (by index): their pieces came as they were generated. */
  const streamedCalls = new Map<number, Set<number>>();
  const finished = await runChoices(choices, call, out, (index, e) => {
    begin();
    let delta: Record<string, unknown>;
    if (e.call) {
      // A call's first piece carries its id, type and name; the others a part of its arguments (OpenAI's deltas).
      const c = e.call;
      (streamedCalls.get(index) ?? streamedCalls.set(index, new Set()).get(index)!).add(c.index);
      const piece =
        c.id !== undefined
          ? { index: c.index, id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }
          : { index: c.index, function: { arguments: c.arguments } };
      delta = { tool_calls: [piece] };
    } else {
      delta = { content: e.text };
    }
    if (!began.has(index)) delta = { role: 'assistant', ...(e.call ? { content: null } : {}), ...delta };
    began.add(index);
    out.data(chunk(model, [{ index, delta, logprobs: null, finish_reason: null }]));
  });
  begin();
  for (const f of finished.sort((x, y) => x.index - y.index)) {
    if (!began.has(f.index))
      out.data(
        chunk(f.r.model, [
          {
            index: f.index,
            delta: { role: 'assistant', content: f.r.tool_calls ? null : '' },
            logprobs: null,
            finish_reason: null,
          },
        ]),
      );
    // Calls not streamed piece by piece (a tool without parameters has no pieces) come whole now, at their index.
    const streamed = streamedCalls.get(f.index);
    const rest = openAiToolCalls(f.r.tool_calls ?? [], true).filter((c) => !streamed?.has(c.index!));
    if (rest.length)
      out.data(
        chunk(f.r.model, [{ index: f.index, delta: { tool_calls: rest }, logprobs: null, finish_reason: null }]),
      );
    // Logprobs are computed when a choice ends (token-logprobs.ts): they follow its text, a few entries a chunk (one
    // event for them all could outgrow what a stream may hold unsent), and a client joins the chunks' lists.
    for (const part of slices(f.r.logprobs ?? [], LOGPROBS_PER_CHUNK))
      out.data(chunk(f.r.model, [{ index: f.index, delta: {}, logprobs: chatLogprobs(part), finish_reason: null }]));
    out.data(
      chunk(f.r.model, [
        { index: f.index, delta: {}, logprobs: null, finish_reason: finishReasonOf(f.r.finish_reason) },
      ]),
    );
  }
  if (b.stream_options?.include_usage)
    out.data(chunk(finished[0]!.r.model, [], { usage: usageOf(finished, finished.slice(0, 1)) }));
  out.done();
}

export async function completions(body: Record<string, unknown>, call: Call, out: OpenAiOut): Promise<void> {
  refuseUnknown(body, CompletionRequest);
  const b = validate(CompletionRequest, body);
  if (b.suffix) throw unsupported('suffix', 'insertion (fill in the middle) is not supported yet');
  if (b.logprobs !== undefined && b.logprobs !== null && b.echo)
    throw unsupported('logprobs', "with echo is not supported (the prompt's tokens are not scored); leave one out");
  const n = b.n ?? 1;
  if (b.best_of !== undefined && b.best_of !== null && b.best_of !== n)
    throw unsupported('best_of', 'is only served equal to n (no server-side ranking)');
  // Text only, at least one (the schema refuses token ids and an empty array).
  const texts = typeof b.prompt === 'string' ? [b.prompt] : b.prompt;
  if (texts.length * n > 16)
    throw errors.invalidArgument('n', `prompts × n is ${texts.length * n}; at most 16 choices a request`);
  const stop = stopOf(b.stop);
  const seedOf = seedsOf(b.seed, n);
  const id = newId('cmpl');
  const choices: Choice[] = texts.flatMap((prompt, p) =>
    Array.from({ length: n }, (_, i) => ({
      index: p * n + i,
      ...(b.echo ? { prefix: prompt } : {}),
      input: {
        ...answerId(id, n * texts.length, p * n + i),
        model: b.model,
        prompt,
        // Absent: 16, OpenAI's documented default for this (legacy) endpoint.
        max_tokens: b.max_tokens ?? COMPLETIONS_DEFAULT_MAX_TOKENS,
        ...samplingInput(b),
        ...(b.logprobs !== undefined && b.logprobs !== null ? { logprobs: b.logprobs } : {}),
        ...seedOf(i),
        ...(stop ? { stop } : {}),
      },
    })),
  );
  const created = now();
  // The prompt is counted once per prompt, not once per choice (as OpenAI counts it).
  const prompted = (finished: Finished[]) => finished.filter((f) => f.index % n === 0);
  if (!b.stream) {
    const finished = await runChoices(choices, call, out);
    out.json(200, {
      id,
      object: 'text_completion',
      created,
      model: finished[0]!.r.model,
      system_fingerprint: null,
      choices: finished.map((f) => ({
        index: f.index,
        text: (f.prefix ?? '') + f.r.text,
        logprobs: completionLogprobs(f.r.logprobs, 0),
        finish_reason: finishReasonOf(f.r.finish_reason),
      })),
      usage: usageOf(finished, prompted(finished)),
    });
    return;
  }
  const chunk = (model: string, choices: unknown[], extra: Record<string, unknown> = {}) => ({
    id,
    object: 'text_completion',
    created,
    model,
    system_fingerprint: null,
    choices,
    ...extra,
  });
  let streaming = false;
  const begin = () => {
    if (streaming) return;
    streaming = true;
    out.startStream();
    for (const c of choices)
      if (c.prefix) out.data(chunk(b.model, [{ index: c.index, text: c.prefix, logprobs: null, finish_reason: null }]));
  };
  const finished = await runChoices(choices, call, out, (index, e) => {
    begin();
    out.data(chunk(b.model, [{ index, text: e.text, logprobs: null, finish_reason: null }]));
  });
  begin();
  for (const f of finished.sort((x, y) => x.index - y.index)) {
    // As on chat: the logprobs after the text, a few entries a chunk, offsets counted through the choice's text.
    let at = 0;
    for (const part of slices(f.r.logprobs ?? [], LOGPROBS_PER_CHUNK)) {
      out.data(
        chunk(f.r.model, [{ index: f.index, text: '', logprobs: completionLogprobs(part, at), finish_reason: null }]),
      );
      for (const x of part) at += x.token.length;
    }
    out.data(
      chunk(f.r.model, [
        { index: f.index, text: '', logprobs: null, finish_reason: finishReasonOf(f.r.finish_reason) },
      ]),
    );
  }
  if (b.stream_options?.include_usage)
    out.data(chunk(finished[0]!.r.model, [], { usage: usageOf(finished, prompted(finished)) }));
  out.done();
}

/**
 * A model as OpenAI lists it; aliases are listed too (a client may name either). `parent`, as vLLM lists LoRA
 * adapters: the base model an adapter runs on, null for a model.
 */
function modelObject(
  id: string,
  m: ModelResource,
): { id: string; object: 'model'; created: number; owned_by: string; parent: string | null } {
  return { id, object: 'model', created: 0, owned_by: 'moc', parent: m.base || null };
}

export async function listModels(call: Call): Promise<unknown> {
  const data: ReturnType<typeof modelObject>[] = [];
  let cursor = '';
  do {
    const page = await runOperation('list-models', cursor ? { cursor } : {}, call);
    for (const m of page.models as ModelResource[]) {
      data.push(modelObject(m.name, m));
      for (const a of m.aliases) data.push(modelObject(a, m));
    }
    cursor = page.next_cursor;
  } while (cursor);
  return { object: 'list', data };
}

export async function retrieveModel(name: string, call: Call): Promise<unknown> {
  const m = await runOperation('get-model', { name }, call);
  return modelObject(m.name === name || !m.aliases.includes(name) ? m.name : name, m);
}

/**
 * `POST /embeddings`: one `embed` operation for all the inputs. `encoding_format: "base64"` (what the official
 * clients ask for by default, and decode) is the vector's little-endian float32 bytes in base64.
 */
export async function embeddings(body: Record<string, unknown>, call: Call, out: OpenAiOut): Promise<void> {
  refuseUnknown(body, EmbeddingRequest);
  const b = validate(EmbeddingRequest, body);
  if (b.dimensions !== undefined && b.dimensions !== null)
    throw unsupported('dimensions', "is not supported: a model's vectors have the size it was trained with");
  // Text only, 1 to 256 texts (the schema refuses token ids and an empty array).
  const texts = typeof b.input === 'string' ? [b.input] : b.input;
  const empty = texts.findIndex((x) => x.length === 0);
  if (empty >= 0) throw errors.invalidArgument(`input[${empty}]`, 'is empty; send non-empty texts');
  out.operating();
  const r = await runOperation('embed', { model: b.model, input: texts }, { ...call, signal: out.signal });
  const base64 = b.encoding_format === 'base64';
  out.json(200, {
    object: 'list',
    data: r.embeddings.map((v, index) => ({
      object: 'embedding',
      index,
      embedding: base64 ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v,
    })),
    model: r.model,
    usage: { prompt_tokens: r.tokens, total_tokens: r.tokens },
  });
}
