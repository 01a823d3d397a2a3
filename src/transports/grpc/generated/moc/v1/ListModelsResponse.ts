// Original file: proto/moc.proto

import type { ModelInfo as _moc_v1_ModelInfo, ModelInfo__Output as _moc_v1_ModelInfo__Output } from '../../moc/v1/ModelInfo.js';

/**
 * next_cursor: pass it as `cursor` for the next page; empty on the last page.
 */
export interface ListModelsResponse {
  'models'?: (_moc_v1_ModelInfo)[];
  'next_cursor'?: (string);
}

/**
 * next_cursor: pass it as `cursor` for the next page; empty on the last page.
 */
export interface ListModelsResponse__Output {
  'models': (_moc_v1_ModelInfo__Output)[];
  'next_cursor': (string);
}
