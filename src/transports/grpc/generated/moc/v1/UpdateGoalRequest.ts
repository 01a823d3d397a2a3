// Original file: proto/moc.proto

import type { Criterion as _moc_v1_Criterion, Criterion__Output as _moc_v1_Criterion__Output } from '../../moc/v1/Criterion.js';
import type { Long } from '@grpc/proto-loader';

export interface UpdateGoalRequest {
  'id'?: (string);
  'title'?: (string);
  'description'?: (string);
  'priority'?: (number);
  'criterion'?: (_moc_v1_Criterion | null);
  'deadline_ms'?: (number | string | Long);
  'link_jobs'?: (string)[];
  'unlink_jobs'?: (string)[];
  /**
   * Start an attempt of the goal's plan now (after the running one), whatever its trigger.
   */
  'run'?: (boolean);
  '_title'?: "title";
  '_description'?: "description";
  '_priority'?: "priority";
  '_deadline_ms'?: "deadline_ms";
}

export interface UpdateGoalRequest__Output {
  'id': (string);
  'title'?: (string);
  'description'?: (string);
  'priority'?: (number);
  'criterion': (_moc_v1_Criterion__Output | null);
  'deadline_ms'?: (number);
  'link_jobs': (string)[];
  'unlink_jobs': (string)[];
  /**
   * Start an attempt of the goal's plan now (after the running one), whatever its trigger.
   */
  'run': (boolean);
  '_title'?: "title";
  '_description'?: "description";
  '_priority'?: "priority";
  '_deadline_ms'?: "deadline_ms";
}
