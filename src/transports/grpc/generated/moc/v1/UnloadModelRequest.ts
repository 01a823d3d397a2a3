// Original file: proto/moc.proto


export interface UnloadModelRequest {
  'name'?: (string);
}

export interface UnloadModelRequest__Output {
  'name': (string);
}
