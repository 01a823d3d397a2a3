// Original file: proto/moc.proto

import type { JobState as _moc_v1_JobState, JobState__Output as _moc_v1_JobState__Output } from '../../moc/v1/JobState.js';

export interface ListJobsRequest {
  'state'?: (_moc_v1_JobState);
  'type'?: (string);
  'limit'?: (number);
}

export interface ListJobsRequest__Output {
  'state': (_moc_v1_JobState__Output);
  'type': (string);
  'limit': (number);
}
