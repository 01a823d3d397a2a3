// Original file: proto/moc.proto

import type { Long } from '@grpc/proto-loader';

export interface Feedback {
  'id'?: (string);
  /**
   * rating or preference
   */
  'kind'?: (string);
  'owner'?: (string);
  'at_ms'?: (number | string | Long);
  'model'?: (string);
  'prompt'?: (string);
  'chosen'?: (string);
  'rejected'?: (string);
  'rating'?: (number);
  /**
   * the rated (or chosen) answer's id; '' when the answers were sent as text
   */
  'request_id'?: (string);
  'comment'?: (string);
  /**
   * the same as request_id, by the name RecordFeedbackRequest takes
   */
  'answer_id'?: (string);
  /**
   * the record's idempotency key; '' when none
   */
  'idempotency_key'?: (string);
}

export interface Feedback__Output {
  'id': (string);
  /**
   * rating or preference
   */
  'kind': (string);
  'owner': (string);
  'at_ms': (number);
  'model': (string);
  'prompt': (string);
  'chosen': (string);
  'rejected': (string);
  'rating': (number);
  /**
   * the rated (or chosen) answer's id; '' when the answers were sent as text
   */
  'request_id': (string);
  'comment': (string);
  /**
   * the same as request_id, by the name RecordFeedbackRequest takes
   */
  'answer_id': (string);
  /**
   * the record's idempotency key; '' when none
   */
  'idempotency_key': (string);
}
