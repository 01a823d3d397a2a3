/**
 * What each action needs, declared once for every transport. `infer` keys may run inference and read state;
 * everything that changes which models exist or where they live needs `admin`.
 */
export type Role = 'admin' | 'trainer' | 'infer';
/** Each role may do what the roles after it may: admin ⊇ trainer ⊇ infer. */
export const ROLES: readonly Role[] = ['admin', 'trainer', 'infer'];
export const roleAllows = (has: Role, needs: Role) => ROLES.indexOf(has) <= ROLES.indexOf(needs);

export const ROLE_OF_ACTION = {
  infer: 'infer',
  'list-models': 'infer',
  'get-model': 'infer',
  'watch-models': 'infer',
  devices: 'infer',
  fleet: 'infer',
  'get-job': 'infer',
  'list-jobs': 'infer',
  'watch-job': 'infer',
  'submit-job': 'trainer',
  'cancel-job': 'trainer',
  // Agents rate the answers they get: an inference key may.
  'record-feedback': 'infer',
  'get-goal': 'infer',
  'list-goals': 'infer',
  'goal-history': 'infer',
  'create-goal': 'trainer',
  'update-goal': 'trainer',
  'cancel-goal': 'trainer',
  register: 'admin',
  load: 'admin',
  unload: 'admin',
  'set-alias': 'admin',
  pin: 'admin',
} as const satisfies Record<string, Role>;

export type Action = keyof typeof ROLE_OF_ACTION;
