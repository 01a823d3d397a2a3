/**
 * API keys and roles on gRPC (server interceptor): the matrix on every method of moc.v1.ModelOps — no key, wrong
 * key, infer key, admin key, both metadata forms — and the open demo mode when no keys are configured.
 */
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { errorCode, startHarness, type Harness } from '../helpers/coordinator.js';
import { ACTION_OF_METHOD } from '../../src/transports/grpc/auth-interceptor.js';
import { ROLE_OF_ACTION, roleAllows, type Role } from '../../src/auth/permissions.js';

const ADMIN = 'grpc-admin-key-0123456789';
const INFER = 'grpc-infer-key-0123456789';
const TRAINER = 'grpc-trainer-key-0123456789';

const REQUESTS: Record<string, object> = {
  Infer: { model: 'moc-demo', prompt: 'hi', max_tokens: 2, temperature: 0 },
  InferStream: { model: 'moc-demo', prompt: 'hi', max_tokens: 2, temperature: 0 },
  ListModels: {},
  GetModel: { name: 'moc-demo' },
  GetDevices: {},
  WatchModels: {},
  RegisterModel: { name: 'moc-demo', path: 'moc-demo.gguf', keep_alive_ms: -1 },
  LoadModel: { name: 'moc-demo' },
  SetAlias: { alias: 'chat', target: 'moc-demo' },
  PinModel: { name: 'moc-demo', pinned: false },
  UnloadModel: { name: 'nothing-loaded-by-that-name' },
  SubmitJob: { type: 'evaluate', spec_json: JSON.stringify({ model: 'moc-demo', dataset: 'none.jsonl' }) },
  GetJob: { id: 'job-none' },
  ListJobs: {},
  CancelJob: { id: 'job-none' },
  RecordFeedback: { prompt: 'hi', chosen: 'a good answer', rejected: 'a bad one' },
  WatchJob: { id: 'job-none' },
  CreateGoal: { title: 'a goal' },
  GetGoal: { id: 'goal-none' },
  ListGoals: {},
  UpdateGoal: { id: 'goal-none', title: 'x' },
  CancelGoal: { id: 'goal-none' },
  GoalHistory: { id: 'goal-none' },
};

/** Methods whose request names nothing that exists: NOT_FOUND there is an answer from past the key check. */
const NOT_FOUND_IS_PAST_AUTH = new Set([
  'UnloadModel',
  'GetJob',
  'CancelJob',
  'WatchJob',
  'GetGoal',
  'UpdateGoal',
  'CancelGoal',
  'GoalHistory',
]);

function md(headers: Record<string, string>): grpc.Metadata {
  const m = new grpc.Metadata();
  for (const [k, v] of Object.entries(headers)) m.set(k, v);
  return m;
}

/** Resolves with the status code the call ended with (0 = OK); streams count OK at their first message. */
function call(
  h: Harness,
  method: string,
  headers: Record<string, string>,
): Promise<{ code: number; mocCode?: string; details?: string }> {
  const deadline = new Date(Date.now() + 30_000);
  return new Promise((resolve) => {
    if (method === 'InferStream' || method === 'WatchModels' || method === 'WatchJob') {
      const s = h.client[method](REQUESTS[method], md(headers), { deadline }) as grpc.ClientReadableStream<any>;
      s.on('data', () => {
        s.cancel();
        resolve({ code: 0 });
      });
      s.on('error', (e: grpc.ServiceError) => resolve({ code: e.code, mocCode: errorCode(e), details: e.details }));
      s.on('end', () => resolve({ code: 0 }));
      return;
    }
    h.client[method](REQUESTS[method], md(headers), { deadline }, (e: grpc.ServiceError | null) =>
      resolve(e ? { code: e.code, mocCode: errorCode(e), details: e.details } : { code: 0 }),
    );
  });
}

t.test('keys and roles on every gRPC method', async (t) => {
  const h = await startHarness(t, {
    auth: {
      keys: [
        { name: 'ops', role: 'admin', key: ADMIN },
        { name: 'agents', role: 'infer', key: INFER },
        { name: 'learners', role: 'trainer', key: TRAINER },
      ],
    },
  });
  t.same(
    Object.keys(ACTION_OF_METHOD).sort(),
    Object.keys(REQUESTS).sort(),
    'every method of the service has an action',
  );
  for (const method of Object.keys(REQUESTS)) {
    const none = await call(h, method, {});
    t.equal(none.code, grpc.status.UNAUTHENTICATED, `${method}: no key → UNAUTHENTICATED`);
    t.equal(none.mocCode, 'MOC_ERR_UNAUTHENTICATED');
    const wrong = await call(h, method, { authorization: 'Bearer not-a-key-of-this-server' });
    t.equal(wrong.code, grpc.status.UNAUTHENTICATED, `${method}: wrong key → UNAUTHENTICATED`);
    t.notMatch(wrong.details ?? '', /not-a-key-of-this-server/, 'the presented key is not echoed');

    const needs = ROLE_OF_ACTION[ACTION_OF_METHOD[method]!] as Role;
    const admin = await call(h, method, { authorization: `Bearer ${ADMIN}` });
    const passed = (r: { code: number }) =>
      r.code === 0 || (NOT_FOUND_IS_PAST_AUTH.has(method) && r.code === grpc.status.NOT_FOUND);
    for (const [role, key] of [
      ['infer', INFER],
      ['trainer', TRAINER],
    ] as const) {
      const r = await call(h, method, { 'x-api-key': key });
      if (roleAllows(role, needs)) {
        t.ok(passed(r), `${method}: ${role} key allowed (${r.code} ${r.details ?? ''})`);
      } else {
        t.equal(r.code, grpc.status.PERMISSION_DENIED, `${method}: ${role} key → PERMISSION_DENIED`);
        t.match(r.details, new RegExp(`needs the ${needs} role`));
      }
    }
    t.ok(passed(admin), `${method}: admin key (Bearer) allowed (${admin.code} ${admin.details ?? ''})`);
  }
});

t.test('without keys (loopback demo) every call is let through', async (t) => {
  const h = await startHarness(t);
  t.equal((await call(h, 'ListModels', {})).code, 0);
  t.equal((await call(h, 'LoadModel', {})).code, 0);
});
