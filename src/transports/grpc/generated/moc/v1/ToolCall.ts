// Original file: proto/moc.proto


export interface ToolCall {
  'id'?: (string);
  'name'?: (string);
  /**
   * The arguments as JSON text, generated to match the tool's schema.
   */
  'arguments'?: (string);
}

export interface ToolCall__Output {
  'id': (string);
  'name': (string);
  /**
   * The arguments as JSON text, generated to match the tool's schema.
   */
  'arguments': (string);
}
