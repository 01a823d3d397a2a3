// Original file: proto/moc.proto

import type { JobState as _moc_v1_JobState, JobState__Output as _moc_v1_JobState__Output } from '../../moc/v1/JobState.js';
import type { JobProgress as _moc_v1_JobProgress, JobProgress__Output as _moc_v1_JobProgress__Output } from '../../moc/v1/JobProgress.js';
import type { JobOutputs as _moc_v1_JobOutputs, JobOutputs__Output as _moc_v1_JobOutputs__Output } from '../../moc/v1/JobOutputs.js';
import type { JobError as _moc_v1_JobError, JobError__Output as _moc_v1_JobError__Output } from '../../moc/v1/JobError.js';
import type { Long } from '@grpc/proto-loader';

export interface Job {
  'id'?: (string);
  'type'?: (string);
  'spec_json'?: (string);
  'priority'?: (number);
  'owner'?: (string);
  'state'?: (_moc_v1_JobState);
  'attempts'?: (number);
  'max_attempts'?: (number);
  'progress'?: (_moc_v1_JobProgress | null);
  'created_at_ms'?: (number | string | Long);
  'queued_at_ms'?: (number | string | Long);
  'started_at_ms'?: (number | string | Long);
  'ended_at_ms'?: (number | string | Long);
  'updated_at_ms'?: (number | string | Long);
  'log_tail'?: (string)[];
  'outputs'?: (_moc_v1_JobOutputs | null);
  'error'?: (_moc_v1_JobError | null);
  'request_id'?: (string);
  'cancel_requested'?: (boolean);
}

export interface Job__Output {
  'id': (string);
  'type': (string);
  'spec_json': (string);
  'priority': (number);
  'owner': (string);
  'state': (_moc_v1_JobState__Output);
  'attempts': (number);
  'max_attempts': (number);
  'progress': (_moc_v1_JobProgress__Output | null);
  'created_at_ms': (number);
  'queued_at_ms': (number);
  'started_at_ms': (number);
  'ended_at_ms': (number);
  'updated_at_ms': (number);
  'log_tail': (string)[];
  'outputs': (_moc_v1_JobOutputs__Output | null);
  'error': (_moc_v1_JobError__Output | null);
  'request_id': (string);
  'cancel_requested': (boolean);
}
