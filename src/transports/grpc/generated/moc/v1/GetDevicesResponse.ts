// Original file: proto/moc.proto

import type { DeviceInfo as _moc_v1_DeviceInfo, DeviceInfo__Output as _moc_v1_DeviceInfo__Output } from '../../moc/v1/DeviceInfo.js';

export interface GetDevicesResponse {
  'devices'?: (_moc_v1_DeviceInfo)[];
}

export interface GetDevicesResponse__Output {
  'devices': (_moc_v1_DeviceInfo__Output)[];
}
