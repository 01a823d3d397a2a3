/**
 * What a JSON Schema for a JSON answer (response_format's schema, a tool's parameters) may say, checked at submit
 * (src/transports/operations.ts, before the request queues) and again where the engine makes the grammar
 * (sampling.ts). Pure: no node-llama-cpp here, so the coordinator's process can run it.
 *
 * An answer is sampled under a grammar node-llama-cpp makes from the schema (json-grammar.ts), so the rule is: a
 * schema is accepted only if everything that grammar can generate validates against the schema. Keywords the
 * grammar cannot hold, schemas nothing satisfies (`{"enum": []}`, `minItems` over `maxItems`, a `required` name not
 * in `properties`) and keywords the generator would silently override are refused, by keyword and JSON pointer.
 * So is a schema past SCHEMA_LIMITS: an answer under a 30,000-value enum takes over a second per token to sample,
 * and every other request batched on the same model waits for it.
 */
import { errors } from '../../src/errors.js';

/** Far past what a real schema holds (OpenAI's own structured outputs allow 1,000 enum values and 10 levels). */
export const SCHEMA_LIMITS = {
  /** The schema as JSON text, in bytes. */
  bytes: 64 * 1024,
  /** enum values and consts in the whole schema. */
  enumValues: 1024,
  /** Subschemas inside subschemas (a property's schema is one level below its object's). */
  depth: 10,
  /** Any of minLength, maxLength, minItems, maxItems, minProperties, maxProperties. */
  count: 4096,
} as const;

/** The keywords a grammar holds output to (node-llama-cpp's GbnfJsonSchema). */
const HELD = [
  'type',
  'enum',
  'const',
  'oneOf',
  'anyOf',
  'properties',
  'required',
  'additionalProperties',
  'minProperties',
  'maxProperties',
  'items',
  'prefixItems',
  'minItems',
  'maxItems',
  'minLength',
  'maxLength',
  'format',
  '$ref',
  '$defs',
];
const ANNOTATIONS = new Set(['description', 'title', 'default', 'examples', '$schema', '$id', '$comment']);
const TYPES = new Set(['string', 'number', 'integer', 'boolean', 'null', 'object', 'array']);
const FORMATS = new Set(['date-time', 'time', 'date']);
const COUNTS = [
  ['minLength', 'maxLength'],
  ['minItems', 'maxItems'],
  ['minProperties', 'maxProperties'],
] as const;
const REF_PREFIX = '#/$defs/';
/** With enum, const, oneOf, anyOf or $ref, the generator reads only that keyword: anything else would go unheld. */
const ALONE_WITH = { enum: ['type'], const: ['type'], oneOf: [], anyOf: [], $ref: [] } as const;

type Schema = Record<string, unknown>;
const isMap = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);
const pointer = (key: string | number) => `/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`;

/** A JSON value's JSON Schema type ('integer' for a whole number). */
function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** One walk over a schema: its field (for errors), the enum values counted so far. */
class Walk {
  enumValues = 0;
  constructor(readonly field: string) {}

  /** "<what> at <JSON pointer> <problem>": what is refused, where, why and what to do. */
  refuse(what: string, at: string, problem: string): never {
    throw errors.invalidArgument(this.field, `${what} at ${at || '(the root)'} ${problem}`);
  }

  check(schema: unknown, at: string, defs: ReadonlySet<string>, depth: number): void {
    if (depth > SCHEMA_LIMITS.depth)
      this.refuse(
        'the schema',
        at,
        `is nested more than ${SCHEMA_LIMITS.depth} subschemas deep; the limit is ${SCHEMA_LIMITS.depth}`,
      );
    if (schema === true) return;
    if (schema === false) this.refuse('false', at, 'accepts no value, so no answer can be generated');
    if (!isMap(schema)) this.refuse(JSON.stringify(schema), at, 'is not a schema: a schema is an object (or true)');
    const s = schema;
    for (const key of Object.keys(s)) {
      if (!HELD.includes(key) && !ANNOTATIONS.has(key))
        this.refuse(
          `'${key}'`,
          at,
          `is not supported (answers are generated under a grammar that cannot hold it); supported: ${HELD.join(', ')}`,
        );
    }
    const types = this.types(s, at);
    for (const [key, allowed] of Object.entries(ALONE_WITH)) {
      if (s[key] === undefined) continue;
      const others = Object.keys(s).filter(
        (k) => k !== key && k !== '$defs' && !ANNOTATIONS.has(k) && !(allowed as readonly string[]).includes(k),
      );
      if (others.length)
        this.refuse(
          `'${key}'`,
          at,
          `cannot stand beside ${others.map((k) => `'${k}'`).join(', ')}: the answer is generated from '${key}' alone${key === 'oneOf' || key === 'anyOf' ? '; put the shared keywords into each alternative' : ''}`,
        );
    }
    this.values(s, at, types);
    this.counts(s, at);
    if (s.format !== undefined) {
      if (typeof s.format !== 'string' || !FORMATS.has(s.format))
        this.refuse(`format ${JSON.stringify(s.format)}`, at, 'is not supported; date-time, time and date are');
      if (types?.length !== 1 || types[0] !== 'string') this.refuse('format', at, 'needs "type": "string"');
      if (s.minLength !== undefined || s.maxLength !== undefined)
        this.refuse('format', at, 'cannot be combined with minLength or maxLength (the format fixes the length)');
    }
    this.object(s, at);
    this.array(s, at);
    const scope = isMap(s.$defs) ? new Set([...defs, ...Object.keys(s.$defs)]) : defs;
    if (s.$ref !== undefined) {
      const name =
        typeof s.$ref === 'string' && s.$ref.startsWith(REF_PREFIX) ? s.$ref.slice(REF_PREFIX.length) : undefined;
      if (name === undefined || !scope.has(name))
        this.refuse(
          `$ref ${JSON.stringify(s.$ref)}`,
          at,
          `does not name a definition in scope; only "${REF_PREFIX}<name>" references to $defs of this schema or an enclosing one are supported${scope.size ? ` (in scope: ${[...scope].join(', ')})` : ''}`,
        );
    }
    const sub = (v: unknown, path: string) => this.check(v, `${at}${path}`, scope, depth + 1);
    for (const key of ['properties', '$defs'] as const) {
      if (s[key] === undefined) continue;
      if (!isMap(s[key])) this.refuse(key, at, 'must be an object of schemas');
      for (const [k, v] of Object.entries(s[key])) sub(v, `/${key}${pointer(k)}`);
    }
    for (const key of ['oneOf', 'anyOf', 'prefixItems'] as const) {
      const list = s[key];
      if (list === undefined) continue;
      if (!Array.isArray(list)) this.refuse(key, at, 'must be a list of schemas');
      if (list.length === 0 && key !== 'prefixItems')
        this.refuse(key, at, 'is empty: no value matches it, so no answer can be generated');
      for (const [i, v] of list.entries()) sub(v, `/${key}/${i}`);
      if (key === 'oneOf') this.disjoint(list, `${at}/oneOf`);
    }
    if (s.items !== undefined && s.items !== false) sub(s.items, '/items');
    if (s.additionalProperties !== undefined && typeof s.additionalProperties !== 'boolean')
      sub(s.additionalProperties, '/additionalProperties');
  }

  /**
   * oneOf means exactly one alternative matches, but an answer is generated from any one of them: refused unless no
   * value can match two, told apart by type, by enum/const values, or (objects) by a property both give disjoint
   * const/enum values. Anything less certain is refused with anyOf as the way out.
   */
  private disjoint(list: unknown[], at: string): void {
    const sigs = list.map(signature);
    for (let i = 0; i < sigs.length; i++)
      for (let j = i + 1; j < sigs.length; j++)
        if (overlap(sigs[i]!, sigs[j]!))
          this.refuse(
            'oneOf',
            at,
            `has alternatives ${i} and ${j} that one value could both match, and oneOf allows exactly one; use anyOf (an answer then matches at least one), or tell them apart by type, by enum/const values, or by a property both have with disjoint const/enum values`,
          );
  }

  private types(s: Schema, at: string): string[] | undefined {
    if (s.type === undefined) return undefined;
    const types = Array.isArray(s.type) ? s.type : [s.type];
    if (types.length === 0) this.refuse('type', at, 'is an empty list: every value has a type');
    for (const t of types)
      if (typeof t !== 'string' || !TYPES.has(t))
        this.refuse(`type ${JSON.stringify(t)}`, at, `is not a JSON Schema type (${[...TYPES].join(', ')})`);
    return types as string[];
  }

  /** enum and const: values there are, counted, of the schema's type. */
  private values(s: Schema, at: string, types: string[] | undefined): void {
    if (s.enum === undefined && s.const === undefined) return;
    if (s.enum !== undefined && s.const !== undefined)
      this.refuse('enum and const', at, 'cannot stand together; use one');
    const key = s.enum !== undefined ? 'enum' : 'const';
    if (key === 'enum' && !Array.isArray(s.enum)) this.refuse('enum', at, 'must be a list of values');
    const list = key === 'enum' ? (s.enum as unknown[]) : [s.const];
    if (list.length === 0) this.refuse('enum', at, 'is empty: no value matches it, so no answer can be generated');
    this.enumValues += list.length;
    if (this.enumValues > SCHEMA_LIMITS.enumValues)
      this.refuse(
        key,
        at,
        `brings the schema to more than ${SCHEMA_LIMITS.enumValues} enum and const values, the limit`,
      );
    if (!types) return;
    for (const [i, v] of list.entries()) {
      const t = typeOf(v);
      if (!types.includes(t) && !(t === 'integer' && types.includes('number')))
        this.refuse(
          `${key} value ${JSON.stringify(v)}`,
          `${at}/${key}${key === 'enum' ? `/${i}` : ''}`,
          `is not of type ${types.join(' or ')}`,
        );
    }
  }

  /** min/max counts: whole, not negative, under the limit, min not over max. */
  private counts(s: Schema, at: string): void {
    for (const pair of COUNTS) {
      for (const k of pair) {
        const n = s[k];
        if (n === undefined) continue;
        if (typeof n !== 'number' || !Number.isInteger(n) || n < 0)
          this.refuse(`${k} ${JSON.stringify(n)}`, at, 'is not a whole number 0 or more');
        if (n > SCHEMA_LIMITS.count) this.refuse(`${k} ${n}`, at, `is over the limit of ${SCHEMA_LIMITS.count}`);
      }
      const [min, max] = pair.map((k) => s[k] as number | undefined);
      if (min !== undefined && max !== undefined && min > max)
        this.refuse(
          `${pair[0]} ${min}`,
          at,
          `is over ${pair[1]} ${max}: no value has both, so no answer can be generated`,
        );
    }
  }

  /** The generator writes every property in `properties` and, where additionalProperties allows, others. */
  private object(s: Schema, at: string): void {
    const names = isMap(s.properties) ? Object.keys(s.properties) : [];
    const extra = s.additionalProperties !== undefined && s.additionalProperties !== false;
    if (s.required !== undefined) {
      if (!Array.isArray(s.required) || s.required.some((r) => typeof r !== 'string'))
        this.refuse('required', at, 'must be a list of property names');
      for (const [i, r] of (s.required as string[]).entries())
        if (!names.includes(r))
          this.refuse(
            `required ${JSON.stringify(r)}`,
            `${at}/required/${i}`,
            `is not in properties; list every required property in properties (answers hold exactly the properties listed${extra ? ', plus any additional ones the model chooses' : ''})`,
          );
    }
    if (typeof s.maxProperties === 'number' && s.maxProperties < names.length)
      this.refuse(
        `maxProperties ${s.maxProperties}`,
        at,
        `is under the ${names.length} properties listed, and every listed property is written`,
      );
    if (typeof s.minProperties === 'number' && s.minProperties > names.length && !extra)
      this.refuse(
        `minProperties ${s.minProperties}`,
        at,
        `is over the ${names.length} properties listed, and additionalProperties allows no others`,
      );
  }

  private array(s: Schema, at: string): void {
    const prefix = Array.isArray(s.prefixItems) ? s.prefixItems.length : 0;
    if (typeof s.maxItems === 'number' && s.maxItems < prefix)
      this.refuse(`maxItems ${s.maxItems}`, at, `is under the ${prefix} prefixItems, and every one of them is written`);
    if (s.items === false && typeof s.minItems === 'number' && s.minItems > prefix)
      this.refuse(`minItems ${s.minItems}`, at, `is over the ${prefix} prefixItems, and items is false`);
  }
}

/** What an alternative of a oneOf can match: 'any' when not plainly known (a $ref, a nested anyOf, true, {}). */
type Signature = 'any' | { types: Set<string>; values?: Set<string>; tags: Map<string, Set<string>> };

function signature(alt: unknown): Signature {
  if (!isMap(alt) || alt.$ref !== undefined || alt.oneOf !== undefined || alt.anyOf !== undefined) return 'any';
  const listed = alt.enum !== undefined ? (alt.enum as unknown[]) : alt.const !== undefined ? [alt.const] : undefined;
  const declared =
    alt.type ??
    Object.keys(alt)
      .map((k) => IMPLIES[k])
      .find((t) => t !== undefined);
  if (!listed && declared === undefined) return 'any';
  const types = new Set<string>(
    listed ? listed.map(typeOf) : Array.isArray(declared) ? declared : [declared as string],
  );
  if (types.has('number')) types.add('integer');
  if (types.has('integer')) types.add('number');
  const tags = new Map<string, Set<string>>();
  for (const [name, p] of Object.entries(isMap(alt.properties) ? alt.properties : {})) {
    if (!isMap(p)) continue;
    const v = p.enum !== undefined ? (p.enum as unknown[]) : p.const !== undefined ? [p.const] : undefined;
    if (v) tags.set(name, new Set(v.map((x) => JSON.stringify(x))));
  }
  return { types, ...(listed ? { values: new Set(listed.map((x) => JSON.stringify(x))) } : {}), tags };
}

const meets = (a: Set<string>, b: Set<string>) => [...a].some((x) => b.has(x));

function overlap(a: Signature, b: Signature): boolean {
  if (a === 'any' || b === 'any') return true;
  if (a.values && b.values) return meets(a.values, b.values);
  if (!meets(a.types, b.types)) return false;
  if (a.values || b.values) return true;
  const shared = [...a.types].filter((t) => b.types.has(t));
  if (shared.length !== 1 || shared[0] !== 'object') return true;
  return ![...a.tags].some(([name, v]) => b.tags.has(name) && !meets(v, b.tags.get(name)!));
}

/**
 * Refuses a schema the grammar would not hold output to, or one past SCHEMA_LIMITS, naming the keyword and its JSON
 * pointer. `field` is the request field the schema came in (response_format.schema, tools[0].parameters).
 */
export function checkSchema(schema: unknown, field: string): void {
  const bytes = Buffer.byteLength(JSON.stringify(schema) ?? '');
  if (bytes > SCHEMA_LIMITS.bytes)
    throw errors.invalidArgument(
      field,
      `is ${bytes} bytes of JSON; the limit for a schema is ${SCHEMA_LIMITS.bytes} bytes (docs/openai.md, JSON answers)`,
    );
  new Walk(field).check(schema, '', new Set(), 0);
}

/** The schemas of an inference (its answer's and its tools'), checked at submit. */
export function checkInferenceSchemas(r: {
  responseFormat?: { type: string; schema?: unknown };
  tools?: readonly { parameters?: unknown }[];
}): void {
  if (r.responseFormat?.type === 'json_schema') checkSchema(r.responseFormat.schema, 'response_format.schema');
  r.tools?.forEach((t, i) => {
    if (t.parameters !== undefined) checkSchema(t.parameters, `tools[${i}].parameters`);
  });
}

/** Keywords that say which type a schema without `type` is about. */
const IMPLIES: Record<string, string> = {
  properties: 'object',
  required: 'object',
  additionalProperties: 'object',
  minProperties: 'object',
  maxProperties: 'object',
  items: 'array',
  prefixItems: 'array',
  minItems: 'array',
  maxItems: 'array',
  minLength: 'string',
  maxLength: 'string',
  format: 'string',
};

/**
 * A checked schema in the form node-llama-cpp's converter reads as the schema means: `anyOf` is its `oneOf`; a list
 * of types is one alternative per type (its converter applies minLength, items, … only to a single type); a schema
 * without `type` gets the one its keywords imply (else the converter writes null); `items: false` is maxItems.
 */
export function grammarSchema(schema: unknown): unknown {
  if (!isMap(schema)) return schema;
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'enum' || k === 'const' || k === 'required' || (k === 'additionalProperties' && typeof v === 'boolean'))
      out[k] = v;
    else if (k === 'properties' || k === '$defs')
      out[k] = Object.fromEntries(Object.entries(v as Schema).map(([name, s]) => [name, grammarSchema(s)]));
    else if (k === 'oneOf' || k === 'anyOf' || k === 'prefixItems')
      out[k === 'anyOf' ? 'oneOf' : k] = (v as unknown[]).map(grammarSchema);
    else if (k === 'items' || k === 'additionalProperties') out[k] = grammarSchema(v);
    else out[k] = v;
  }
  if (out.items === false) {
    delete out.items;
    const prefix = Array.isArray(out.prefixItems) ? out.prefixItems.length : 0;
    out.maxItems = Math.min(prefix, (out.maxItems as number | undefined) ?? prefix);
  }
  if (out.enum !== undefined || out.const !== undefined || out.oneOf !== undefined || out.$ref !== undefined)
    return out;
  if (out.type === undefined) {
    const implied = Object.keys(out)
      .map((k) => IMPLIES[k])
      .find((t) => t !== undefined);
    if (implied) out.type = implied;
  }
  if (Array.isArray(out.type)) {
    if (out.type.length === 1) out.type = out.type[0];
    else {
      const { type, $defs, ...rest } = out;
      return { ...($defs ? { $defs } : {}), oneOf: (type as string[]).map((t) => ({ ...rest, type: t })) };
    }
  }
  return out;
}
