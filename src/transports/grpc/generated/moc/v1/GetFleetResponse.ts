// Original file: proto/moc.proto

import type { FleetHost as _moc_v1_FleetHost, FleetHost__Output as _moc_v1_FleetHost__Output } from '../../moc/v1/FleetHost.js';

export interface GetFleetResponse {
  'hosts'?: (_moc_v1_FleetHost)[];
}

export interface GetFleetResponse__Output {
  'hosts': (_moc_v1_FleetHost__Output)[];
}
