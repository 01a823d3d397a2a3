// Original file: proto/moc.proto

import type { TokenAlternative as _moc_v1_TokenAlternative, TokenAlternative__Output as _moc_v1_TokenAlternative__Output } from '../../moc/v1/TokenAlternative.js';

export interface TokenLogprob {
  'token'?: (string);
  /**
   * Natural log of the token's probability under the model (before temperature, top_p and penalties).
   */
  'logprob'?: (number | string);
  'top'?: (_moc_v1_TokenAlternative)[];
}

export interface TokenLogprob__Output {
  'token': (string);
  /**
   * Natural log of the token's probability under the model (before temperature, top_p and penalties).
   */
  'logprob': (number);
  'top': (_moc_v1_TokenAlternative__Output)[];
}
