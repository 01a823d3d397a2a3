// Original file: proto/moc.proto

import type { Criterion as _moc_v1_Criterion, Criterion__Output as _moc_v1_Criterion__Output } from '../../moc/v1/Criterion.js';
import type { Long } from '@grpc/proto-loader';

export interface CreateGoalRequest {
  'title'?: (string);
  'description'?: (string);
  'priority'?: (number);
  'criterion'?: (_moc_v1_Criterion | null);
  /**
   * Epoch ms; 0: none.
   */
  'deadline_ms'?: (number | string | Long);
  'jobs'?: (string)[];
  /**
   * The job chain MOC runs to pursue the criterion, as JSON (docs/jobs.md "Goals that act"); '' for none.
   */
  'plan_json'?: (string);
  /**
   * Idempotent creation, as SubmitJob's: the same key and request_id with the same fields return the first goal.
   */
  'request_id'?: (string);
}

export interface CreateGoalRequest__Output {
  'title': (string);
  'description': (string);
  'priority': (number);
  'criterion': (_moc_v1_Criterion__Output | null);
  /**
   * Epoch ms; 0: none.
   */
  'deadline_ms': (number);
  'jobs': (string)[];
  /**
   * The job chain MOC runs to pursue the criterion, as JSON (docs/jobs.md "Goals that act"); '' for none.
   */
  'plan_json': (string);
  /**
   * Idempotent creation, as SubmitJob's: the same key and request_id with the same fields return the first goal.
   */
  'request_id': (string);
}
