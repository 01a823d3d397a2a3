/**
 * GET /openapi.json is a valid OpenAPI 3.1 document (checked by a real validator, not by shape) that describes every
 * route of the table, with the one error body, the security each route needs, and schemas that are plain
 * JSON Schema 2020-12. No server: the document is generated from the same tables the server dispatches from.
 */
import t from 'tap';
import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv2020 from 'ajv/dist/2020.js';
import { Type } from '@sinclair/typebox';
import { ERRORS } from '../../src/errors.js';
import { openApiDocument, toJsonSchema } from '../../src/transports/rest/openapi.js';
import { ROUTES } from '../../src/transports/rest/routes.js';

type Json = Record<string, any>;
const doc = openApiDocument() as Json;

/** Resolve a local `#/a/b` reference in the document (undefined when it points nowhere). */
function resolve(ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  return ref
    .slice(2)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<any>((node, key) => (node && typeof node === 'object' ? node[key] : undefined), doc);
}
const deref = (node: Json): Json => (node.$ref ? (resolve(node.$ref) as Json) : node);

/** Every node of the document with its JSON pointer. */
function* walk(node: unknown, at = '#'): Generator<[string, Json]> {
  if (!node || typeof node !== 'object') return;
  yield [at, node as Json];
  for (const [k, v] of Object.entries(node)) yield* walk(v, `${at}/${k}`);
}

t.test('the validator accepts the document as OpenAPI 3.1', async (t) => {
  t.equal(doc.openapi, '3.1.0');
  const validator = new Validator();
  const res = await validator.validate(structuredClone(doc));
  t.ok(res.valid, `valid OpenAPI 3.1: ${JSON.stringify(res.errors ?? [], null, 1)}`);
  t.equal(validator.version, '3.1');

  // The validator is not vacuous: the same document with a response missing its description is refused.
  const broken = structuredClone(doc);
  delete broken.paths['/v1/models'].get.responses['200'].description;
  t.notOk((await new Validator().validate(broken)).valid, 'a broken copy is refused');
});

t.test('every route in the table is an operation, and nothing else is', async (t) => {
  const ops = Object.entries(doc.paths as Json).flatMap(([p, item]) => Object.keys(item).map((m) => `${m} ${p}`));
  t.same(ops.sort(), ROUTES.map((r) => `${r.method} ${r.path}`).sort());
  for (const r of ROUTES) {
    const op = doc.paths[r.path]?.[r.method];
    t.equal(op?.operationId, r.operationId, `${r.method.toUpperCase()} ${r.path} is ${r.operationId}`);
    const media = r.plainText ?? (r.eventStream ? 'text/event-stream' : 'application/json');
    t.ok(
      op.responses[String(r.status)]?.content?.[media]?.schema,
      `${r.operationId} answers ${r.status} with a body (${media})`,
    );
    for (const [, name] of r.path.matchAll(/\{(\w+)\}/g)) {
      t.ok(
        op.parameters?.some((p: Json) => p.in === 'path' && p.name === name && p.required === true),
        `${r.operationId} declares path parameter ${name}`,
      );
    }
    t.equal(
      Boolean(op.requestBody),
      Boolean(r.body),
      `${r.operationId} has a request body exactly when the route takes one`,
    );
    for (const status of r.errors ?? []) t.ok(op.responses[String(status)], `${r.operationId} lists ${status}`);
  }
});

t.test('every $ref resolves, and every error response is the ErrorBody', async (t) => {
  let refs = 0;
  for (const [at, node] of walk(doc)) {
    if (typeof node.$ref !== 'string') continue;
    refs++;
    if (resolve(node.$ref) === undefined) t.fail(`${at}: ${node.$ref} does not resolve`);
  }
  t.ok(refs > 50, `${refs} references checked`);

  const errorBody = doc.components.schemas.ErrorBody;
  t.same(Object.keys(errorBody.properties.error.properties).sort(), ['code', 'details', 'message']);
  for (const r of ROUTES) {
    for (const [status, resp] of Object.entries(doc.paths[r.path][r.method].responses as Json)) {
      if (Number(status) < 400) continue;
      const schema = deref(resp as Json).content['application/json'].schema as Json;
      const refsHere = [schema.$ref, ...(schema.anyOf ?? []).map((s: Json) => s.$ref)];
      t.ok(refsHere.includes('#/components/schemas/ErrorBody'), `${r.operationId} ${status} is an ErrorBody`);
      t.equal(resolve('#/components/schemas/ErrorBody'), errorBody);
      if (status === '429' || status === '503')
        t.ok(deref(resp as Json).headers?.['Retry-After'], `${r.operationId} ${status} has Retry-After`);
    }
  }
});

t.test('routes with an action need a key; public routes do not', async (t) => {
  const schemes = doc.components.securitySchemes;
  t.same(schemes.bearer, { type: 'http', scheme: 'bearer', description: schemes.bearer.description });
  t.same(schemes.apiKey, { type: 'apiKey', in: 'header', name: 'x-api-key', description: schemes.apiKey.description });
  for (const r of ROUTES) {
    const op = doc.paths[r.path][r.method];
    if (r.action) {
      t.same(op.security, [{ bearer: [] }, { apiKey: [] }], `${r.operationId} takes a bearer token or x-api-key`);
      t.ok(op.responses['401'] && op.responses['403'], `${r.operationId} lists 401 and 403`);
    } else {
      t.same(op.security, [], `${r.operationId} is public`);
    }
  }
});

t.test('the error codes and the SSE format are documented', async (t) => {
  for (const [code, spec] of Object.entries(ERRORS)) {
    t.ok(doc.info.description.includes(`| \`${code}\` | ${spec.http} |`), `${code} → ${spec.http} is in the table`);
  }
  const infer = doc.paths['/v1/infer'].post;
  t.ok(infer.responses['200'].content['text/event-stream'], 'infer may answer text/event-stream');
  t.match(infer.description, /event: token.*data: \{"text": "\.\.\."\}/s);
  t.match(infer.description, /event: done.*data: <InferResponse JSON>/s);
  t.match(infer.description, /event: error.*data: <ErrorBody JSON>/s);
  t.match(doc.info.version, /^\d+\.\d+\.\d+/);
});

t.test('the schemas are plain JSON Schema 2020-12: no TypeBox symbols, no unknown keywords', async (t) => {
  for (const [at, node] of walk(doc)) {
    if (Object.getOwnPropertySymbols(node).length) t.fail(`${at} carries symbol keys`);
  }
  // Ajv in strict mode refuses unknown keywords (nullable, TypeBox's own …) and malformed values.
  const ajv = new Ajv2020.default({
    strict: true,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
    validateFormats: false,
  });
  // The components become the $defs of one schema (a wrapper with `components` would itself be an unknown keyword).
  const defs = JSON.parse(JSON.stringify(doc.components.schemas).replaceAll('#/components/schemas/', '#/$defs/'));
  ajv.addSchema({ $id: 'moc:schemas', $defs: defs });
  for (const name of Object.keys(doc.components.schemas)) {
    t.doesNotThrow(() => ajv.compile({ $ref: `moc:schemas#/$defs/${name}` }), `${name} compiles`);
  }
  const check = ajv.getSchema('moc:schemas#/$defs/ErrorBody')!;
  t.ok(
    check({ error: { code: 'MOC_ERR_BUSY', message: 'full', details: { retryAfterMs: 100 } } }),
    'an error body validates',
  );
  t.notOk(check({ error: { code: 'BUSY', message: 'full', details: {} } }), 'a code outside the table does not');
  // And the generator itself refuses what JSON cannot carry, rather than emitting it.
  t.throws(() => toJsonSchema(Type.Object({ at: Type.Date() })), /type 'Date'/);
  t.throws(() => toJsonSchema(Type.Object({ n: Type.String() }, { nullable: true } as object)), /'nullable'/);
});

t.test('the document is built once; serverUrl adds servers', async (t) => {
  t.equal(openApiDocument(), doc, 'cached');
  t.ok(Object.isFrozen(doc.paths), 'frozen: no request can change it for the next');
  const withServer = openApiDocument({ serverUrl: 'http://127.0.0.1:8080' }) as Json;
  t.same(withServer.servers, [{ url: 'http://127.0.0.1:8080' }]);
  t.equal(withServer.paths, doc.paths);
  t.notOk('servers' in doc);
  t.ok((await new Validator().validate(structuredClone(withServer))).valid);
});
