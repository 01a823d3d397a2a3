/**
 * The legacy protocol's actions, declared once: what each needs (role), whether it writes (idempotent retries
 * apply), and how it maps onto the router. Field names are the REST/proto ones; the router validates them with the
 * same schemas as gRPC and REST, so all three refuse the same inputs the same way.
 */
import { MocError } from '../../errors.js';
import type { Action } from '../../auth/permissions.js';
import type { RouterProtocol } from '../../../schemas/messages.js';
import type { ActorRef } from '../../kernel/types.js';
import { deviceResource, inferResponse, modelResource, unloadResponse, aliasResponse } from '../views.js';

export interface ActionContext {
  router: ActorRef<RouterProtocol>;
  /** Remaining time for this request and its cancellation (server shutdown). */
  opts: { timeoutMs: number; signal: AbortSignal };
  /** Longer ceiling for loads. */
  loadOpts: { timeoutMs: number; signal: AbortSignal };
  health(): Record<string, unknown>;
}

export interface ActionSpec {
  /** What the API key must allow; absent: public (health). */
  auth?: Action;
  /** Acts on the server: a retry with the same request_id within the window gets the first answer, not a second act. */
  write: boolean;
  run(fields: Record<string, unknown>, ctx: ActionContext): Promise<Record<string, unknown>>;
}

const name = (f: Record<string, unknown>) => f.name ?? f.model;

export const ACTIONS: Record<string, ActionSpec> = {
  infer: {
    auth: 'infer', write: false,
    run: async (f, c) => inferResponse(await c.router.ask({ kind: 'infer', request: f, stream: false }, c.opts)),
  },
  register_model: {
    auth: 'register', write: true,
    run: async (f, c) => ({ model: modelResource(await c.router.ask({ kind: 'register', request: f }, c.loadOpts)) }),
  },
  load_model: {
    auth: 'load', write: true,
    run: async (f, c) => {
      const { model, ...rest } = f;
      return { model: modelResource(await c.router.ask({ kind: 'load', request: { ...rest, name: name(f) } }, c.loadOpts)) };
    },
  },
  unload_model: {
    auth: 'unload', write: true,
    run: async (f, c) => unloadResponse(await c.router.ask({ kind: 'unload', name: name(f) }, c.loadOpts)),
  },
  set_alias: {
    auth: 'set-alias', write: true,
    run: async (f, c) => aliasResponse(await c.router.ask({ kind: 'set-alias', request: { alias: f.alias, target: f.target } }, c.loadOpts)),
  },
  pin_model: {
    auth: 'pin', write: true,
    run: async (f, c) => ({ model: modelResource(await c.router.ask({ kind: 'pin', request: { name: name(f), pinned: f.pinned } }, c.opts)) }),
  },
  list_models: {
    auth: 'list-models', write: false,
    run: async (_f, c) => ({ models: (await c.router.ask({ kind: 'list-models' }, c.opts)).map(modelResource) }),
  },
  model_status: {
    auth: 'get-model', write: false,
    run: async (f, c) => {
      const n = name(f);
      if (typeof n !== 'string' || n === '') throw new MocError('MOC_ERR_INVALID_ARGUMENT', "name: required (the model's name or alias)", { field: 'name' });
      const models = await c.router.ask({ kind: 'list-models' }, c.opts);
      const m = models.find((x) => x.name === n) ?? models.find((x) => x.aliases.includes(n));
      if (!m) throw new MocError('MOC_ERR_MODEL_NOT_FOUND', `model '${n}' is not registered; register it with register_model`, { model: n });
      return { model: modelResource(m) };
    },
  },
  devices: {
    auth: 'devices', write: false,
    run: async (_f, c) => ({ devices: (await c.router.ask({ kind: 'devices' }, c.opts)).map(deviceResource) }),
  },
  health: {
    write: false,
    // `status` is the reply's ok/error: readiness is `state` here.
    run: async (_f, c) => { const { status, ...rest } = c.health(); return { state: status, ...rest }; },
  },
};

export const ACTION_NAMES = Object.keys(ACTIONS);
