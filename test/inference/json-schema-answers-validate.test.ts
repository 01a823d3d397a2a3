/**
 * Issue 24 item 3 (and what item 4 accepts): every finished JSON answer validates against its schema, checked with a
 * JSON Schema validator (Ajv, draft 2020-12) over many seeds and two temperatures on the demo model, whose random
 * weights write whatever the grammar lets through. Numbers were the defect: node-llama-cpp's grammar let an integer
 * run to 16 digits and take a 16-digit exponent (`33198e1300095103407531`, Infinity once parsed); an `integer` is
 * now digits only and a safe integer, a `number` finite. The other schemas hold what is accepted to its word:
 * minItems/maxItems, minLength/maxLength, required, a list of types, a closed tuple (items: false), anyOf, and a
 * oneOf whose alternatives are told apart (one that could match twice is refused: unsatisfiable-schemas-are-refused).
 */
import t from 'tap';
import Ajv2020 from 'ajv/dist/2020.js';
import { startHarness } from '../helpers/coordinator.js';

const schemas: Record<string, object> = {
  numbers: {
    type: 'object',
    properties: { a: { type: 'integer' }, n: { type: 'number' } },
    required: ['a', 'n'],
  },
  counted: {
    type: 'object',
    properties: {
      tags: { type: 'array', items: { type: 'string', maxLength: 4 }, minItems: 2, maxItems: 3 },
      name: { type: 'string', minLength: 3, maxLength: 6 },
      pair: { type: 'array', prefixItems: [{ type: 'integer' }, { type: 'boolean' }], items: false },
      maybe: { type: ['integer', 'null'] },
    },
    required: ['tags', 'name', 'pair', 'maybe'],
    additionalProperties: false,
  },
  list: { type: 'array', items: { type: 'number' }, minItems: 1, maxItems: 4 },
  untyped: {
    properties: {
      k: { type: 'integer' },
      either: { anyOf: [{ type: 'integer' }, { const: 'x' }, { type: 'string', maxLength: 3 }] },
      one: {
        oneOf: [
          { type: 'object', properties: { kind: { const: 'a' }, n: { type: 'number' } }, required: ['kind', 'n'] },
          { type: 'object', properties: { kind: { const: 'b' } }, required: ['kind'] },
          { type: 'boolean' },
        ],
      },
    },
    required: ['k', 'either', 'one'],
  },
};
const seeds = Array.from({ length: 20 }, (_, i) => i);
const temperatures = [0.7, 1.5];

t.test('every finished JSON answer validates against its schema', async (t) => {
  const h = await startHarness(t);
  const ajv = new Ajv2020.default({ strict: true, strictTuples: false, strictTypes: false, allErrors: true });
  const ask = (schema: object, seed: number, temperature: number) =>
    fetch(`${h.restUrl}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'moc-demo',
        messages: [{ role: 'user', content: 'Answer in JSON.' }],
        max_tokens: 200,
        seed,
        temperature,
        response_format: { type: 'json_schema', json_schema: { name: 's', schema } },
      }),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

  for (const [name, schema] of Object.entries(schemas)) {
    const valid = ajv.compile(schema);
    const jobs = temperatures.flatMap((temperature) => seeds.map((seed) => ({ seed, temperature })));
    const bad: string[] = [];
    let finished = 0;
    for (let i = 0; i < jobs.length; i += 8) {
      const answers = await Promise.all(jobs.slice(i, i + 8).map((j) => ask(schema, j.seed, j.temperature)));
      answers.forEach((a, k) => {
        const { seed, temperature } = jobs[i + k]!;
        if (a.status !== 200) bad.push(`seed ${seed} t ${temperature}: ${a.status} ${JSON.stringify(a.body)}`);
        const choice = a.body.choices?.[0];
        if (choice?.finish_reason !== 'stop') return;
        finished++;
        const text: string = choice.message.content;
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          bad.push(`seed ${seed} t ${temperature}: does not parse: ${text}`);
          return;
        }
        if (!valid(value))
          bad.push(`seed ${seed} t ${temperature}: ${text.replace(/\s+/g, ' ')} — ${ajv.errorsText(valid.errors)}`);
      });
    }
    t.same(bad, [], `${name}: every finished answer validates (${finished} of ${jobs.length} finished)`);
    t.ok(finished >= jobs.length * 0.75, `${name}: most answers finish within max_tokens (${finished}/${jobs.length})`);
  }
});
