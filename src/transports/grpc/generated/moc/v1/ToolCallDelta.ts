// Original file: proto/moc.proto


/**
 * The first piece of call `index` has its id and name; each piece a part of its arguments (JSON text).
 */
export interface ToolCallDelta {
  'index'?: (number);
  'id'?: (string);
  'name'?: (string);
  'arguments'?: (string);
}

/**
 * The first piece of call `index` has its id and name; each piece a part of its arguments (JSON text).
 */
export interface ToolCallDelta__Output {
  'index': (number);
  'id': (string);
  'name': (string);
  'arguments': (string);
}
