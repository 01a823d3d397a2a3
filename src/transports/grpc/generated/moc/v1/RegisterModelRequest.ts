// Original file: proto/moc.proto

import type { Long } from '@grpc/proto-loader';

export interface RegisterModelRequest {
  'name'?: (string);
  /**
   * GGUF file relative to the server's models root.
   */
  'path'?: (string);
  /**
   * Device id to place it on; empty: best fit across devices.
   */
  'device'?: (string);
  /**
   * Tokens per sequence; 0: 512.
   */
  'context_size'?: (number);
  /**
   * Parallel sequences (concurrent requests batched together); 0: 8.
   */
  'sequences'?: (number);
  'pinned'?: (boolean);
  /**
   * Idle time before unloading: ms; -1 never; unset: the server default (lifecycle.defaultKeepAliveMs).
   */
  'keep_alive_ms'?: (number | string | Long);
  /**
   * Load at every start.
   */
  'preload'?: (boolean);
  /**
   * A LoRA adapter (instead of path): the registered model it applies to, its GGUF relative to the models root, and
   * its scale (unset: 1; 0 gives the base's answers).
   */
  'base'?: (string);
  'adapter'?: (string);
  'scale'?: (number | string);
  '_pinned'?: "pinned";
  '_keep_alive_ms'?: "keep_alive_ms";
  '_preload'?: "preload";
  '_scale'?: "scale";
}

export interface RegisterModelRequest__Output {
  'name': (string);
  /**
   * GGUF file relative to the server's models root.
   */
  'path': (string);
  /**
   * Device id to place it on; empty: best fit across devices.
   */
  'device': (string);
  /**
   * Tokens per sequence; 0: 512.
   */
  'context_size': (number);
  /**
   * Parallel sequences (concurrent requests batched together); 0: 8.
   */
  'sequences': (number);
  'pinned'?: (boolean);
  /**
   * Idle time before unloading: ms; -1 never; unset: the server default (lifecycle.defaultKeepAliveMs).
   */
  'keep_alive_ms'?: (number);
  /**
   * Load at every start.
   */
  'preload'?: (boolean);
  /**
   * A LoRA adapter (instead of path): the registered model it applies to, its GGUF relative to the models root, and
   * its scale (unset: 1; 0 gives the base's answers).
   */
  'base': (string);
  'adapter': (string);
  'scale'?: (number);
  '_pinned'?: "pinned";
  '_keep_alive_ms'?: "keep_alive_ms";
  '_preload'?: "preload";
  '_scale'?: "scale";
}
