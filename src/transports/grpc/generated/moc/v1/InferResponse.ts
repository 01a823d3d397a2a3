// Original file: proto/moc.proto

import type { FinishReason as _moc_v1_FinishReason, FinishReason__Output as _moc_v1_FinishReason__Output } from '../../moc/v1/FinishReason.js';
import type { TokenLogprob as _moc_v1_TokenLogprob, TokenLogprob__Output as _moc_v1_TokenLogprob__Output } from '../../moc/v1/TokenLogprob.js';
import type { ToolCall as _moc_v1_ToolCall, ToolCall__Output as _moc_v1_ToolCall__Output } from '../../moc/v1/ToolCall.js';

export interface InferResponse {
  'request_id'?: (string);
  'model'?: (string);
  'device'?: (string);
  'text'?: (string);
  'prompt_tokens'?: (number);
  'tokens_generated'?: (number);
  'finish_reason'?: (_moc_v1_FinishReason);
  /**
   * Time waiting for a free sequence, and time generating.
   */
  'queue_ms'?: (number | string);
  'compute_ms'?: (number | string);
  /**
   * With the request's logprobs: one entry per generated token.
   */
  'logprobs'?: (_moc_v1_TokenLogprob)[];
  /**
   * With finish_reason TOOL_CALLS: the calls the model made.
   */
  'tool_calls'?: (_moc_v1_ToolCall)[];
  /**
   * Of prompt_tokens, those found in the prompt cache and not evaluated again (docs/models.md).
   */
  'cached_tokens'?: (number);
}

export interface InferResponse__Output {
  'request_id': (string);
  'model': (string);
  'device': (string);
  'text': (string);
  'prompt_tokens': (number);
  'tokens_generated': (number);
  'finish_reason': (_moc_v1_FinishReason__Output);
  /**
   * Time waiting for a free sequence, and time generating.
   */
  'queue_ms': (number);
  'compute_ms': (number);
  /**
   * With the request's logprobs: one entry per generated token.
   */
  'logprobs': (_moc_v1_TokenLogprob__Output)[];
  /**
   * With finish_reason TOOL_CALLS: the calls the model made.
   */
  'tool_calls': (_moc_v1_ToolCall__Output)[];
  /**
   * Of prompt_tokens, those found in the prompt cache and not evaluated again (docs/models.md).
   */
  'cached_tokens': (number);
}
