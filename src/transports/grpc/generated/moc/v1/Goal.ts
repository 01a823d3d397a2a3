// Original file: proto/moc.proto

import type { GoalState as _moc_v1_GoalState, GoalState__Output as _moc_v1_GoalState__Output } from '../../moc/v1/GoalState.js';
import type { Criterion as _moc_v1_Criterion, Criterion__Output as _moc_v1_Criterion__Output } from '../../moc/v1/Criterion.js';
import type { GoalAchievedBy as _moc_v1_GoalAchievedBy, GoalAchievedBy__Output as _moc_v1_GoalAchievedBy__Output } from '../../moc/v1/GoalAchievedBy.js';
import type { Long } from '@grpc/proto-loader';

export interface Goal {
  'id'?: (string);
  'title'?: (string);
  'description'?: (string);
  'priority'?: (number);
  'owner'?: (string);
  'state'?: (_moc_v1_GoalState);
  'jobs'?: (string)[];
  'criterion'?: (_moc_v1_Criterion | null);
  'deadline_ms'?: (number | string | Long);
  'created_at_ms'?: (number | string | Long);
  'updated_at_ms'?: (number | string | Long);
  'ended_at_ms'?: (number | string | Long);
  'reason'?: (string);
  'achieved_by'?: (_moc_v1_GoalAchievedBy | null);
  /**
   * The plan and its attempts as the REST resource has them (`plan`, `plan_state`), as JSON; '' without a plan.
   */
  'plan_json'?: (string);
  'plan_state_json'?: (string);
  /**
   * the creation's idempotency key; '' when none
   */
  'request_id'?: (string);
}

export interface Goal__Output {
  'id': (string);
  'title': (string);
  'description': (string);
  'priority': (number);
  'owner': (string);
  'state': (_moc_v1_GoalState__Output);
  'jobs': (string)[];
  'criterion': (_moc_v1_Criterion__Output | null);
  'deadline_ms': (number);
  'created_at_ms': (number);
  'updated_at_ms': (number);
  'ended_at_ms': (number);
  'reason': (string);
  'achieved_by': (_moc_v1_GoalAchievedBy__Output | null);
  /**
   * The plan and its attempts as the REST resource has them (`plan`, `plan_state`), as JSON; '' without a plan.
   */
  'plan_json': (string);
  'plan_state_json': (string);
  /**
   * the creation's idempotency key; '' when none
   */
  'request_id': (string);
}
