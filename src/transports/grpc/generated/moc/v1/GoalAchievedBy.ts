// Original file: proto/moc.proto


export interface GoalAchievedBy {
  'job'?: (string);
  'metric'?: (string);
  'value'?: (number | string);
}

export interface GoalAchievedBy__Output {
  'job': (string);
  'metric': (string);
  'value': (number);
}
