// Original file: proto/moc.proto

import type { GoalState as _moc_v1_GoalState, GoalState__Output as _moc_v1_GoalState__Output } from '../../moc/v1/GoalState.js';

export interface ListGoalsRequest {
  'state'?: (_moc_v1_GoalState);
  'limit'?: (number);
}

export interface ListGoalsRequest__Output {
  'state': (_moc_v1_GoalState__Output);
  'limit': (number);
}
