// Original file: proto/moc.proto

import type { Long } from '@grpc/proto-loader';

/**
 * A host as GET /v1/fleet has it: its devices, catalog and addresses as JSON in record_json (`advertise`,
 * `started_at_ms`, `heartbeat_ms`, `devices`, `catalog`), judged alive by the database clock.
 */
export interface FleetHost {
  'host_id'?: (string);
  'alive'?: (boolean);
  'silent_ms'?: (number | string | Long);
  'record_json'?: (string);
}

/**
 * A host as GET /v1/fleet has it: its devices, catalog and addresses as JSON in record_json (`advertise`,
 * `started_at_ms`, `heartbeat_ms`, `devices`, `catalog`), judged alive by the database clock.
 */
export interface FleetHost__Output {
  'host_id': (string);
  'alive': (boolean);
  'silent_ms': (number);
  'record_json': (string);
}
