/**
 * The OpenAPI 3.1 document of the REST API, generated (never hand-copied) from the route table (routes.ts), the
 * body schemas (schemas/rest.ts) and the error table (src/errors.ts). Served at GET /openapi.json; a test validates
 * it with a real OpenAPI validator.
 *
 * TypeBox schemas are JSON Schema 2020-12, which is OpenAPI 3.1's dialect, so they go in almost as they are:
 * toJsonSchema drops TypeBox's symbol keys, turns nested named schemas into $refs, and refuses any keyword or type
 * that is not JSON Schema (Type.Date, Type.Uint8Array …), so a schema the document cannot describe fails loudly here.
 */
import { readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import path from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import { ROLE_OF_ACTION } from '../../auth/permissions.js';
import { ERRORS } from '../../errors.js';
import { packageRoot } from '../../package-root.js';
import { REST_SCHEMAS } from '../../../schemas/rest.js';
import { ROUTES, type RouteSpec } from './routes.js';

type Json = Record<string, unknown>;

/** Statuses any route may answer before its handler runs; 401 only where a key is checked (routes with an action). */
const COMMON_ERRORS = [400, 403, 413, 429, 500, 503];
const AUTH_ERRORS = [401];
/** Statuses that carry Retry-After (exchange.ts). */
const RETRY_AFTER = new Set([429, 503]);
/** GET /health/ready answers 503 with its own body (`"status": "not-ready"`) for load balancers, not ErrorBody. */
const SUCCESS_SHAPED_ERRORS: Record<string, number> = { ready: 503, modelReady: 503 };

const schemaRef = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const NAME_OF = new Map<TSchema, string>(Object.entries(REST_SCHEMAS).map(([n, s]) => [s, n]));

// ---- TypeBox → JSON Schema 2020-12 ----

const JSON_TYPES = new Set(['object', 'array', 'string', 'number', 'integer', 'boolean', 'null']);
/** Keywords whose value is one schema, a map of schemas, or a list of schemas. */
const ONE = new Set([
  'items',
  'additionalProperties',
  'not',
  'if',
  'then',
  'else',
  'contains',
  'propertyNames',
  'unevaluatedItems',
  'unevaluatedProperties',
  'contentSchema',
]);
const MAP = new Set(['properties', 'patternProperties', '$defs', 'dependentSchemas']);
const LIST = new Set(['allOf', 'anyOf', 'oneOf', 'prefixItems']);
const PLAIN = new Set([
  '$id',
  '$schema',
  '$ref',
  '$anchor',
  '$dynamicRef',
  '$dynamicAnchor',
  '$comment',
  'type',
  'enum',
  'const',
  'multipleOf',
  'maximum',
  'exclusiveMaximum',
  'minimum',
  'exclusiveMinimum',
  'maxLength',
  'minLength',
  'pattern',
  'maxItems',
  'minItems',
  'uniqueItems',
  'maxContains',
  'minContains',
  'maxProperties',
  'minProperties',
  'required',
  'dependentRequired',
  'format',
  'contentEncoding',
  'contentMediaType',
  'title',
  'description',
  'default',
  'deprecated',
  'readOnly',
  'writeOnly',
  'examples',
  'example',
  'discriminator',
  'xml',
  'externalDocs',
]);

/**
 * A TypeBox schema as plain JSON Schema 2020-12. Nested schemas that are named in REST_SCHEMAS become $refs to
 * components.schemas (`self` is the component being written, which stays inline).
 */
export function toJsonSchema(schema: TSchema, self?: TSchema, at = '#'): Json {
  const out: Json = {};
  for (const key of Object.keys(schema)) {
    // string keys only: TypeBox's [Kind], [OptionalKind] … are symbols
    const value = (schema as Record<string, unknown>)[key];
    const sub = (s: unknown, where: string): unknown => {
      if (typeof s === 'boolean') return s;
      const name = NAME_OF.get(s as TSchema);
      return name && s !== self ? schemaRef(name) : toJsonSchema(s as TSchema, self, where);
    };
    if (ONE.has(key)) out[key] = sub(value, `${at}/${key}`);
    else if (MAP.has(key)) {
      out[key] = Object.fromEntries(Object.entries(value as Json).map(([k, s]) => [k, sub(s, `${at}/${key}/${k}`)]));
    } else if (LIST.has(key)) out[key] = (value as unknown[]).map((s, i) => sub(s, `${at}/${key}/${i}`));
    else if (PLAIN.has(key) || key.startsWith('x-')) out[key] = JSON.parse(JSON.stringify(value)) as unknown;
    else
      throw new Error(
        `openapi: ${at} has '${key}', which is not a JSON Schema 2020-12 keyword; use a JSON Schema type`,
      );
  }
  const types = ([] as unknown[]).concat(out.type ?? []);
  const bad = types.find((t) => !JSON_TYPES.has(t as string));
  if (bad !== undefined)
    throw new Error(`openapi: ${at} has type '${String(bad)}', which JSON cannot carry; use a JSON Schema type`);
  return out;
}

// ---- the document ----

function errorCodesFor(status: number): string[] {
  return Object.entries(ERRORS)
    .filter(([, s]) => s.http === status)
    .map(([code]) => code);
}

function reason(status: number): string {
  return status === 499 ? 'Client Closed Request' : (STATUS_CODES[status] ?? `HTTP ${status}`);
}

/** One shared response per error status: ErrorBody, the codes that map to it, Retry-After where it applies. */
function errorResponse(status: number): Json {
  const codes = errorCodesFor(status);
  if (codes.length === 0)
    throw new Error(`openapi: a route lists error status ${status}, but no code in src/errors.ts maps to it`);
  return {
    description: `${reason(status)}. Codes: ${codes.map((c) => `\`${c}\``).join(', ')}.`,
    ...(RETRY_AFTER.has(status) ? { headers: { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } } } : {}),
    content: { 'application/json': { schema: schemaRef('ErrorBody') } },
  };
}

const SSE_DESCRIPTION = [
  'With `"stream": true` the answer is `text/event-stream` (Server-Sent Events), one event per blank-line-separated block:',
  '',
  '- `event: token` with `data: {"text": "..."}` for each token as it is generated;',
  '- then `event: done` with `data: <InferResponse JSON>`, and the stream ends;',
  '- or, if generation fails once the stream has started, `event: error` with `data: <ErrorBody JSON>`, and the stream ends.',
  '',
  'Lines starting with `:` are comments (the stream opens with one so the headers flush at once); ignore them.',
  'An error before the stream starts is a plain JSON error with its HTTP status, as on any route. A reader that',
  'falls too far behind is cut off and its generation cancelled.',
].join('\n');

const SSE_EXAMPLE = [
  ': stream open',
  '',
  'event: token',
  'data: {"text":"Hello"}',
  '',
  'event: token',
  'data: {"text":" world"}',
  '',
  'event: done',
  'data: {"request_id":"r-1","model":"demo","device":"cpu0","text":"Hello world","prompt_tokens":3,"tokens_generated":2,"finish_reason":"stop","queue_ms":0.1,"compute_ms":12.5}',
  '',
  '',
].join('\n');

const JOB_EVENTS_DESCRIPTION = [
  'Answers with `text/event-stream` (Server-Sent Events): `event: job` with `data: <JobResource JSON>` for the job as it',
  'is now, then for each change (at most one per 100 ms, the latest: progress, log lines, state), and `event: done` with',
  'its final state once it has ended; the stream then ends. A job that has already ended gets `event: done` at once.',
  'Changes made by another process on the same data directory arrive within `jobs.pollMs`. At shutdown the stream',
  'ends with `event: error` (`MOC_ERR_UNAVAILABLE`, retryable): reconnect, here after the restart or on another',
  'replica. An unknown job is a plain JSON 404 before the stream starts.',
].join('\n');

const JOB_EVENTS_EXAMPLE = [
  ': stream open',
  '',
  'event: job',
  'data: {"id":"job-…","state":"running","progress":{"fraction":0.5,"message":"epoch 1/2"},…}',
  '',
  'event: done',
  'data: {"id":"job-…","state":"succeeded","progress":{"fraction":1,"message":"succeeded"},…}',
  '',
  '',
].join('\n');

function operation(route: RouteSpec): Json {
  const params = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  const schemaFor = (s: TSchema) => (NAME_OF.has(s) ? schemaRef(NAME_OF.get(s)!) : toJsonSchema(s));
  const description: string[] = [];
  if (route.action) {
    description.push(
      `Needs an API key whose role allows \`${route.action}\` (the ${ROLE_OF_ACTION[route.action]} role).`,
    );
  }
  if (route.sse) description.push(SSE_DESCRIPTION);
  if (route.eventStream) description.push(JOB_EVENTS_DESCRIPTION);

  const success: Json = {
    description: reason(route.status),
    content: route.plainText
      ? { [route.plainText]: { schema: { type: 'string' } } }
      : route.eventStream
        ? {
            'text/event-stream': {
              schema: {
                type: 'string',
                description: `Server-Sent Events whose data is ${NAME_OF.get(route.response) ?? 'JSON'} (see the operation description)`,
              },
              example: JOB_EVENTS_EXAMPLE,
            },
          }
        : {
            'application/json': { schema: schemaFor(route.response) },
            ...(route.sse
              ? {
                  'text/event-stream': {
                    schema: {
                      type: 'string',
                      description:
                        'Server-Sent Events: token events, then done or error (see the operation description)',
                    },
                    example: SSE_EXAMPLE,
                  },
                }
              : {}),
          },
  };
  const responses: Json = { [route.status]: success };
  const statuses = [...new Set([...COMMON_ERRORS, ...(route.action ? AUTH_ERRORS : []), ...(route.errors ?? [])])].sort(
    (a, b) => a - b,
  );
  for (const status of statuses) {
    responses[status] =
      SUCCESS_SHAPED_ERRORS[route.operationId] === status
        ? {
            description: `${reason(status)}: the same body with its not-ready status, or ErrorBody (with Retry-After) for an error raised before the handler.`,
            headers: { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } },
            content: { 'application/json': { schema: { anyOf: [schemaFor(route.response), schemaRef('ErrorBody')] } } },
          }
        : { $ref: `#/components/responses/Error${status}` };
  }

  const body = route.body;
  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(description.length ? { description: description.join('\n\n') } : {}),
    tags: [tagOf(route.path)],
    security: route.action ? [{ bearer: [] }, { apiKey: [] }] : [],
    ...(params.length || route.query
      ? {
          parameters: [
            ...params.map((name) => ({
              name,
              in: 'path',
              required: true,
              schema: { type: 'string' },
              description:
                name === 'alias'
                  ? 'The alias to set'
                  : name === 'id'
                    ? 'A job id'
                    : 'A model name (or an alias of one)',
            })),
            ...(route.query ?? []).map((name) => ({
              name,
              in: 'query',
              required: false,
              schema: { type: name === 'limit' ? 'integer' : 'string' },
            })),
          ],
        }
      : {}),
    ...(body
      ? {
          requestBody: {
            required: ((body.required as string[] | undefined) ?? []).length > 0,
            content: { 'application/json': { schema: schemaFor(body) } },
          },
        }
      : {}),
    responses,
    ...(route.action ? { 'x-moc-action': route.action } : {}),
  };
}

/** `/v1/models/{name}` → models, `/health/live` → health, `/openapi.json` → openapi. */
function tagOf(p: string): string {
  const seg = p.split('/').filter(Boolean);
  return (seg[0] === 'v1' ? seg[1]! : seg[0]!).replace(/\..*$/, '');
}

function describeApi(): string {
  const rows = Object.entries(ERRORS).map(
    ([code, s]) => `| \`${code}\` | ${s.http} | ${s.retryable ? 'yes' : 'no'} | ${s.when} |`,
  );
  return [
    "One server that owns a host's GPUs, the models on them, and the inference agents call. The same operations are",
    'served over gRPC (proto/moc.proto) and ZMQ with the same field names.',
    '',
    '**Authentication.** When API keys are configured, send one as `Authorization: Bearer <key>` or `x-api-key: <key>`.',
    'An `infer` key may run inference and read state; changing which models exist or where they live needs an `admin` key.',
    '',
    '**Errors.** Every error has the body `{ "error": { "code", "message", "details" } }` (ErrorBody); 429 and 503 carry',
    '`Retry-After` (seconds). The message says what to do next. Any request may also be refused before routing with',
    '404 (no such route), 405 (wrong method, with `Allow`), 414 (URL too long) or 431 (header too large).',
    '',
    '| code | HTTP | retryable | when |',
    '| --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

function build(): Json {
  const paths: Record<string, Json> = {};
  for (const route of ROUTES) (paths[route.path] ??= {})[route.method] = operation(route);

  const errorStatuses = new Set<number>([...COMMON_ERRORS, ...AUTH_ERRORS, ...ROUTES.flatMap((r) => r.errors ?? [])]);
  const { version } = JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  return {
    openapi: '3.1.0',
    info: { title: 'MOC — ModelOps Coordinator', version, description: describeApi() },
    paths,
    components: {
      schemas: Object.fromEntries(
        Object.entries(REST_SCHEMAS).map(([name, s]) => [name, toJsonSchema(s, s, `#/components/schemas/${name}`)]),
      ),
      responses: Object.fromEntries(
        [...errorStatuses].sort((a, b) => a - b).map((s) => [`Error${s}`, errorResponse(s)]),
      ),
      headers: {
        RetryAfter: { description: 'Seconds to wait before retrying', schema: { type: 'integer', minimum: 1 } },
      },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API key as `Authorization: Bearer <key>`' },
        apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'An API key as `x-api-key: <key>`' },
      },
    },
  };
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

let base: Json | undefined;
const withServer = new Map<string, Json>();

/** The document, built once (and frozen: the server hands the same object to every request). */
export function openApiDocument(opts: { serverUrl?: string } = {}): Record<string, unknown> {
  base ??= deepFreeze(build());
  if (!opts.serverUrl) return base;
  let doc = withServer.get(opts.serverUrl);
  if (!doc) {
    const { openapi, info, ...rest } = base;
    withServer.set(opts.serverUrl, (doc = deepFreeze({ openapi, info, servers: [{ url: opts.serverUrl }], ...rest })));
  }
  return doc;
}
