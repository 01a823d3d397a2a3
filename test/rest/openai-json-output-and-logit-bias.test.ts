/**
 * Structured output and token bias through the official `openai` client, on the demo model (random weights: what it
 * writes is noise, which is what makes the guarantees visible): `response_format` json_schema answers parse and match
 * the schema's enum and types, json_object answers are a JSON object, keywords the grammar cannot hold are refused by
 * name; `logit_bias` of 100 on a token id forces that token and -100 bans it, an id outside the vocabulary is refused;
 * the same through gRPC.
 */
import t from 'tap';
import OpenAI from 'openai';
import { startHarness } from '../helpers/coordinator.js';
import { vocabulary } from '../../src/model/demo-model.js';

const schema = {
  type: 'object',
  properties: {
    answer: { type: 'string', enum: ['yes', 'no'] },
    sure: { type: 'boolean' },
    tags: { type: 'array', items: { enum: ['a', 'b'] }, maxItems: 3 },
  },
  required: ['answer', 'sure', 'tags'],
};
const ask: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Is the sky blue? Answer in JSON.' }];
/** The demo model's ids of "A": its own token, its space-prefixed one, and its byte (src/model/demo-model.ts). */
const tokens = vocabulary().tokens;
const A = tokens.indexOf('A');
const everyA = [A, tokens.indexOf('\u2581A'), tokens.indexOf('<0x41>')];

t.test('response_format and logit_bias', async (t) => {
  const h = await startHarness(t);
  const client = new OpenAI({ baseURL: `${h.restUrl}/openai/v1`, apiKey: 'open-demo-mode', maxRetries: 0 });

  // json_schema: every choice parses and holds to the schema, whatever the weights say.
  const r = await client.chat.completions.create({
    model: 'moc-demo',
    messages: ask,
    n: 4,
    seed: 11,
    temperature: 1,
    max_tokens: 96,
    response_format: { type: 'json_schema', json_schema: { name: 'verdict', schema, strict: true } },
  });
  for (const c of r.choices) {
    t.equal(c.finish_reason, 'stop', `choice ${c.index}: the JSON completed, and the answer with it`);
    const v = JSON.parse(c.message.content!);
    t.ok(
      ['yes', 'no'].includes(v.answer) &&
        typeof v.sure === 'boolean' &&
        Array.isArray(v.tags) &&
        v.tags.length <= 3 &&
        v.tags.every((x: string) => x === 'a' || x === 'b'),
      `choice ${c.index} matches the schema: ${c.message.content!.replace(/\s+/g, ' ')}`,
    );
  }

  // json_object: a JSON object (greedy: the model's likeliest object).
  const o = await client.chat.completions.create({
    model: 'moc-demo',
    messages: ask,
    temperature: 0,
    max_tokens: 64,
    response_format: { type: 'json_object' },
  });
  t.equal(o.choices[0]!.finish_reason, 'stop');
  const parsed = JSON.parse(o.choices[0]!.message.content!);
  t.ok(
    typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed),
    `json_object: an object (${o.choices[0]!.message.content})`,
  );
  // $ref to a definition in $defs: the definition holds the value.
  const withRef = {
    type: 'object',
    properties: { pick: { $ref: '#/$defs/side' } },
    $defs: { side: { enum: ['left', 'right'] } },
  };
  const ref = await client.chat.completions.create({
    model: 'moc-demo',
    messages: ask,
    temperature: 1,
    seed: 5,
    max_tokens: 32,
    response_format: { type: 'json_schema', json_schema: { name: 'r', schema: withRef } },
  });
  t.ok(
    ['left', 'right'].includes(JSON.parse(ref.choices[0]!.message.content!).pick),
    `$ref: the referenced enum holds (${ref.choices[0]!.message.content})`,
  );
  const text = await client.chat.completions.create({
    model: 'moc-demo',
    messages: ask,
    temperature: 0,
    max_tokens: 16,
    response_format: { type: 'text' },
  });
  const plain = await client.chat.completions.create({
    model: 'moc-demo',
    messages: ask,
    temperature: 0,
    max_tokens: 16,
  });
  t.equal(text.choices[0]!.message.content, plain.choices[0]!.message.content, 'text: as without response_format');

  // The same json_schema request through gRPC answers the same (temperature 0).
  const viaRest = await client.chat.completions.create({
    model: 'moc-demo',
    messages: ask,
    temperature: 0,
    max_tokens: 96,
    response_format: { type: 'json_schema', json_schema: { name: 'v', schema } },
  });
  const viaGrpc = await h.unary('Infer', {
    model: 'moc-demo',
    messages: ask,
    temperature: 0,
    max_tokens: 96,
    response_format: 'json_schema',
    response_schema_json: JSON.stringify(schema),
  });
  t.equal(viaGrpc.text, viaRest.choices[0]!.message.content, 'gRPC: the same JSON');

  // logit_bias: +100 on "A" makes every token "A"; -100 bans it where it would otherwise come.
  t.ok(A > 2, `the demo model's "A" is token ${A}`);
  const forced = await client.completions.create({
    model: 'moc-demo',
    prompt: 'Once upon a time',
    temperature: 0,
    max_tokens: 6,
    logit_bias: { [A]: 100 },
  });
  t.equal(forced.choices[0]!.text, 'AAAAAA', 'logit_bias +100: the token every time');
  const viaGrpcBias = await h.unary('Infer', {
    model: 'moc-demo',
    prompt: 'Once upon a time',
    temperature: 0,
    max_tokens: 6,
    logit_bias: { [A]: 100 },
  });
  t.equal(viaGrpcBias.text, 'AAAAAA', 'gRPC logit_bias map: the same');
  // Banning a text means banning every token that writes it: the model's own vocabulary has three for "A".
  t.ok(
    everyA.every((id) => id > 2),
    `"A", "▁A" and <0x41> are tokens ${everyA.join(', ')}`,
  );
  const ban = Object.fromEntries(everyA.map((id) => [id, -100]));
  const banned = await client.completions.create({
    model: 'moc-demo',
    prompt: 'AAAA',
    temperature: 1,
    seed: 4,
    max_tokens: 48,
    logit_bias: ban,
  });
  const unbanned = await client.completions.create({
    model: 'moc-demo',
    prompt: 'AAAA',
    temperature: 1,
    seed: 4,
    max_tokens: 48,
    logit_bias: { [A]: 0.5 },
  });
  t.notOk(
    banned.choices[0]!.text.includes('A'),
    `logit_bias -100 on the three: never "A" (${JSON.stringify(banned.choices[0]!.text)})`,
  );
  t.not(banned.choices[0]!.text, unbanned.choices[0]!.text, 'and the answer differs from one where it is allowed');

  // Refused by name.
  const refused = async (what: string, body: Record<string, unknown>, param: string, message: RegExp) => {
    const err = await client.chat.completions
      .create({ model: 'moc-demo', messages: ask, max_tokens: 8, ...body } as never)
      .catch((e) => e);
    t.ok(err instanceof OpenAI.BadRequestError, `${what}: 400`);
    t.equal(err.param, param, `${what}: param ${param}`);
    t.match(err.message, message, `${what}: ${err.message}`);
  };
  await refused(
    'a keyword the grammar cannot hold',
    {
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'x', schema: { type: 'object', properties: { n: { type: 'integer', minimum: 3 } } } },
      },
    },
    'response_format.schema',
    /'minimum' at \/properties\/n is not supported/,
  );
  await refused(
    'a format it cannot hold',
    {
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'string', format: 'email' } } },
    },
    'response_format.schema',
    /format "email"/,
  );
  await refused(
    'a $ref to a definition that is not there',
    {
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'x', schema: { ...withRef, properties: { pick: { $ref: '#/$defs/sides' } } } },
      },
    },
    'response_format.schema',
    /\$ref "#\/\$defs\/sides" at \/properties\/pick does not name a definition in scope.*\(in scope: side\)/,
  );
  await refused(
    'a $ref outside the schema',
    {
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'x', schema: { $ref: 'https://example.com/s.json' } },
      },
    },
    'response_format.schema',
    /\$ref "https:\/\/example.com\/s.json" at \(the root\)/,
  );
  await refused(
    'a type that is none',
    { response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'text' } } } },
    'response_format.schema',
    /type "text"/,
  );
  await refused(
    'an unknown response format',
    { response_format: { type: 'yaml' } },
    'response_format',
    /'yaml' is not a response format/,
  );
  await refused(
    'json_schema without its object',
    { response_format: { type: 'json_schema' } },
    'response_format.json_schema',
    /"name"/,
  );
  await refused(
    'a token id outside the vocabulary',
    { logit_bias: { 99999: 5 } },
    'logit_bias.99999',
    /not a token of this model \(its vocabulary has \d+\)/,
  );
  await refused(
    'a bias past 100',
    { logit_bias: { [A]: 101 } },
    `logit_bias.${A}`,
    /must be a number from -100 to 100 \(got 101\)/,
  );
  await refused(
    'JSON output with tools',
    { tools: [{ type: 'function', function: { name: 'f' } }], response_format: { type: 'json_object' } },
    'response_format',
    /do not go together/,
  );
});
