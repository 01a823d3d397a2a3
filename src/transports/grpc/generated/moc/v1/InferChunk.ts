// Original file: proto/moc.proto

import type { InferResponse as _moc_v1_InferResponse, InferResponse__Output as _moc_v1_InferResponse__Output } from '../../moc/v1/InferResponse.js';
import type { ToolCallDelta as _moc_v1_ToolCallDelta, ToolCallDelta__Output as _moc_v1_ToolCallDelta__Output } from '../../moc/v1/ToolCallDelta.js';

export interface InferChunk {
  'text'?: (string);
  'done'?: (_moc_v1_InferResponse | null);
  /**
   * A piece of a tool call as it is generated (chats with tools).
   */
  'tool_call'?: (_moc_v1_ToolCallDelta | null);
  'chunk'?: "text"|"done"|"tool_call";
}

export interface InferChunk__Output {
  'text'?: (string);
  'done'?: (_moc_v1_InferResponse__Output | null);
  /**
   * A piece of a tool call as it is generated (chats with tools).
   */
  'tool_call'?: (_moc_v1_ToolCallDelta__Output | null);
  'chunk'?: "text"|"done"|"tool_call";
}
