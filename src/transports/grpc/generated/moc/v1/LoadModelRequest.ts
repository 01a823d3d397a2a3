// Original file: proto/moc.proto

import type { Long } from '@grpc/proto-loader';

export interface LoadModelRequest {
  /**
   * A registered model or alias.
   */
  'name'?: (string);
  /**
   * Optional: register (or re-register) the name with this file first.
   */
  'path'?: (string);
  'device'?: (string);
  'context_size'?: (number);
  'sequences'?: (number);
  'pinned'?: (boolean);
  'keep_alive_ms'?: (number | string | Long);
  '_pinned'?: "pinned";
  '_keep_alive_ms'?: "keep_alive_ms";
}

export interface LoadModelRequest__Output {
  /**
   * A registered model or alias.
   */
  'name': (string);
  /**
   * Optional: register (or re-register) the name with this file first.
   */
  'path': (string);
  'device': (string);
  'context_size': (number);
  'sequences': (number);
  'pinned'?: (boolean);
  'keep_alive_ms'?: (number);
  '_pinned'?: "pinned";
  '_keep_alive_ms'?: "keep_alive_ms";
}
