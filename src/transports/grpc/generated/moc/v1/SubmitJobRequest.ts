// Original file: proto/moc.proto

import type { Long } from '@grpc/proto-loader';

export interface SubmitJobRequest {
  /**
   * evaluate, prepare-dataset, fine-tune or export-feedback.
   */
  'type'?: (string);
  /**
   * The type's spec as a JSON object, e.g. {"model":"moc-demo","dataset":"eval.jsonl"} (docs/jobs.md).
   */
  'spec_json'?: (string);
  /**
   * Higher runs first (-100..100); waiting raises it (jobs.agingMs).
   */
  'priority'?: (number);
  'device'?: (string);
  'memory_bytes'?: (number | string | Long);
  /**
   * Idempotent submit: the same key and request_id return the first job.
   */
  'request_id'?: (string);
  /**
   * Attempts when an attempt fails retryably; 0: the server default (jobs.defaultMaxAttempts).
   */
  'max_attempts'?: (number);
}

export interface SubmitJobRequest__Output {
  /**
   * evaluate, prepare-dataset, fine-tune or export-feedback.
   */
  'type': (string);
  /**
   * The type's spec as a JSON object, e.g. {"model":"moc-demo","dataset":"eval.jsonl"} (docs/jobs.md).
   */
  'spec_json': (string);
  /**
   * Higher runs first (-100..100); waiting raises it (jobs.agingMs).
   */
  'priority': (number);
  'device': (string);
  'memory_bytes': (number);
  /**
   * Idempotent submit: the same key and request_id return the first job.
   */
  'request_id': (string);
  /**
   * Attempts when an attempt fails retryably; 0: the server default (jobs.defaultMaxAttempts).
   */
  'max_attempts': (number);
}
