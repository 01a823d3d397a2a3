// Original file: proto/moc.proto


/**
 * One page of the list, by name: `cursor` is the previous page's next_cursor (empty: the first page); `limit` at most
 * 1000 (0: 1000).
 */
export interface ListModelsRequest {
  'limit'?: (number);
  'cursor'?: (string);
}

/**
 * One page of the list, by name: `cursor` is the previous page's next_cursor (empty: the first page); `limit` at most
 * 1000 (0: 1000).
 */
export interface ListModelsRequest__Output {
  'limit': (number);
  'cursor': (string);
}
