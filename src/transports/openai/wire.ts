/**
 * The OpenAI-compatible API's requests, as the official clients send them (docs/openai.md). Every field OpenAI
 * defines is either served, accepted and ignored because it changes nothing here (`user`, `metadata`, `store`,
 * `service_tier`), or refused with a message saying so — never silently dropped. A field OpenAI does not define is
 * refused as OpenAI itself does ("Unrecognized request argument").
 */
import { Type, type Static } from '@sinclair/typebox';
import { LogitBias, MAX_EMBED_INPUTS, Seed } from '../../../schemas/messages.js';

const Stop = Type.Union([
  Type.String({ minLength: 1, maxLength: 64 }),
  Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 8 }),
  Type.Null(),
]);
const StreamOptions = Type.Union([
  Type.Object({ include_usage: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
  Type.Null(),
]);
const Num = (min: number, max: number) => Type.Union([Type.Number({ minimum: min, maximum: max }), Type.Null()]);
const Int = (min: number, max: number) => Type.Union([Type.Integer({ minimum: min, maximum: max }), Type.Null()]);
/** Accepted and ignored: they change nothing on this server. */
const ignored = {
  user: Type.Optional(Type.String()),
  metadata: Type.Optional(Type.Union([Type.Record(Type.String(), Type.String()), Type.Null()])),
  store: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  service_tier: Type.Optional(Type.Union([Type.String(), Type.Null()])),
};
/** Shared sampling fields. */
const sampling = {
  model: Type.String({ minLength: 1, maxLength: 128 }),
  max_tokens: Type.Optional(Int(1, 1 << 20)),
  temperature: Type.Optional(Num(0, 2)),
  top_p: Type.Optional(Num(0, 1)),
  n: Type.Optional(Int(1, 16)),
  stream: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  stream_options: Type.Optional(StreamOptions),
  stop: Type.Optional(Stop),
  // 0 to 4294967295, as on every transport: a larger seed is refused, never wrapped into another's (docs/openai.md).
  seed: Type.Optional(Type.Union([Seed, Type.Null()], { description: Seed.description })),
  frequency_penalty: Type.Optional(Num(-2, 2)),
  presence_penalty: Type.Optional(Num(-2, 2)),
  logit_bias: Type.Optional(Type.Union([LogitBias, Type.Null()], { description: LogitBias.description })),
  // llama-server's extension, on its OpenAI routes too: false skips the prompt cache for this request.
  cache_prompt: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
};

/** A content part: text is served; anything else (images, audio, files) is refused by the handler with its type. */
const ContentPart = Type.Object({ type: Type.String(), text: Type.Optional(Type.String()) });
export const ChatCompletionMessage = Type.Object({
  role: Type.String(),
  content: Type.Optional(Type.Union([Type.String(), Type.Array(ContentPart), Type.Null()])),
  name: Type.Optional(Type.String()),
  tool_calls: Type.Optional(Type.Array(Type.Unknown())),
  tool_call_id: Type.Optional(Type.String()),
  refusal: Type.Optional(Type.Union([Type.String(), Type.Null()])),
});

export const ChatCompletionRequest = Type.Object(
  {
    ...sampling,
    ...ignored,
    messages: Type.Array(ChatCompletionMessage, { minItems: 1, maxItems: 1024 }),
    max_completion_tokens: Type.Optional(Int(1, 1 << 20)),
    logprobs: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    top_logprobs: Type.Optional(Int(0, 20)),
    // Tools in OpenAI's shape, read by the handler (openAiTools) so each problem names its field as OpenAI would.
    tools: Type.Optional(Type.Union([Type.Array(Type.Unknown(), { maxItems: 128 }), Type.Null()])),
    tool_choice: Type.Optional(Type.Unknown()),
    parallel_tool_calls: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    // The deprecated function-calling fields: refused, with what to send instead.
    functions: Type.Optional(Type.Union([Type.Array(Type.Unknown()), Type.Null()])),
    function_call: Type.Optional(Type.Unknown()),
    // {type: text | json_object} or {type: json_schema, json_schema: {name, schema, strict, description}}: read by the handler.
    response_format: Type.Optional(
      Type.Union([
        Type.Object(
          { type: Type.String(), json_schema: Type.Optional(Type.Unknown()) },
          { additionalProperties: false },
        ),
        Type.Null(),
      ]),
    ),
    modalities: Type.Optional(Type.Union([Type.Array(Type.String()), Type.Null()])),
    audio: Type.Optional(Type.Unknown()),
    prediction: Type.Optional(Type.Unknown()),
    reasoning_effort: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  },
  { additionalProperties: false },
);
export type ChatCompletionRequest = Static<typeof ChatCompletionRequest>;

export const CompletionRequest = Type.Object(
  {
    ...sampling,
    ...ignored,
    // Text only: OpenAI's token-id prompts (arrays of integers) are refused here, as is an empty array.
    prompt: Type.Union([Type.String(), Type.Array(Type.String(), { minItems: 1, maxItems: 16 })], {
      description: 'send the text; token-id prompts (arrays of integers) are not supported',
    }),
    echo: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    logprobs: Type.Optional(Int(0, 5)),
    best_of: Type.Optional(Int(1, 16)),
    suffix: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  },
  { additionalProperties: false },
);
export type CompletionRequest = Static<typeof CompletionRequest>;

/**
 * OpenAI's finish reasons from ours: a length stop is `length`, calls are `tool_calls`; an end-of-generation token or
 * a stop string `stop`.
 */
export function finishReasonOf(reason: string): 'stop' | 'length' | 'tool_calls' {
  return reason === 'length' ? 'length' : reason === 'tool_calls' ? 'tool_calls' : 'stop';
}

export const EmbeddingRequest = Type.Object(
  {
    model: Type.String({ minLength: 1, maxLength: 128 }),
    input: Type.Union([Type.String(), Type.Array(Type.String(), { minItems: 1, maxItems: MAX_EMBED_INPUTS })], {
      description: `send the text, at most ${MAX_EMBED_INPUTS} texts a call; token-id input (arrays of integers) is not supported`,
    }),
    encoding_format: Type.Optional(Type.Union([Type.Literal('float'), Type.Literal('base64'), Type.Null()])),
    dimensions: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
    user: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type EmbeddingRequest = Static<typeof EmbeddingRequest>;
