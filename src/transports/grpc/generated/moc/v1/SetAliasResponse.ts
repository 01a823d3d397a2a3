// Original file: proto/moc.proto


export interface SetAliasResponse {
  'alias'?: (string);
  'target'?: (string);
  'previous'?: (string);
}

export interface SetAliasResponse__Output {
  'alias': (string);
  'target': (string);
  'previous': (string);
}
