// Original file: proto/moc.proto


/**
 * A rating (rating + answer_id, or rating + prompt + chosen) or a preference (prompt + chosen + rejected, or
 * answer_id + rejected_answer_id). An answer id is the request_id an InferResponse carried, looked up in the server's
 * inference record (feedback.recordInferences). request_id and rejected_request_id are their old names (one or the
 * other, not both); ZMQ and REST take answer_id too.
 */
export interface RecordFeedbackRequest {
  /**
   * old name of answer_id
   */
  'request_id'?: (string);
  /**
   * -1 bad, 0 neutral, 1 good.
   */
  'rating'?: (number);
  /**
   * old name of rejected_answer_id
   */
  'rejected_request_id'?: (string);
  'prompt'?: (string);
  'chosen'?: (string);
  'rejected'?: (string);
  'comment'?: (string);
  'answer_id'?: (string);
  'rejected_answer_id'?: (string);
  /**
   * Idempotent recording: the same key and idempotency_key with the same fields return the first record (other
   * fields: ALREADY_EXISTS, MOC_ERR_REQUEST_ID_REUSED). Not request_id: that is answer_id's old name.
   */
  'idempotency_key'?: (string);
  '_rating'?: "rating";
}

/**
 * A rating (rating + answer_id, or rating + prompt + chosen) or a preference (prompt + chosen + rejected, or
 * answer_id + rejected_answer_id). An answer id is the request_id an InferResponse carried, looked up in the server's
 * inference record (feedback.recordInferences). request_id and rejected_request_id are their old names (one or the
 * other, not both); ZMQ and REST take answer_id too.
 */
export interface RecordFeedbackRequest__Output {
  /**
   * old name of answer_id
   */
  'request_id': (string);
  /**
   * -1 bad, 0 neutral, 1 good.
   */
  'rating'?: (number);
  /**
   * old name of rejected_answer_id
   */
  'rejected_request_id': (string);
  'prompt': (string);
  'chosen': (string);
  'rejected': (string);
  'comment': (string);
  'answer_id': (string);
  'rejected_answer_id': (string);
  /**
   * Idempotent recording: the same key and idempotency_key with the same fields return the first record (other
   * fields: ALREADY_EXISTS, MOC_ERR_REQUEST_ID_REUSED). Not request_id: that is answer_id's old name.
   */
  'idempotency_key': (string);
  '_rating'?: "rating";
}
