// Original file: proto/moc.proto

import type { MemoryLedger as _moc_v1_MemoryLedger, MemoryLedger__Output as _moc_v1_MemoryLedger__Output } from '../../moc/v1/MemoryLedger.js';
import type { ModelInfo as _moc_v1_ModelInfo, ModelInfo__Output as _moc_v1_ModelInfo__Output } from '../../moc/v1/ModelInfo.js';
import type { Reservation as _moc_v1_Reservation, Reservation__Output as _moc_v1_Reservation__Output } from '../../moc/v1/Reservation.js';

export interface DeviceInfo {
  'id'?: (string);
  'kind'?: (string);
  'available'?: (boolean);
  'memory'?: (_moc_v1_MemoryLedger | null);
  'models'?: (_moc_v1_ModelInfo)[];
  'engine_pid'?: (number);
  'engine_state'?: (string);
  'engine_restarts'?: (number);
  'threads'?: (number);
  'mailbox_depth'?: (number);
  /**
   * Counted in memory.reserved.
   */
  'reservations'?: (_moc_v1_Reservation)[];
}

export interface DeviceInfo__Output {
  'id': (string);
  'kind': (string);
  'available': (boolean);
  'memory': (_moc_v1_MemoryLedger__Output | null);
  'models': (_moc_v1_ModelInfo__Output)[];
  'engine_pid': (number);
  'engine_state': (string);
  'engine_restarts': (number);
  'threads': (number);
  'mailbox_depth': (number);
  /**
   * Counted in memory.reserved.
   */
  'reservations': (_moc_v1_Reservation__Output)[];
}
