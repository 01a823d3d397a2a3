// Original file: proto/moc.proto


export interface SetAliasRequest {
  'alias'?: (string);
  'target'?: (string);
}

export interface SetAliasRequest__Output {
  'alias': (string);
  'target': (string);
}
