// Original file: proto/moc.proto


export interface Tool {
  /**
   * Letters, digits, _ and -, at most 64.
   */
  'name'?: (string);
  'description'?: (string);
  /**
   * The JSON Schema of the arguments (type "object") as JSON text; empty: the tool takes none.
   */
  'parameters_json'?: (string);
}

export interface Tool__Output {
  /**
   * Letters, digits, _ and -, at most 64.
   */
  'name': (string);
  'description': (string);
  /**
   * The JSON Schema of the arguments (type "object") as JSON text; empty: the tool takes none.
   */
  'parameters_json': (string);
}
