// Original file: proto/moc.proto


export interface PinModelRequest {
  'name'?: (string);
  'pinned'?: (boolean);
}

export interface PinModelRequest__Output {
  'name': (string);
  'pinned': (boolean);
}
