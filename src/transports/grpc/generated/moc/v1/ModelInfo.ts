// Original file: proto/moc.proto

import type { ModelState as _moc_v1_ModelState, ModelState__Output as _moc_v1_ModelState__Output } from '../../moc/v1/ModelState.js';
import type { Long } from '@grpc/proto-loader';

export interface ModelInfo {
  'name'?: (string);
  'path'?: (string);
  'device'?: (string);
  'state'?: (_moc_v1_ModelState);
  'context_size'?: (number);
  'sequences'?: (number);
  'estimate_bytes'?: (number | string | Long);
  'reserved_bytes'?: (number | string | Long);
  'actual_bytes'?: (number | string | Long);
  'in_flight'?: (number);
  'queued'?: (number);
  'loaded_at_ms'?: (number | string | Long);
  'error'?: (string);
  'last_used_at_ms'?: (number | string | Long);
  'pinned'?: (boolean);
  'keep_alive_ms'?: (number | string | Long);
  /**
   * When the idle model unloads; 0: no expiry scheduled.
   */
  'expires_at_ms'?: (number | string | Long);
  'sha256'?: (string);
  'architecture'?: (string);
  'parameter_count'?: (number | string | Long);
  'quantization'?: (string);
  'aliases'?: (string)[];
  /**
   * closed | open (loads fail fast after repeated failures) | half-open
   */
  'breaker'?: (string);
  /**
   * While loading: how far the engine has read the weights (0..1); unset otherwise.
   */
  'load_progress'?: (number | string);
  /**
   * Tokens the model's sequences hold (the prompt cache) over what they can hold, after its last generation (0..1);
   * unset before its first.
   */
  'kv_cache_usage'?: (number | string);
  /**
   * A LoRA adapter's base model; empty for a model.
   */
  'base'?: (string);
  /**
   * A LoRA adapter's scale; unset for a model.
   */
  'scale'?: (number | string);
  '_load_progress'?: "load_progress";
  '_kv_cache_usage'?: "kv_cache_usage";
  '_scale'?: "scale";
}

export interface ModelInfo__Output {
  'name': (string);
  'path': (string);
  'device': (string);
  'state': (_moc_v1_ModelState__Output);
  'context_size': (number);
  'sequences': (number);
  'estimate_bytes': (number);
  'reserved_bytes': (number);
  'actual_bytes': (number);
  'in_flight': (number);
  'queued': (number);
  'loaded_at_ms': (number);
  'error': (string);
  'last_used_at_ms': (number);
  'pinned': (boolean);
  'keep_alive_ms': (number);
  /**
   * When the idle model unloads; 0: no expiry scheduled.
   */
  'expires_at_ms': (number);
  'sha256': (string);
  'architecture': (string);
  'parameter_count': (number);
  'quantization': (string);
  'aliases': (string)[];
  /**
   * closed | open (loads fail fast after repeated failures) | half-open
   */
  'breaker': (string);
  /**
   * While loading: how far the engine has read the weights (0..1); unset otherwise.
   */
  'load_progress'?: (number);
  /**
   * Tokens the model's sequences hold (the prompt cache) over what they can hold, after its last generation (0..1);
   * unset before its first.
   */
  'kv_cache_usage'?: (number);
  /**
   * A LoRA adapter's base model; empty for a model.
   */
  'base': (string);
  /**
   * A LoRA adapter's scale; unset for a model.
   */
  'scale'?: (number);
  '_load_progress'?: "load_progress";
  '_kv_cache_usage'?: "kv_cache_usage";
  '_scale'?: "scale";
}
