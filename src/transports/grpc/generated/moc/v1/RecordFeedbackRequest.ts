// Original file: proto/moc.proto


/**
 * A rating (rating + request_id, or rating + prompt + chosen) or a preference (prompt + chosen + rejected, or
 * request_id + rejected_request_id). Request ids refer to the server's inference record (feedback.recordInferences).
 */
export interface RecordFeedbackRequest {
  'request_id'?: (string);
  /**
   * -1 bad, 0 neutral, 1 good.
   */
  'rating'?: (number);
  'rejected_request_id'?: (string);
  'prompt'?: (string);
  'chosen'?: (string);
  'rejected'?: (string);
  'comment'?: (string);
  '_rating'?: "rating";
}

/**
 * A rating (rating + request_id, or rating + prompt + chosen) or a preference (prompt + chosen + rejected, or
 * request_id + rejected_request_id). Request ids refer to the server's inference record (feedback.recordInferences).
 */
export interface RecordFeedbackRequest__Output {
  'request_id': (string);
  /**
   * -1 bad, 0 neutral, 1 good.
   */
  'rating'?: (number);
  'rejected_request_id': (string);
  'prompt': (string);
  'chosen': (string);
  'rejected': (string);
  'comment': (string);
  '_rating'?: "rating";
}
