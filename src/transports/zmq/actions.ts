/**
 * The legacy protocol's actions: each names an operation of the one table (src/transports/operations.ts: role,
 * timeout class, whether it writes, the resource it answers with) and how the legacy fields map onto it. Field names
 * are the REST/proto ones, validated by the operation (one edge for gRPC, REST and ZMQ), so all three refuse the same
 * inputs the same way.
 */
import type { Action } from '../../auth/permissions.js';
import {
  OPERATIONS,
  runOperation,
  type OperationCall,
  type OperationName,
  type OperationResult,
} from '../operations.js';

type Fields = Record<string, unknown>;

export interface ActionSpec {
  /** What the API key must allow; absent: public (health). */
  auth?: Action;
  /** The operation it runs (absent: answered by the listener itself), the name its requests are counted under. */
  operation?: OperationName;
  /** Acts on the server: a retry with the same request_id within the window gets the first answer, not a second act. */
  write: boolean;
  /** The reply's fields (besides status and request_id). */
  run(fields: Fields, call: OperationCall & { health(): Fields }): Promise<Fields>;
}

/** Legacy clients name a model `name` or `model`. */
const named = (f: Fields): Fields =>
  f.name !== undefined ? { name: f.name } : f.model !== undefined ? { name: f.model } : {};

/** An action that runs an operation: `input` maps the legacy fields, `reply` wraps the resource. */
function operation<N extends OperationName>(
  name: N,
  input: (f: Fields) => Fields,
  reply: (r: OperationResult<N>) => Fields,
): ActionSpec {
  const op = OPERATIONS[name];
  return {
    auth: op.action,
    operation: name,
    write: op.write,
    run: async (f, call) => reply(await runOperation(name, input(f), call)),
  };
}

const same = (f: Fields) => f;
const as = (key: string) => (r: unknown) => ({ [key]: r });

export const ACTIONS: Record<string, ActionSpec> = {
  infer: operation('infer', same, (r) => r),
  register_model: operation('register', same, as('model')),
  load_model: operation(
    'load',
    ({ model: _m, ...f }) => ({ ...f, ...named({ name: f.name, model: _m }) }),
    as('model'),
  ),
  unload_model: operation('unload', named, (r) => r),
  set_alias: operation(
    'set-alias',
    (f) => ({ alias: f.alias, target: f.target }),
    (r) => r,
  ),
  pin_model: operation('pin', (f) => ({ ...named(f), pinned: f.pinned }), as('model')),
  // Legacy clients sent nothing else: only the page fields are read, anything more is ignored as before.
  list_models: operation(
    'list-models',
    (f) => ({
      ...(f.limit !== undefined ? { limit: f.limit } : {}),
      ...(f.cursor !== undefined ? { cursor: f.cursor } : {}),
    }),
    (r) => r,
  ),
  model_status: operation('get-model', named, as('model')),
  devices: operation('devices', () => ({}), as('devices')),
  fleet: operation('fleet', () => ({}), as('hosts')),
  submit_job: operation('submit-job', same, as('job')),
  // Jobs and goals are new actions, no legacy client sends more: their fields are validated whole (unknown refused).
  get_job: operation('get-job', same, as('job')),
  list_jobs: operation('list-jobs', same, as('jobs')),
  cancel_job: operation('cancel-job', same, as('job')),
  record_feedback: operation('record-feedback', same, as('feedback')),
  create_goal: operation('create-goal', same, as('goal')),
  goal_status: operation('get-goal', same, as('goal')),
  list_goals: operation('list-goals', same, as('goals')),
  update_goal: operation('update-goal', same, as('goal')),
  cancel_goal: operation('cancel-goal', same, as('goal')),
  goal_history: operation('goal-history', same, as('goals')),
  health: {
    write: false,
    // `status` is the reply's ok/error: readiness is `state` here.
    run: async (_f, c) => {
      const { status, ...rest } = c.health();
      return { state: status, ...rest };
    },
  },
};

export const ACTION_NAMES = Object.keys(ACTIONS);
