// Original file: proto/moc.proto

import type { ToolCall as _moc_v1_ToolCall, ToolCall__Output as _moc_v1_ToolCall__Output } from '../../moc/v1/ToolCall.js';

export interface ChatMessage {
  /**
   * system, user, assistant or tool
   */
  'role'?: (string);
  'content'?: (string);
  /**
   * An assistant turn's calls (each answered by a tool turn right after it).
   */
  'tool_calls'?: (_moc_v1_ToolCall)[];
  /**
   * A tool turn: the id of the call it answers.
   */
  'tool_call_id'?: (string);
}

export interface ChatMessage__Output {
  /**
   * system, user, assistant or tool
   */
  'role': (string);
  'content': (string);
  /**
   * An assistant turn's calls (each answered by a tool turn right after it).
   */
  'tool_calls': (_moc_v1_ToolCall__Output)[];
  /**
   * A tool turn: the id of the call it answers.
   */
  'tool_call_id': (string);
}
