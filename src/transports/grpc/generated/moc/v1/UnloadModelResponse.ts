// Original file: proto/moc.proto

import type { Long } from '@grpc/proto-loader';

export interface UnloadModelResponse {
  'name'?: (string);
  'freed_bytes'?: (number | string | Long);
}

export interface UnloadModelResponse__Output {
  'name': (string);
  'freed_bytes': (number);
}
