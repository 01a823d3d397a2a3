// Original file: proto/moc.proto


export interface TokenAlternative {
  'token'?: (string);
  'logprob'?: (number | string);
}

export interface TokenAlternative__Output {
  'token': (string);
  'logprob': (number);
}
