/**
 * Issue 24 item 4: a JSON Schema nothing can be generated for as it says (`{"enum": []}`, minItems over maxItems, a
 * `required` name not in `properties`, a schema that is a string, …) is refused at submit, naming the keyword and its
 * JSON pointer — 400 invalid_request_error on the OpenAI routes, INVALID_ARGUMENT / MOC_ERR_INVALID_ARGUMENT on gRPC
 * and REST — where the engine used to answer "" with finish_reason stop, or JSON that breaks the schema. What is
 * accepted is generated as it says: `items: false` is an empty array, not `[ null ]`. The checker alone first (no
 * engine), then every transport on a real coordinator.
 */
import t from 'tap';
import { checkSchema } from '../../actors/device/json-schema-rules.js';
import { errorCode, startHarness } from '../helpers/coordinator.js';

/** [what, schema, what the message says: the keyword and its JSON pointer]. */
const refused: [string, unknown, RegExp][] = [
  ['an empty enum', { enum: [] }, /enum at \(the root\) is empty/],
  ['an empty anyOf', { anyOf: [] }, /anyOf at \(the root\) is empty/],
  ['an empty oneOf', { type: 'object', properties: { x: { oneOf: [] } } }, /oneOf at \/properties\/x is empty/],
  [
    'minItems over maxItems',
    { type: 'array', minItems: 3, maxItems: 1 },
    /minItems 3 at \(the root\) is over maxItems 1/,
  ],
  [
    'minLength over maxLength',
    { type: 'string', minLength: 10, maxLength: 2 },
    /minLength 10 at \(the root\) is over maxLength 2/,
  ],
  [
    'a required name not in properties',
    { type: 'object', properties: { a: { type: 'string' } }, required: ['a', 'zzz'] },
    /required "zzz" at \/required\/1 is not in properties/,
  ],
  [
    'a required name with additionalProperties',
    { type: 'object', additionalProperties: { type: 'integer' }, required: ['zzz'] },
    /required "zzz" at \/required\/0 is not in properties/,
  ],
  ['a string', 'hello', /"hello" at \(the root\) is not a schema/],
  ['false', { type: 'object', properties: { no: false } }, /false at \/properties\/no accepts no value/],
  [
    'an enum value of another type',
    { type: 'string', enum: ['a', 1] },
    /enum value 1 at \/enum\/1 is not of type string/,
  ],
  [
    'maxProperties under properties',
    { type: 'object', properties: { a: {}, b: {} }, maxProperties: 1 },
    /maxProperties 1 at \(the root\)/,
  ],
  [
    'minProperties over a closed object',
    { type: 'object', properties: { a: {} }, minProperties: 2 },
    /minProperties 2 at \(the root\)/,
  ],
  ['maxItems under prefixItems', { type: 'array', prefixItems: [{}, {}], maxItems: 1 }, /maxItems 1 at \(the root\)/],
  ['a negative count', { type: 'string', maxLength: -1 }, /maxLength -1 at \(the root\) is not a whole number/],
  [
    'anyOf beside the keywords it would drop',
    { type: 'object', properties: { a: {} }, anyOf: [{ required: ['a'] }] },
    /'anyOf' at \(the root\) cannot stand beside 'type', 'properties'/,
  ],
  [
    'oneOf alternatives one value could both match',
    { oneOf: [{ type: 'number' }, { type: 'integer' }] },
    /oneOf at \/oneOf has alternatives 0 and 1 that one value could both match.*use anyOf/,
  ],
  [
    'oneOf objects not told apart',
    {
      oneOf: [
        { type: 'object', properties: { a: {} } },
        { type: 'object', properties: { a: {}, b: {} } },
      ],
    },
    /alternatives 0 and 1/,
  ],
  ['a property name with a slash', { properties: { 'a/b~': { enum: [] } } }, /enum at \/properties\/a~1b~0 is empty/],
];
const accepted: unknown[] = [
  true,
  {},
  { type: 'array', prefixItems: [{ type: 'integer' }], items: false },
  { type: ['string', 'null'], maxLength: 3 },
  { type: 'object', properties: { a: { type: 'integer' } }, required: ['a'], additionalProperties: false },
  {
    type: 'object',
    properties: { a: {} },
    additionalProperties: { type: 'integer' },
    minProperties: 2,
    maxProperties: 3,
  },
  { type: 'integer', enum: [1, 2] },
  { type: 'number', const: 3 },
  { oneOf: [{ type: 'string' }, { type: 'integer' }, { enum: [true] }] },
  {
    oneOf: [
      { type: 'object', properties: { kind: { const: 'a' }, n: { type: 'integer' } } },
      { type: 'object', properties: { kind: { const: 'b' }, s: { type: 'string' } } },
    ],
  },
];

t.test('the checker refuses by keyword and JSON pointer, and accepts what can be generated', async (t) => {
  for (const [what, schema, message] of refused)
    t.throws(() => checkSchema(schema, 'response_format.schema'), { code: 'MOC_ERR_INVALID_ARGUMENT', message }, what);
  for (const schema of accepted) t.doesNotThrow(() => checkSchema(schema, 'f'), JSON.stringify(schema));
});

t.test('every transport refuses at submit; items: false generates []', async (t) => {
  const h = await startHarness(t);
  const post = (path: string, body: object) =>
    fetch(`${h.restUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
  const chat = (schema: unknown, extra: object = {}) =>
    post('/openai/v1/chat/completions', {
      model: 'moc-demo',
      messages: [{ role: 'user', content: 'Hi' }],
      max_tokens: 16,
      seed: 1,
      response_format: { type: 'json_schema', json_schema: { name: 's', schema } },
      ...extra,
    });

  for (const [what, schema, message] of refused) {
    const r = await chat(schema);
    t.equal(r.status, 400, `OpenAI, ${what}: 400`);
    t.equal(r.body.error?.type, 'invalid_request_error', `OpenAI, ${what}: invalid_request_error`);
    t.match(
      r.body.error?.message,
      schema === 'hello' ? /"hello"/ : message,
      `OpenAI, ${what}: ${r.body.error?.message}`,
    );
  }

  const rest = await post('/v1/infer', {
    model: 'moc-demo',
    prompt: 'Hi',
    max_tokens: 8,
    response_format: { type: 'json_schema', schema: { enum: [] } },
  });
  t.equal(rest.status, 400, 'REST /v1/infer: 400');
  t.equal(rest.body.code ?? rest.body.error?.code, 'MOC_ERR_INVALID_ARGUMENT', `REST: ${JSON.stringify(rest.body)}`);

  const grpc = await h
    .unary('Infer', {
      model: 'moc-demo',
      prompt: 'Hi',
      max_tokens: 8,
      response_format: 'json_schema',
      response_schema_json: JSON.stringify({ type: 'string', minLength: 10, maxLength: 2 }),
    })
    .catch((e) => e);
  t.equal(grpc.code, 3, 'gRPC: INVALID_ARGUMENT');
  t.equal(errorCode(grpc), 'MOC_ERR_INVALID_ARGUMENT');
  t.match(grpc.details, /minLength 10 at \(the root\) is over maxLength 2/);

  const tool = await post('/openai/v1/chat/completions', {
    model: 'moc-demo',
    messages: [{ role: 'user', content: 'Hi' }],
    max_tokens: 8,
    tools: [
      {
        type: 'function',
        function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'string' } }, required: ['b'] } },
      },
    ],
  });
  t.equal(tool.status, 400, "a tool's parameters: 400");
  t.match(tool.body.error?.message, /tools\[0\]\.parameters: required "b" at \/required\/0 is not in properties/);

  // items: false is a closed tuple: only the prefixItems, here none.
  for (const seed of [0, 1, 2, 3]) {
    const r = await chat({ type: 'array', items: false }, { seed, temperature: 1.5 });
    t.equal(r.status, 200);
    t.same(JSON.parse(r.body.choices[0].message.content), [], `items: false, seed ${seed}: []`);
  }
});
