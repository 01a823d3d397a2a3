/**
 * API keys and roles on gRPC, as a grpc-js server interceptor: the check runs on the call's metadata before any
 * handler (and so before the router) sees the call. Credentials: `authorization: Bearer <key>` or `x-api-key: <key>`.
 * The same KeyRing and action table as REST and ZMQ decide (src/auth), so no transport offers an admin action that
 * another guards. A method of the service the table does not know is refused (fail closed). Health and reflection
 * are public (PUBLIC_SERVICES).
 */
import * as grpc from '@grpc/grpc-js';
import { credentialFrom, type CertSubject, type KeyRing } from '../../auth/keys.js';
import type { Action } from '../../auth/permissions.js';
import { errors, toMocError } from '../../errors.js';
import { toGrpcError } from './mapping.js';

/** gRPC method → the action its caller's key must allow. */
export const ACTION_OF_METHOD: Record<string, Action> = {
  Infer: 'infer',
  InferStream: 'infer',
  ListModels: 'list-models',
  GetModel: 'get-model',
  GetDevices: 'devices',
  WatchModels: 'watch-models',
  RegisterModel: 'register',
  LoadModel: 'load',
  UnloadModel: 'unload',
  SetAlias: 'set-alias',
  PinModel: 'pin',
  SubmitJob: 'submit-job',
  GetJob: 'get-job',
  ListJobs: 'list-jobs',
  CancelJob: 'cancel-job',
  RecordFeedback: 'record-feedback',
  WatchJob: 'watch-job',
  CreateGoal: 'create-goal',
  GetGoal: 'get-goal',
  ListGoals: 'list-goals',
  UpdateGoal: 'update-goal',
  CancelGoal: 'cancel-goal',
  GoalHistory: 'goal-history',
};

const SERVICE_PREFIX = '/moc.v1.ModelOps/';

/**
 * Public, as REST /health/* is: probes and balancers carry no keys, and reflection only describes the schema that
 * proto/moc.proto publishes anyway. Whole services by exact name, so any other service still needs a key.
 */
const PUBLIC_SERVICES = [
  '/grpc.health.v1.Health/',
  '/grpc.reflection.v1.ServerReflection/',
  '/grpc.reflection.v1alpha.ServerReflection/',
];

/** The subject of the client certificate TLS verified (only a verified one: requestCert alone proves nothing). */
export function verifiedSubject(
  ctx: { transportSecurityType?: string; sslPeerCertificate?: { subject?: CertSubject } } | null | undefined,
): CertSubject | undefined {
  if (ctx?.transportSecurityType !== 'ssl') return undefined;
  const subject = ctx.sslPeerCertificate?.subject;
  return subject && Object.keys(subject).length ? subject : undefined;
}

function firstString(md: grpc.Metadata, key: string): string | undefined {
  const v = md.get(key)[0];
  return v === undefined ? undefined : v.toString();
}

/** No interceptor at all when no keys are configured (the loopback demo mode): zero cost on the hot path. */
/** `refused`: told of each call the check ends (the metrics count it under the method's operation). */
export function authInterceptors(
  keys: KeyRing,
  refused?: (operation: string, code: string) => void,
): grpc.ServerInterceptor[] {
  if (keys.open) return [];
  const check: grpc.ServerInterceptor = (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, mdNext) => {
            let action: Action | undefined;
            const refuse = (err: unknown) => {
              // The call ends here with the error table's status; the handler never runs.
              refused?.(action ?? 'unknown', toMocError(err).code);
              const s = toGrpcError(err);
              call.sendStatus({
                code: s.code ?? grpc.status.UNKNOWN,
                details: s.details ?? '',
                metadata: s.metadata ?? null,
              });
            };
            try {
              const name = method.path.startsWith(SERVICE_PREFIX) ? method.path.slice(SERVICE_PREFIX.length) : '';
              action = Object.hasOwn(ACTION_OF_METHOD, name) ? ACTION_OF_METHOD[name] : undefined;
              if (!action) throw errors.unknownMethod(method.path);
              const checked = keys.check(
                credentialFrom(firstString(metadata, 'authorization'), firstString(metadata, 'x-api-key')),
                action,
                verifiedSubject(call.getAuthContext()),
              );
              // A bearer JWT seen for the first time: grpc-js holds the call's messages until the metadata is passed on.
              if (checked instanceof Promise) checked.then(() => mdNext(metadata), refuse);
              else mdNext(metadata);
            } catch (err) {
              refuse(err);
            }
          },
        }),
    });
  // An intercepting call without a responder passes everything through: health and reflection skip the check.
  const interceptor: grpc.ServerInterceptor = (method, call) =>
    PUBLIC_SERVICES.some((p) => method.path.startsWith(p))
      ? new grpc.ServerInterceptingCall(call)
      : check(method, call);
  return [interceptor];
}
