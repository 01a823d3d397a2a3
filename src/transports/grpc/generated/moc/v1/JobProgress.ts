// Original file: proto/moc.proto


export interface JobProgress {
  'fraction'?: (number | string);
  'message'?: (string);
}

export interface JobProgress__Output {
  'fraction': (number);
  'message': (string);
}
