// Original file: proto/moc.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Memory held in a device's ledger for something other than a model: a running job (owner "job:<id>").
 */
export interface Reservation {
  'owner'?: (string);
  'bytes'?: (number | string | Long);
}

/**
 * Memory held in a device's ledger for something other than a model: a running job (owner "job:<id>").
 */
export interface Reservation__Output {
  'owner': (string);
  'bytes': (number);
}
