// Original file: proto/moc.proto

import type { Goal as _moc_v1_Goal, Goal__Output as _moc_v1_Goal__Output } from '../../moc/v1/Goal.js';

export interface ListGoalsResponse {
  'goals'?: (_moc_v1_Goal)[];
}

export interface ListGoalsResponse__Output {
  'goals': (_moc_v1_Goal__Output)[];
}
