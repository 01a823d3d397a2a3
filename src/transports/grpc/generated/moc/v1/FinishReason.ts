// Original file: proto/moc.proto

export const FinishReason = {
  FINISH_REASON_UNSPECIFIED: 'FINISH_REASON_UNSPECIFIED',
  /**
   * a stop string matched
   */
  FINISH_REASON_STOP: 'FINISH_REASON_STOP',
  /**
   * max_tokens reached
   */
  FINISH_REASON_LENGTH: 'FINISH_REASON_LENGTH',
  /**
   * the model produced end-of-sequence
   */
  FINISH_REASON_EOS: 'FINISH_REASON_EOS',
  /**
   * the model called tools (tool_calls)
   */
  FINISH_REASON_TOOL_CALLS: 'FINISH_REASON_TOOL_CALLS',
} as const;

export type FinishReason =
  | 'FINISH_REASON_UNSPECIFIED'
  | 0
  /**
   * a stop string matched
   */
  | 'FINISH_REASON_STOP'
  | 1
  /**
   * max_tokens reached
   */
  | 'FINISH_REASON_LENGTH'
  | 2
  /**
   * the model produced end-of-sequence
   */
  | 'FINISH_REASON_EOS'
  | 3
  /**
   * the model called tools (tool_calls)
   */
  | 'FINISH_REASON_TOOL_CALLS'
  | 4

export type FinishReason__Output = typeof FinishReason[keyof typeof FinishReason]
