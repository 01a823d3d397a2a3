// Original file: proto/moc.proto

import type { Job as _moc_v1_Job, Job__Output as _moc_v1_Job__Output } from '../../moc/v1/Job.js';

export interface ListJobsResponse {
  'jobs'?: (_moc_v1_Job)[];
}

export interface ListJobsResponse__Output {
  'jobs': (_moc_v1_Job__Output)[];
}
