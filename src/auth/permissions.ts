/**
 * What each action needs, declared once for every transport. `infer` keys may run inference and read state;
 * everything that changes which models exist or where they live needs `admin`.
 */
export type Role = 'admin' | 'infer';

export const ROLE_OF_ACTION = {
  infer: 'infer',
  'list-models': 'infer',
  'get-model': 'infer',
  'watch-models': 'infer',
  devices: 'infer',
  register: 'admin',
  load: 'admin',
  unload: 'admin',
  'set-alias': 'admin',
  pin: 'admin',
} as const satisfies Record<string, Role>;

export type Action = keyof typeof ROLE_OF_ACTION;
