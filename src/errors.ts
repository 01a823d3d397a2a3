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
    grpc: 'INVALID_ARGUMENT', http: 400, zmq: 'INVALID_ARGUMENT', retryable: false,
    when: 'A request field is missing, has the wrong type or is out of range; details.field names it.',
  },
  MOC_ERR_UNAUTHENTICATED: {
    grpc: 'UNAUTHENTICATED', http: 401, zmq: 'UNAUTHENTICATED', retryable: false,
    when: 'API keys are configured and the request carries none, or one that is not configured.',
  },
  MOC_ERR_PERMISSION_DENIED: {
    grpc: 'PERMISSION_DENIED', http: 403, zmq: 'PERMISSION_DENIED', retryable: false,
    when: "The request's API key is valid but its role does not allow the action (an infer key on an admin action).",
  },
  MOC_ERR_NOT_IMPLEMENTED: {
    grpc: 'UNIMPLEMENTED', http: 404, zmq: 'UNKNOWN_ACTION', retryable: false,
    when: 'The route, method or action does not exist; the message lists the ones that do.',
  },
  MOC_ERR_METHOD_NOT_ALLOWED: {
    grpc: 'UNIMPLEMENTED', http: 405, zmq: 'UNKNOWN_ACTION', retryable: false,
    when: 'The route exists but not with this HTTP method; the Allow header and the message list the methods it takes.',
  },
  MOC_ERR_TOO_LARGE: {
    grpc: 'RESOURCE_EXHAUSTED', http: 413, zmq: 'TOO_LARGE', retryable: false,
    when: 'A request body, URL or header is over its configured limit; the message names the limit.',
  },
  MOC_ERR_URL_TOO_LONG: {
    grpc: 'INVALID_ARGUMENT', http: 414, zmq: 'TOO_LARGE', retryable: false,
    when: 'The URL (path and query) is longer than rest.maxUrlBytes.',
  },
  MOC_ERR_HEADERS_TOO_LARGE: {
    grpc: 'INVALID_ARGUMENT', http: 431, zmq: 'TOO_LARGE', retryable: false,
    when: 'A request header is longer than rest.maxHeaderBytes.',
  },
  MOC_ERR_MODEL_NOT_FOUND: {
    grpc: 'NOT_FOUND', http: 404, zmq: 'NOT_FOUND', retryable: false,
    when: 'The named model is not loaded on any device (or its file does not exist under the models root).',
  },
  MOC_ERR_DEVICE_NOT_FOUND: {
    grpc: 'NOT_FOUND', http: 404, zmq: 'NOT_FOUND', retryable: false,
    when: 'The named device is not in the configuration.',
  },
  MOC_ERR_MODEL_ALREADY_LOADED: {
    grpc: 'ALREADY_EXISTS', http: 409, zmq: 'ALREADY_EXISTS', retryable: false,
    when: 'A load names a model that is already loaded (or loading) on a different file or device.',
  },
  MOC_ERR_BUSY: {
    grpc: 'RESOURCE_EXHAUSTED', http: 429, zmq: 'BUSY', retryable: true,
    when: 'A bounded mailbox or queue is full; details.retryAfterMs says when to try again.',
  },
  MOC_ERR_NO_MEMORY: {
    grpc: 'RESOURCE_EXHAUSTED', http: 507, zmq: 'NO_MEMORY', retryable: false,
    when: 'A model does not fit in the device memory budget; details say what would have to be freed.',
  },
  MOC_ERR_UNAVAILABLE: {
    grpc: 'UNAVAILABLE', http: 503, zmq: 'UNAVAILABLE', retryable: true,
    when: 'The device or engine serving the request is restarting, or the server is shutting down.',
  },
  MOC_ERR_DEADLINE_EXCEEDED: {
    grpc: 'DEADLINE_EXCEEDED', http: 504, zmq: 'DEADLINE_EXCEEDED', retryable: true,
    when: 'The request deadline (client deadline or server ask timeout) passed before it finished.',
  },
  MOC_ERR_CANCELLED: {
    grpc: 'CANCELLED', http: 499, zmq: 'CANCELLED', retryable: false,
    when: 'The client cancelled the request; its generation was stopped and its sequence freed.',
  },
  MOC_ERR_LOAD_FAILED: {
    grpc: 'FAILED_PRECONDITION', http: 422, zmq: 'LOAD_FAILED', retryable: false,
    when: 'The engine could not load the model file (corrupt, unsupported or unreadable GGUF).',
  },
  MOC_ERR_INTERNAL: {
    grpc: 'INTERNAL', http: 500, zmq: 'INTERNAL', retryable: false,
    when: 'A bug: an invariant of the server broke. The message carries the cause; please report it.',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** Plain-data form of an error, safe to post between threads and processes. */
export interface ErrorData {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

export class MocError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'MocError';
    this.code = code;
    this.details = details;
  }
  get spec(): ErrorSpec { return ERRORS[this.code]; }
  get grpcStatus(): number { return GrpcStatus[this.spec.grpc]; }
  get httpStatus(): number { return this.spec.http; }
  get zmqCode(): string { return this.spec.zmq; }
  toData(): ErrorData { return { code: this.code, message: this.message, details: this.details }; }
  static fromData(d: ErrorData): MocError { return new MocError(d.code, d.message, d.details ?? {}); }
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERRORS, code);
}

/** Anything thrown becomes a MocError; unknown throwables are INTERNAL (they are bugs). */
export function toMocError(err: unknown): MocError {
  if (err instanceof MocError) return err;
  if (err && typeof err === 'object' && isErrorCode((err as ErrorData).code)) return MocError.fromData(err as ErrorData);
  const message = err instanceof Error ? err.message : String(err);
  return new MocError('MOC_ERR_INTERNAL', `internal error: ${message}`);
}

// Factories: one per situation, so messages stay consistent and always say what to do next.
export const errors = {
  invalidArgument: (field: string, problem: string) =>
    new MocError('MOC_ERR_INVALID_ARGUMENT', `${field}: ${problem}`, { field }),
  modelNotFound: (model: string, loaded: string[]) =>
    new MocError('MOC_ERR_MODEL_NOT_FOUND',
      `model '${model}' is not loaded; load it with LoadModel first` +
        (loaded.length ? ` (loaded: ${loaded.join(', ')})` : ' (no models are loaded)'),
      { model, loaded }),
  deviceNotFound: (device: string, known: string[]) =>
    new MocError('MOC_ERR_DEVICE_NOT_FOUND', `device '${device}' does not exist; configured devices: ${known.join(', ')}`,
      { device, known }),
  busy: (what: string, capacity: number, retryAfterMs = 100) =>
    new MocError('MOC_ERR_BUSY', `${what} is full (capacity ${capacity}); retry after ${retryAfterMs} ms`,
      { capacity, retryAfterMs }),
  unavailable: (what: string, retryAfterMs = 1000) =>
    new MocError('MOC_ERR_UNAVAILABLE', `${what}; retry after ${retryAfterMs} ms`, { retryAfterMs }),
  deadline: (what: string, ms: number) =>
    new MocError('MOC_ERR_DEADLINE_EXCEEDED',
      `${what} did not finish within ${ms} ms; retry with a longer deadline (or, for inference, fewer max_tokens)`, { timeoutMs: ms }),
  unauthenticated: (how: string) =>
    new MocError('MOC_ERR_UNAUTHENTICATED', `${how}; send a configured API key as 'Authorization: Bearer <key>' or 'x-api-key: <key>'`),
  permissionDenied: (action: string, role: string, needs: string) =>
    new MocError('MOC_ERR_PERMISSION_DENIED', `'${action}' needs the ${needs} role; this key has the ${role} role — use an ${needs} key`,
      { action, role, needs }),
  tooLarge: (what: string, size: number | string, limit: number, setting: string) =>
    new MocError('MOC_ERR_TOO_LARGE', `${what} is ${size} bytes; the limit is ${limit} (${setting}); send less or raise the limit`,
      { limit, setting }),
  cancelled: (what: string) => new MocError('MOC_ERR_CANCELLED', `${what} was cancelled by the client`),
  internal: (message: string) => new MocError('MOC_ERR_INTERNAL', `internal error: ${message}; please report it`),
};
