// Original file: proto/moc.proto


/**
 * Met by a linked job that succeeded with outputs.metrics[metric] op (lte or gte) value. metric '' = none.
 */
export interface Criterion {
  'metric'?: (string);
  'op'?: (string);
  'value'?: (number | string);
}

/**
 * Met by a linked job that succeeded with outputs.metrics[metric] op (lte or gte) value. metric '' = none.
 */
export interface Criterion__Output {
  'metric': (string);
  'op': (string);
  'value': (number);
}
