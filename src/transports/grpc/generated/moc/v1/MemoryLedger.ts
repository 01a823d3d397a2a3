// Original file: proto/moc.proto

import type { Long } from '@grpc/proto-loader';

export interface MemoryLedger {
  'hard_limit'?: (number | string | Long);
  'soft_limit'?: (number | string | Long);
  'reserved'?: (number | string | Long);
  'free'?: (number | string | Long);
}

export interface MemoryLedger__Output {
  'hard_limit': (number);
  'soft_limit': (number);
  'reserved': (number);
  'free': (number);
}
