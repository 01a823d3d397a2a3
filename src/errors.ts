/**
 * The one error table. Every error MOC returns to a client is a MocError whose `code` is a key of ERRORS;
 * each transport maps it through this table (gRPC status, HTTP status, ZMQ code) and never invents its own.
 * docs/errors.md is generated from this table (`npm run docs:errors`) and a test keeps the two in step.
 */

/** gRPC status codes (numeric values from the gRPC spec, kept here so this module has no grpc-js dependency). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type GrpcStatusName = keyof typeof GrpcStatus;

export interface ErrorSpec {
  readonly grpc: GrpcStatusName;
  readonly http: number;
  readonly zmq: string;
  /** Whether the same request may succeed if retried later unchanged. */
  readonly retryable: boolean;
  /** One line for docs/errors.md: when this happens. */
  readonly when: string;
}

export const ERRORS = {
  MOC_ERR_INVALID_ARGUMENT: {
    grpc: 'INVALID_ARGUMENT',
    http: 400,
    zmq: 'INVALID_ARGUMENT',
    retryable: false,
    when: 'A request field is missing, has the wrong type or is out of range; details.field names it.',
  },
  MOC_ERR_UNAUTHENTICATED: {
    grpc: 'UNAUTHENTICATED',
    http: 401,
    zmq: 'UNAUTHENTICATED',
    retryable: false,
    when: 'API keys (or auth.jwt) are configured and the request carries no credential, a key that is not configured, or a bearer token that does not verify.',
  },
  MOC_ERR_PERMISSION_DENIED: {
    grpc: 'PERMISSION_DENIED',
    http: 403,
    zmq: 'PERMISSION_DENIED',
    retryable: false,
    when: "The request's API key is valid but its role does not allow the action (an infer key on an admin action).",
  },
  MOC_ERR_NOT_IMPLEMENTED: {
    grpc: 'UNIMPLEMENTED',
    http: 404,
    zmq: 'UNKNOWN_ACTION',
    retryable: false,
    when: 'The route, method or action does not exist; the message lists the ones that do.',
  },
  MOC_ERR_METHOD_NOT_ALLOWED: {
    grpc: 'UNIMPLEMENTED',
    http: 405,
    zmq: 'UNKNOWN_ACTION',
    retryable: false,
    when: 'The route exists but not with this HTTP method; the Allow header and the message list the methods it takes.',
  },
  MOC_ERR_TOO_LARGE: {
    grpc: 'RESOURCE_EXHAUSTED',
    http: 413,
    zmq: 'TOO_LARGE',
    retryable: false,
    when: 'A request body, URL or header is over its configured limit; the message names the limit.',
  },
  MOC_ERR_URL_TOO_LONG: {
    grpc: 'INVALID_ARGUMENT',
    http: 414,
    zmq: 'TOO_LARGE',
    retryable: false,
    when: 'The URL (path and query) is longer than rest.maxUrlBytes.',
  },
  MOC_ERR_HEADERS_TOO_LARGE: {
    grpc: 'INVALID_ARGUMENT',
    http: 431,
    zmq: 'TOO_LARGE',
    retryable: false,
    when: 'A request header is longer than rest.maxHeaderBytes.',
  },
  MOC_ERR_BODY_TIMEOUT: {
    grpc: 'DEADLINE_EXCEEDED',
    http: 408,
    zmq: 'DEADLINE_EXCEEDED',
    retryable: true,
    when: 'A REST request body arrived too slowly (less than 160 KiB within 7 s); the connection is closed. Send the body at once, right after the headers.',
  },
  MOC_ERR_MODEL_NOT_FOUND: {
    grpc: 'NOT_FOUND',
    http: 404,
    zmq: 'NOT_FOUND',
    retryable: false,
    when: 'The named model is not loaded on any device (or its file does not exist under the models root).',
  },
  MOC_ERR_DEVICE_NOT_FOUND: {
    grpc: 'NOT_FOUND',
    http: 404,
    zmq: 'NOT_FOUND',
    retryable: false,
    when: 'The named device is not in the configuration.',
  },
  MOC_ERR_JOB_NOT_FOUND: {
    grpc: 'NOT_FOUND',
    http: 404,
    zmq: 'NOT_FOUND',
    retryable: false,
    when: 'No learning job has that id (ListJobs shows the ones that exist).',
  },
  MOC_ERR_GOAL_NOT_FOUND: {
    grpc: 'NOT_FOUND',
    http: 404,
    zmq: 'NOT_FOUND',
    retryable: false,
    when: 'The goal id names no goal on this server (ListGoals shows the ones that do).',
  },
  MOC_ERR_GOAL_ENDED: {
    // A conflict with the goal's state (409, gRPC's ABORTED): re-reading it shows it ended, so a new goal is the way on.
    grpc: 'ABORTED',
    http: 409,
    zmq: 'GOAL_ENDED',
    retryable: false,
    when: 'An update names a goal that has ended (achieved, failed or cancelled): an ended goal never changes; create a new goal instead.',
  },
  MOC_ERR_OUTPUT_EXISTS: {
    // The file is someone's data: a job never replaces it unless its spec says so.
    grpc: 'ALREADY_EXISTS',
    http: 409,
    zmq: 'ALREADY_EXISTS',
    retryable: false,
    when: "A job's output file exists already (export-feedback's spec.output): refused at submit, or recorded on the job if the file appeared before it wrote; nothing was written. Name another output or set overwrite: true in the spec.",
  },
  MOC_ERR_REQUEST_ID_REUSED: {
    // An idempotency key reused with other parameters (as Stripe's and pg-boss's keys): replaying the first job would
    // answer a request that was not made.
    grpc: 'ALREADY_EXISTS',
    http: 409,
    zmq: 'REQUEST_ID_REUSED',
    retryable: false,
    when: "A request reuses an idempotency key of an earlier one of the same caller with other parameters: a job submit's request_id (details.job names that job), a goal creation's request_id (details.goal), a feedback record's idempotency_key (details.feedback), or a ZMQ write action's request_id within its idempotency window; details.field names the key, details.fields what differs. Use a new key for a new request.",
  },
  MOC_ERR_JOB_FAILED: {
    grpc: 'FAILED_PRECONDITION',
    http: 422,
    zmq: 'JOB_FAILED',
    retryable: false,
    when: "Recorded on a failed job (never a request's answer): its work failed; the message says how (exit code, stderr tail, bad output).",
  },
  MOC_ERR_MODEL_ALREADY_LOADED: {
    grpc: 'ALREADY_EXISTS',
    http: 409,
    zmq: 'ALREADY_EXISTS',
    retryable: false,
    when: 'A load names a model that is already loaded (or loading) on a different file or device.',
  },
  MOC_ERR_BUSY: {
    grpc: 'RESOURCE_EXHAUSTED',
    http: 429,
    zmq: 'BUSY',
    retryable: true,
    when: 'A bounded mailbox or queue is full; details.retryAfterMs says when to try again.',
  },
  MOC_ERR_RATE_LIMITED: {
    grpc: 'RESOURCE_EXHAUSTED',
    http: 429,
    zmq: 'RATE_LIMITED',
    retryable: true,
    when: "The caller's key used its budget (auth.quotas: requests a second, generated tokens a minute); details.retryAfterMs says when it has room again.",
  },
  MOC_ERR_NO_MEMORY: {
    grpc: 'RESOURCE_EXHAUSTED',
    http: 507,
    zmq: 'NO_MEMORY',
    retryable: false,
    when: "A model, or a job's memory_bytes, does not fit in device memory (in a fleet, at submit: in no live host's device); details say what would have to be freed, or the largest device.",
  },
  MOC_ERR_MODEL_WAIT_EXCEEDED: {
    grpc: 'UNAVAILABLE',
    http: 503,
    zmq: 'MODEL_WAIT_EXCEEDED',
    retryable: true,
    when: "A request waited lifecycle.maxWaitMs for its model to be loaded (its device's memory held by busy models, see docs/models.md); the message says what holds it.",
  },
  MOC_ERR_UNAVAILABLE: {
    grpc: 'UNAVAILABLE',
    http: 503,
    zmq: 'UNAVAILABLE',
    retryable: true,
    when: 'The device or engine serving the request is restarting, or the server is shutting down.',
  },
  MOC_ERR_DEADLINE_EXCEEDED: {
    grpc: 'DEADLINE_EXCEEDED',
    http: 504,
    zmq: 'DEADLINE_EXCEEDED',
    retryable: true,
    when: 'The request deadline (client deadline or server ask timeout) passed before it finished.',
  },
  MOC_ERR_CANCELLED: {
    grpc: 'CANCELLED',
    http: 499,
    zmq: 'CANCELLED',
    retryable: false,
    when: 'The client cancelled the request; its generation was stopped and its sequence freed.',
  },
  MOC_ERR_LOAD_FAILED: {
    grpc: 'FAILED_PRECONDITION',
    http: 422,
    zmq: 'LOAD_FAILED',
    retryable: false,
    when: 'The engine could not load the model file (corrupt, unsupported or unreadable GGUF).',
  },
  MOC_ERR_ADAPTER_REFUSED: {
    grpc: 'FAILED_PRECONDITION',
    http: 422,
    zmq: 'ADAPTER_REFUSED',
    retryable: false,
    when: 'A LoRA adapter file does not fit its base model (not a GGUF or truncated, not a LoRA adapter, another architecture, a tensor the base lacks or of another shape, an a/b pair missing its partner); the message names the problem.',
  },
  MOC_ERR_TRAINER_UNAVAILABLE: {
    grpc: 'FAILED_PRECONDITION',
    http: 422,
    zmq: 'TRAINER_UNAVAILABLE',
    retryable: false,
    when: "A fine-tune names a built-in trainer this machine cannot run (`lora` without Debian's python3-torch at /usr/bin/python3); refused at submit, the message says what to install.",
  },
  MOC_ERR_INTERNAL: {
    grpc: 'INTERNAL',
    http: 500,
    zmq: 'INTERNAL',
    retryable: false,
    when: 'A bug: an invariant of the server broke. The message carries the cause; please report it.',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/**
 * Plain-data form of an error, safe to post between threads and processes (structured clone or JSON). `cause` does
 * not cross (it may be anything, even uncloneable); an INTERNAL error carries its `stack` instead, which already
 * names where its cause was thrown, so a bug in a worker or the engine process reaches the main thread's log.
 * Transports answer clients from code, message and details only: a stack never leaves the server.
 */
export interface ErrorData {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
  stack?: string;
}

export class MocError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = 'MocError';
    this.code = code;
    this.details = details;
  }
  get spec(): ErrorSpec {
    return ERRORS[this.code];
  }
  get grpcStatus(): number {
    return GrpcStatus[this.spec.grpc];
  }
  get httpStatus(): number {
    return this.spec.http;
  }
  get zmqCode(): string {
    return this.spec.zmq;
  }
  toData(): ErrorData {
    const d: ErrorData = { code: this.code, message: this.message, details: this.details };
    if (this.code === 'MOC_ERR_INTERNAL' && this.stack) d.stack = this.stack;
    return d;
  }
  /** The error `toData` described; its stack is the original one when the data carried it (INTERNAL errors). */
  static fromData(d: ErrorData): MocError {
    const e = new MocError(d.code, d.message, d.details ?? {});
    if (typeof d.stack === 'string') e.stack = d.stack;
    return e;
  }
  /** The same error in other words (e.g. without server paths): same code, cause and stack, so logs still see where. */
  reworded(message: string, details: Record<string, unknown> = this.details): MocError {
    const e = new MocError(this.code, message, details, this.cause === undefined ? undefined : { cause: this.cause });
    if (this.stack) e.stack = this.stack;
    return e;
  }
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERRORS, code);
}

/**
 * Anything thrown becomes a MocError; unknown throwables are INTERNAL (they are bugs). The original is kept as
 * `cause`, and the INTERNAL error's stack ends with the original's, so whoever logs `err.stack` sees where it was thrown.
 */
export function toMocError(err: unknown): MocError {
  if (err instanceof MocError) return err;
  if (err && typeof err === 'object' && isErrorCode((err as ErrorData).code))
    return MocError.fromData(err as ErrorData);
  return errors.internal(err instanceof Error ? err.message : String(err), err);
}

const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;

/** Who holds device memory, for NO_MEMORY answers (largest first is the caller's choice). */
export interface MemoryHolder {
  model: string;
  bytes: number;
  device?: string;
  why?: string;
}

// Factories: one per situation, so messages stay consistent and always say what to do next.
export const errors = {
  // ---- requests ----
  invalidArgument: (field: string, problem: string) =>
    new MocError('MOC_ERR_INVALID_ARGUMENT', `${field}: ${problem}`, { field }),
  busy: (what: string, capacity: number, retryAfterMs = 100) =>
    new MocError('MOC_ERR_BUSY', `${what} is full (capacity ${capacity}); retry after ${retryAfterMs} ms`, {
      capacity,
      retryAfterMs,
    }),
  rateLimited: (key: string, budget: string, retryAfterMs: number) =>
    new MocError(
      'MOC_ERR_RATE_LIMITED',
      `key '${key}' is over its budget of ${budget} (auth.quotas); retry after ${retryAfterMs} ms`,
      { key, budget, retryAfterMs },
    ),
  unavailable: (what: string, retryAfterMs = 1000) =>
    new MocError('MOC_ERR_UNAVAILABLE', `${what}; retry after ${retryAfterMs} ms`, { retryAfterMs }),
  deadline: (what: string, ms: number) =>
    new MocError(
      'MOC_ERR_DEADLINE_EXCEEDED',
      `${what} did not finish within ${ms} ms; retry with a longer deadline (or, for inference, fewer max_tokens)`,
      { timeoutMs: ms },
    ),
  cancelled: (what: string) => new MocError('MOC_ERR_CANCELLED', `${what} was cancelled by the client`),
  /**
   * A bug. `cause` is what was thrown: kept as the error's cause, and its stack appended to this one's, so the log
   * line shows where it happened.
   */
  internal: (message: string, cause?: unknown) => {
    const e = new MocError(
      'MOC_ERR_INTERNAL',
      `internal error: ${message}; please report it`,
      {},
      cause === undefined ? undefined : { cause },
    );
    if (cause instanceof Error && cause.stack) e.stack = `${e.stack}\nCaused by: ${cause.stack}`;
    return e;
  },

  // ---- transports: routes, limits ----
  urlTooLong: (bytes: number, limit: number) =>
    new MocError(
      'MOC_ERR_URL_TOO_LONG',
      `the URL is ${bytes} bytes; the limit is ${limit} (rest.maxUrlBytes); put data in the body`,
      { limit },
    ),
  headerTooLarge: (header: string, limit: number) =>
    new MocError(
      'MOC_ERR_HEADERS_TOO_LARGE',
      `header '${header}' is over ${limit} bytes (rest.maxHeaderBytes); shorten it`,
      { header, limit },
    ),
  originNotAllowed: (origin: string) =>
    new MocError('MOC_ERR_PERMISSION_DENIED', `origin '${origin}' is not allowed; add it to rest.corsOrigins`, {
      origin,
    }),
  methodNotAllowed: (method: string, url: string, allowed: string[]) =>
    new MocError(
      'MOC_ERR_METHOD_NOT_ALLOWED',
      `${method.toUpperCase()} ${url} is not a route; it takes ${allowed.join(', ')}`,
      { allowed },
    ),
  noRoute: (what: string) =>
    new MocError('MOC_ERR_NOT_IMPLEMENTED', `no route ${what}; see GET /openapi.json for the routes`),
  unknownAction: (action: unknown, actions: string[]) =>
    new MocError(
      'MOC_ERR_NOT_IMPLEMENTED',
      `${typeof action === 'string' ? `unknown action '${action.slice(0, 64)}'` : 'action: required'}; actions: ${actions.join(', ')}`,
      { actions },
    ),
  unknownMethod: (path: string) =>
    new MocError('MOC_ERR_NOT_IMPLEMENTED', `method ${path} is not one this server authorizes`),

  // ---- auth ----
  unauthenticated: (how: string) =>
    new MocError(
      'MOC_ERR_UNAUTHENTICATED',
      `${how}; send a configured API key (or, with auth.jwt, a token its issuer signed) as 'Authorization: Bearer <key>' or 'x-api-key: <key>'`,
    ),
  permissionDenied: (action: string, role: string, needs: string) =>
    new MocError(
      'MOC_ERR_PERMISSION_DENIED',
      `'${action}' needs the ${needs} role; this key has the ${role} role — use an ${needs} key`,
      { action, role, needs },
    ),
  keysFileUnreadable: (file: string, problem: string) =>
    new MocError('MOC_ERR_INVALID_ARGUMENT', `auth.keysFile: cannot read ${file} (${problem}); fix the path`, {
      field: 'auth.keysFile',
    }),
  /** `where` names the config entry (file:line or MOC_API_KEYS entry n), never the key. */
  keyMalformed: (where: string) =>
    new MocError(
      'MOC_ERR_INVALID_ARGUMENT',
      `${where}: expected 'role:key' or 'role:name:key' with role admin, trainer or infer`,
      { field: 'auth' },
    ),
  keyTooShort: (where: string) =>
    new MocError(
      'MOC_ERR_INVALID_ARGUMENT',
      `${where}: the key is shorter than 16 characters; use a long random key (openssl rand -hex 24)`,
      { field: 'auth' },
    ),
  keyDuplicated: (where: string) =>
    new MocError('MOC_ERR_INVALID_ARGUMENT', `${where}: this key is configured twice; give each client its own key`, {
      field: 'auth',
    }),
  jwksUnreadable: (file: string, problem: string) =>
    new MocError(
      'MOC_ERR_INVALID_ARGUMENT',
      `auth.jwt.jwksFile: cannot use ${file} (${problem}); it must be a JSON Web Key Set ({"keys": [...]})`,
      { field: 'auth.jwt.jwksFile' },
    ),
  noKeysButRequired: () =>
    new MocError(
      'MOC_ERR_INVALID_ARGUMENT',
      'auth.required is true but no API keys are configured; add auth.keys, auth.keysFile or MOC_API_KEYS',
      { field: 'auth.required' },
    ),
  /** details.contextSize marks it (the OpenAI routes answer it as context_length_exceeded). */
  /** syntaxTokens: room kept for tool-call syntax, which a generation writes beside its max_tokens (tool-calls.ts). */
  contextExceeded: (promptTokens: number, maxTokens: number, contextSize: number, syntaxTokens = 0) =>
    new MocError(
      'MOC_ERR_INVALID_ARGUMENT',
      `max_tokens: prompt (${promptTokens} tokens) + max_tokens (${maxTokens})${syntaxTokens ? ` + ${syntaxTokens} tokens kept for tool-call syntax` : ''} exceeds the model's context of ${contextSize} tokens; shorten the prompt, lower max_tokens, or load the model with a larger context_size`,
      { field: 'max_tokens', promptTokens, maxTokens, contextSize },
    ),
  /** A REST body still arriving after `waitMs` with fewer than `windowBytes` received in that time (body.ts). */
  bodyTimeout: (received: number, declared: number, waitMs: number, windowBytes: number) =>
    new MocError(
      'MOC_ERR_BODY_TIMEOUT',
      `the request body came too slowly: ${received} of ${declared} bytes in ${waitMs / 1000} s; the server waits ${waitMs / 1000} s for each ${windowBytes / 1024} KiB of a body, then closes the connection. Send the body at once, right after the headers`,
      { received, declared, waitMs, windowBytes },
    ),
  /** RFC 9112 §6.3: Content-Length values that differ make the message's framing invalid (400, then close). */
  conflictingContentLength: (values: string[]) =>
    new MocError(
      'MOC_ERR_INVALID_ARGUMENT',
      `Content-Length: the request has ${values.length} values that differ (${values.join(', ')}), so where its body ends is unknown (RFC 9112 §6.3); send one Content-Length`,
      { field: 'content-length', values },
    ),
  tooLarge: (what: string, size: number | string, limit: number, setting: string) =>
    new MocError(
      'MOC_ERR_TOO_LARGE',
      `${what} is ${size} bytes; the limit is ${limit} (${setting}); send less or raise the limit`,
      { limit, setting },
    ),

  // ---- learning jobs ----
  jobNotFound: (id: string) =>
    new MocError(
      'MOC_ERR_JOB_NOT_FOUND',
      `job '${id}' does not exist; ListJobs (GET /v1/jobs) shows the ones that do`,
      { id },
    ),
  goalNotFound: (id: string) =>
    new MocError(
      'MOC_ERR_GOAL_NOT_FOUND',
      `goal '${id}' does not exist; ListGoals (GET /v1/goals) shows the ones that do`,
      { id },
    ),
  goalEnded: (id: string, state: string) =>
    new MocError(
      'MOC_ERR_GOAL_ENDED',
      `goal '${id}' has ended (${state}) and never changes again: create a new goal (CreateGoal, POST /v1/goals)`,
      { id, state },
    ),
  outputExists: (field: string, relative: string) =>
    new MocError(
      'MOC_ERR_OUTPUT_EXISTS',
      `${field}: '${relative}' exists already and was left as it is; name another output, or set overwrite: true in the spec to replace it`,
      { field, path: relative },
    ),
  /**
   * `earlier` names what the key was used for ('job job-…', 'an earlier load_model'); `details` identify it. `keyField`:
   * the request field that carries the key (RecordFeedback's is idempotency_key: its request_id names an answer).
   */
  requestIdReused: (
    requestId: string,
    earlier: string,
    fields: string[],
    details: Record<string, unknown> = {},
    keyField = 'request_id',
  ) =>
    new MocError(
      'MOC_ERR_REQUEST_ID_REUSED',
      `${keyField} '${requestId}' was used for ${earlier} with other parameters (${fields.join(', ')} ${fields.length === 1 ? 'differs' : 'differ'}); ` +
        `a retry must repeat the request exactly: send a new ${keyField} for a new request`,
      { field: keyField, [keyField]: requestId, ...details, fields },
    ),
  jobsDisabled: () =>
    new MocError('MOC_ERR_NOT_IMPLEMENTED', 'learning jobs are disabled on this server (jobs.enabled: false)'),
  jobFailed: (what: string) => new MocError('MOC_ERR_JOB_FAILED', what),
  jobTypeNotRunnable: (type: string, runnable: readonly string[]) =>
    new MocError(
      'MOC_ERR_NOT_IMPLEMENTED',
      `job type '${type}' cannot run on this server yet; it runs ${runnable.join(', ')}`,
      { type },
    ),
  trainerNotConfigured: (name: string, configured: string[]) =>
    new MocError(
      'MOC_ERR_INVALID_ARGUMENT',
      `spec.trainer: '${name}' is not a configured trainer (${configured.join(', ') || 'none'}); add it under jobs.trainers in the config`,
      { field: 'spec.trainer' },
    ),
  trainerUnavailable: (name: string, problem: string) =>
    new MocError('MOC_ERR_TRAINER_UNAVAILABLE', `spec.trainer: '${name}' cannot run here: ${problem}`, {
      field: 'spec.trainer',
    }),
  datasetPath: (field: string, problem: string) =>
    new MocError('MOC_ERR_INVALID_ARGUMENT', `${field}: ${problem}`, { field }),

  // ---- models and devices: names ----
  modelNotFound: (model: string, loaded: string[]) =>
    new MocError(
      'MOC_ERR_MODEL_NOT_FOUND',
      `model '${model}' is not loaded; load it with LoadModel first` +
        (loaded.length ? ` (loaded: ${loaded.join(', ')})` : ' (no models are loaded)'),
      { model, loaded },
    ),
  /**
   * An inference or embedding names neither a registered model nor an alias: loading it would not help, registering
   * it would (it then loads on demand).
   */
  modelUnknown: (model: string, loaded: string[]) =>
    new MocError(
      'MOC_ERR_MODEL_NOT_FOUND',
      `model '${model}' is not registered (nor an alias)` +
        (loaded.length ? ` (loaded: ${loaded.join(', ')})` : ' (no models are loaded)') +
        '; register it first, with its GGUF path under the models root: RegisterModel (gRPC), POST /v1/models (REST) ' +
        'or register_model (ZMQ), or LoadModel with the path; a registered model loads on demand',
      { model, loaded },
    ),
  /** `next` says how to register on the caller's transport, e.g. 'register it with POST /v1/models'. */
  modelNotRegistered: (model: string, next: string) =>
    new MocError('MOC_ERR_MODEL_NOT_FOUND', `model '${model}' is not registered; ${next}`, { model }),
  modelNotLoaded: (model: string) =>
    new MocError('MOC_ERR_MODEL_NOT_FOUND', `model '${model}' is registered but not loaded`, { model }),
  modelUnloading: (model: string) =>
    new MocError('MOC_ERR_MODEL_NOT_FOUND', `model '${model}' is already unloading`, { model }),
  aliasTargetNotFound: (target: string) =>
    new MocError('MOC_ERR_MODEL_NOT_FOUND', `alias target '${target}' is not registered`, { model: target }),
  /** `root` is how answers name the models root (never its absolute path). */
  modelFileMissing: (relative: string, root: string) =>
    new MocError('MOC_ERR_MODEL_NOT_FOUND', `no file '${relative}' under ${root}; copy the GGUF there first`, {
      path: relative,
      reason: 'missing',
    }),
  deviceNotFound: (device: string, known: string[]) =>
    new MocError(
      'MOC_ERR_DEVICE_NOT_FOUND',
      `device '${device}' does not exist; configured devices: ${known.join(', ')}`,
      { device, known },
    ),
  /** A load names a model the device holds from another file. */
  loadedFromOtherFile: (model: string, state: string, device: string, path: string) =>
    new MocError(
      'MOC_ERR_MODEL_ALREADY_LOADED',
      `model '${model}' is already ${state} on ${device} from ${path}; unload it first or pick another name`,
      { model, device, path },
    ),
  /** A registration would re-point a live model at another file. */
  liveModelRepointed: (model: string, state: string, device: string, path: string, newPath: string) =>
    new MocError(
      'MOC_ERR_MODEL_ALREADY_LOADED',
      `model '${model}' is already ${state} on ${device} from ${path}; unload it first, ` +
        `or register '${newPath}' under a new name (e.g. ${model.split(':')[0]}:v2) and re-point an alias to swap without downtime`,
      { model, device, path },
    ),
  loadedOnOtherDevice: (model: string, state: string, device: string, wanted: string) =>
    new MocError(
      'MOC_ERR_MODEL_ALREADY_LOADED',
      `model '${model}' is already ${state} on ${device}; unload it there first to move it to ${wanted}`,
      { model, device },
    ),
  /** The engine was asked to load a model twice (the device serializes loads, so this is a device bug). */
  /** An adapter's load reached a device (or engine) where its base is not loaded: the lifecycle loads the base first. */
  adapterBaseNotLoaded: (adapter: string, base: string) =>
    new MocError(
      'MOC_ERR_MODEL_NOT_FOUND',
      `adapter '${adapter}' runs on base model '${base}', which is not loaded here; load the adapter by name and its base is loaded with it`,
      { model: adapter, base },
    ),
  loadedInEngine: (model: string) =>
    new MocError('MOC_ERR_MODEL_ALREADY_LOADED', `model '${model}' is already loaded in this engine`, { model }),

  // ---- model files ----
  /** `shown` names the file relative to the models root. */
  notGguf: (shown: string, problem: string) =>
    new MocError('MOC_ERR_LOAD_FAILED', `${shown} is not a valid GGUF file: ${problem}`, { path: shown }),
  fileUnreadable: (verb: 'open' | 'read', shown: string, problem: string) =>
    new MocError('MOC_ERR_LOAD_FAILED', `cannot ${verb} ${shown}: ${problem}`, { path: shown }),
  notRegularFile: (shown: string) =>
    new MocError('MOC_ERR_LOAD_FAILED', `${shown} is not a regular file`, { path: shown }),
  /** The engine refuses a model's file; `problem` reads after the name and says what to do. */
  modelFileRefused: (model: string, shown: string, problem: string) =>
    new MocError('MOC_ERR_LOAD_FAILED', `model '${model}' (${shown}) ${problem}`, { model, path: shown }),
  modelFileChanged: (model: string, path: string, why: string) =>
    new MocError(
      'MOC_ERR_LOAD_FAILED',
      `model '${model}': '${path}' changed since registration (${why}); register it again ` +
        `(RegisterModel, or POST /v1/models with the same name and path) to inspect the file as it is now`,
      { model, path },
    ),

  /**
   * A LoRA adapter that llama.cpp would refuse (or abort on) for its base; `shown` names the adapter, `problem` says
   * what is wrong, `next` what to do.
   */
  adapterRefused: (shown: string, problem: string, next: string, details: Record<string, unknown> = {}) =>
    new MocError('MOC_ERR_ADAPTER_REFUSED', `LoRA adapter ${shown} is refused: ${problem}; ${next}`, {
      path: shown,
      ...details,
    }),

  // ---- loads ----
  /** node-llama-cpp failed for a reason that is not the file's format; `problem` is its message without paths. */
  engineLoadFailed: (model: string, shown: string, problem: string) =>
    new MocError('MOC_ERR_LOAD_FAILED', `the engine could not load '${model}' (${shown}): ${problem}`, {
      model,
      path: shown,
    }),
  /** A request for a model whose load failed. */
  modelFailed: (model: string, problem: string) =>
    new MocError(
      'MOC_ERR_LOAD_FAILED',
      `model '${model}' failed to load: ${problem}; load it again after fixing the cause`,
      { model },
    ),
  loadsFailingFast: (
    model: string,
    failures: number,
    last: string | undefined,
    breaker: string,
    retryAfterMs: number,
  ) =>
    new MocError(
      'MOC_ERR_LOAD_FAILED',
      `loads of '${model}' are failing fast after ${failures} failures in a row (last: ${last}); ` +
        `fix the cause and retry after ${retryAfterMs} ms`,
      { model, breaker, retryAfterMs },
    ),
  /** The device cancelled a load or estimate whose timeout passed. */
  loadCancelled: (model: string, what: 'load' | 'estimate') =>
    new MocError(
      'MOC_ERR_DEADLINE_EXCEEDED',
      `the ${what} of '${model}' was cancelled (its load timeout passed); nothing of it stays loaded`,
      { model },
    ),

  // ---- memory ----
  /** The device ledger refuses a reservation; holders largest first. */
  deviceMemoryFull: (
    model: string,
    device: string,
    neededBytes: number,
    freeBytes: number,
    limitBytes: number,
    holders: MemoryHolder[],
  ) => {
    const mustFree = neededBytes - freeBytes;
    return new MocError(
      'MOC_ERR_NO_MEMORY',
      `${holderName(model)} needs ${mib(neededBytes)} but device ${device} has ${mib(freeBytes)} free of ${mib(limitBytes)}; ` +
        `unload models holding at least ${mib(mustFree)}` +
        (holders.length ? ` (held by: ${holders.map((h) => `${h.model} ${mib(h.bytes)}`).join(', ')})` : '') +
        ', or raise the device memory limit',
      {
        device,
        neededBytes,
        freeBytes,
        mustFreeBytes: mustFree,
        holders: holders.map((h) => ({ model: h.model, bytes: h.bytes })),
      },
    );
  },
  /** `largest` is the device with the highest hard limit (a DeviceStatus fits). */
  tooBigForAnyDevice: (
    model: string,
    neededBytes: number,
    largest: { id: string; memory: { hardLimit: number; reserved: number } },
  ) =>
    new MocError(
      'MOC_ERR_NO_MEMORY',
      `${holderName(model)} needs ${mib(neededBytes)}, more than any device can hold (largest: ${largest.id}, ${mib(largest.memory.hardLimit)}, ` +
        `${mib(largest.memory.hardLimit - largest.memory.reserved)} free); ` +
        (model.startsWith('job:')
          ? 'ask for less memory_bytes'
          : 'use a smaller quantization, context or sequence count'),
      { model, neededBytes, largestDevice: largest.id, largestBytes: largest.memory.hardLimit },
    ),
  /** In a fleet, at submit: no live host's device (named `device`, when given) can hold a job's memory_bytes. */
  tooBigForFleet: (
    neededBytes: number,
    largest: { host: string; id: string; hardLimit: number } | null,
    device?: string,
  ) =>
    new MocError(
      'MOC_ERR_NO_MEMORY',
      `the job's memory_bytes (${mib(neededBytes)}) is more than any device${device === undefined ? '' : ` named '${device}'`} ` +
        `of the fleet's live hosts can hold (${largest ? `largest: ${largest.id} on ${largest.host}, ${mib(largest.hardLimit)}` : 'none has one'}); ` +
        'ask for less memory_bytes, or start a host with such a device (GET /v1/fleet lists the hosts and their devices)',
      {
        neededBytes,
        ...(largest ? { largestHost: largest.host, largestDevice: largest.id, largestBytes: largest.hardLimit } : {}),
      },
    ),
  /** A request waited lifecycle.maxWaitMs for its model (a pending swap, a load); `holders`: what holds its device. */
  modelWaitExceeded: (model: string, waitedMs: number, holders: string) =>
    new MocError(
      'MOC_ERR_MODEL_WAIT_EXCEEDED',
      `a request for model '${model}' waited ${waitedMs} ms for it to be loaded, the limit (lifecycle.maxWaitMs)` +
        (holders ? `; the memory is held by ${holders}` : '') +
        '; raise lifecycle.maxWaitMs, or give the models room to be loaded together (more device memory, another device, smaller models or contexts)',
      { model, waitedMs, retryAfterMs: 1000 },
    ),
  /** Placement found no device where evicting idle models makes room; each holder says why it stays. */
  nothingToEvict: (model: string, neededBytes: number, holders: Required<MemoryHolder>[]) =>
    new MocError(
      'MOC_ERR_NO_MEMORY',
      `${holderName(model)} needs ${mib(neededBytes)} and nothing can be evicted to make room: ` +
        holders.map((h) => `${h.model} on ${h.device} ${mib(h.bytes)} (${h.why})`).join(', ') +
        '; unload or unpin a model, or wait for busy ones to finish',
      { model, neededBytes, holders },
    ),
};

/** A ledger holder as a message names it: a job's reservation (owner `job:<id>`) or a model. */
function holderName(owner: string): string {
  return owner.startsWith('job:') ? `job ${owner.slice(4)}` : `model '${owner}'`;
}
