// Original file: proto/moc.proto

import type { ChatMessage as _moc_v1_ChatMessage, ChatMessage__Output as _moc_v1_ChatMessage__Output } from '../../moc/v1/ChatMessage.js';
import type { Tool as _moc_v1_Tool, Tool__Output as _moc_v1_Tool__Output } from '../../moc/v1/Tool.js';
import type { Long } from '@grpc/proto-loader';

export interface InferRequest {
  'model'?: (string);
  'prompt'?: (string);
  /**
   * Tokens to generate at most; -1: until the model stops or the context is full; unset: the server default
   * (limits.defaultMaxTokens). (Was uint32: the same on the wire for every value it could carry.)
   */
  'max_tokens'?: (number);
  /**
   * 0 = greedy; unset: 0.8.
   */
  'temperature'?: (number | string);
  /**
   * Sampling seed, for reproducible output at temperature > 0: 0 to 4294967295 (the uint32 range) on every transport;
   * unset: a random seed.
   */
  'seed'?: (number);
  /**
   * Generation stops before any of these strings.
   */
  'stop'?: (string)[];
  /**
   * Echoed back; the server makes one up when empty.
   */
  'request_id'?: (string);
  /**
   * Higher runs first when the model's sequences are all busy (-100..100).
   */
  'priority'?: (number);
  /**
   * The model's idle expiry from this request on: ms; 0 unloads after this request; -1 never.
   */
  'keep_alive_ms'?: (number | string | Long);
  /**
   * true: a registered model that is not loaded fails NOT_FOUND instead of being loaded on demand.
   */
  'require_loaded'?: (boolean);
  /**
   * A chat in place of prompt (send exactly one of the two), formatted with the model's chat template (docs/openai.md).
   */
  'messages'?: (_moc_v1_ChatMessage)[];
  /**
   * Nucleus sampling: only the likeliest tokens whose probabilities add up to top_p are candidates; unset: 1 (off).
   */
  'top_p'?: (number | string);
  /**
   * Lower a token's logit by this × its count in the last 64 tokens (-2..2); unset: 0.
   */
  'frequency_penalty'?: (number | string);
  /**
   * Lower a token's logit by this once if it is in the last 64 tokens (-2..2); unset: 0.
   */
  'presence_penalty'?: (number | string);
  /**
   * Set: the answer carries each generated token's log-probability with this many likeliest alternatives (0..20).
   */
  'logprobs'?: (number);
  /**
   * Tools the model may call (with messages, on a model whose chat template takes tools; docs/openai.md).
   */
  'tools'?: (_moc_v1_Tool)[];
  /**
   * "auto" (the default with tools): call tools or answer; "none": answer; "required": call one or more.
   */
  'tool_choice'?: (string);
  /**
   * Set: the model calls this tool (OpenAI's tool_choice {"type": "function", "function": {"name": ...}}).
   */
  'tool_choice_name'?: (string);
  /**
   * false: at most one tool call in the answer; unset: true.
   */
  'parallel_tool_calls'?: (boolean);
  /**
   * The answer's form: "text" (the default), "json_object" or "json_schema" (JSON matching response_schema_json).
   */
  'response_format'?: (string);
  /**
   * With response_format "json_schema" (and only with it: set without it, INVALID_ARGUMENT): the JSON Schema as JSON text.
   */
  'response_schema_json'?: (string);
  /**
   * The model's own token ids → added to their logits (-100 bans a token, 100 all but forces it); a value outside
   * -100..100 (or NaN) and an id outside the model's vocabulary are INVALID_ARGUMENT.
   */
  'logit_bias'?: ({[key: number]: number | string});
  /**
   * false: neither reuse cached prompt tokens nor leave this request's own (llama-server's cache_prompt); unset: as
   * the server's promptCache configures (docs/models.md).
   */
  'cache_prompt'?: (boolean);
  '_max_tokens'?: "max_tokens";
  '_temperature'?: "temperature";
  '_seed'?: "seed";
  '_keep_alive_ms'?: "keep_alive_ms";
  '_top_p'?: "top_p";
  '_frequency_penalty'?: "frequency_penalty";
  '_presence_penalty'?: "presence_penalty";
  '_logprobs'?: "logprobs";
  '_parallel_tool_calls'?: "parallel_tool_calls";
  '_cache_prompt'?: "cache_prompt";
}

export interface InferRequest__Output {
  'model': (string);
  'prompt': (string);
  /**
   * Tokens to generate at most; -1: until the model stops or the context is full; unset: the server default
   * (limits.defaultMaxTokens). (Was uint32: the same on the wire for every value it could carry.)
   */
  'max_tokens'?: (number);
  /**
   * 0 = greedy; unset: 0.8.
   */
  'temperature'?: (number);
  /**
   * Sampling seed, for reproducible output at temperature > 0: 0 to 4294967295 (the uint32 range) on every transport;
   * unset: a random seed.
   */
  'seed'?: (number);
  /**
   * Generation stops before any of these strings.
   */
  'stop': (string)[];
  /**
   * Echoed back; the server makes one up when empty.
   */
  'request_id': (string);
  /**
   * Higher runs first when the model's sequences are all busy (-100..100).
   */
  'priority': (number);
  /**
   * The model's idle expiry from this request on: ms; 0 unloads after this request; -1 never.
   */
  'keep_alive_ms'?: (number);
  /**
   * true: a registered model that is not loaded fails NOT_FOUND instead of being loaded on demand.
   */
  'require_loaded': (boolean);
  /**
   * A chat in place of prompt (send exactly one of the two), formatted with the model's chat template (docs/openai.md).
   */
  'messages': (_moc_v1_ChatMessage__Output)[];
  /**
   * Nucleus sampling: only the likeliest tokens whose probabilities add up to top_p are candidates; unset: 1 (off).
   */
  'top_p'?: (number);
  /**
   * Lower a token's logit by this × its count in the last 64 tokens (-2..2); unset: 0.
   */
  'frequency_penalty'?: (number);
  /**
   * Lower a token's logit by this once if it is in the last 64 tokens (-2..2); unset: 0.
   */
  'presence_penalty'?: (number);
  /**
   * Set: the answer carries each generated token's log-probability with this many likeliest alternatives (0..20).
   */
  'logprobs'?: (number);
  /**
   * Tools the model may call (with messages, on a model whose chat template takes tools; docs/openai.md).
   */
  'tools': (_moc_v1_Tool__Output)[];
  /**
   * "auto" (the default with tools): call tools or answer; "none": answer; "required": call one or more.
   */
  'tool_choice': (string);
  /**
   * Set: the model calls this tool (OpenAI's tool_choice {"type": "function", "function": {"name": ...}}).
   */
  'tool_choice_name': (string);
  /**
   * false: at most one tool call in the answer; unset: true.
   */
  'parallel_tool_calls'?: (boolean);
  /**
   * The answer's form: "text" (the default), "json_object" or "json_schema" (JSON matching response_schema_json).
   */
  'response_format': (string);
  /**
   * With response_format "json_schema" (and only with it: set without it, INVALID_ARGUMENT): the JSON Schema as JSON text.
   */
  'response_schema_json': (string);
  /**
   * The model's own token ids → added to their logits (-100 bans a token, 100 all but forces it); a value outside
   * -100..100 (or NaN) and an id outside the model's vocabulary are INVALID_ARGUMENT.
   */
  'logit_bias': ({[key: number]: number});
  /**
   * false: neither reuse cached prompt tokens nor leave this request's own (llama-server's cache_prompt); unset: as
   * the server's promptCache configures (docs/models.md).
   */
  'cache_prompt'?: (boolean);
  '_max_tokens'?: "max_tokens";
  '_temperature'?: "temperature";
  '_seed'?: "seed";
  '_keep_alive_ms'?: "keep_alive_ms";
  '_top_p'?: "top_p";
  '_frequency_penalty'?: "frequency_penalty";
  '_presence_penalty'?: "presence_penalty";
  '_logprobs'?: "logprobs";
  '_parallel_tool_calls'?: "parallel_tool_calls";
  '_cache_prompt'?: "cache_prompt";
}
