// Original file: proto/moc.proto


export interface GetGoalRequest {
  'id'?: (string);
}

export interface GetGoalRequest__Output {
  'id': (string);
}
