/**
 * Validation against the TypeBox schemas, turned into MOC_ERR_INVALID_ARGUMENT naming the field. Compiled once per
 * schema; used by every transport through the router, so gRPC, REST and ZMQ refuse the same inputs the same way.
 * The nesting check runs first (src/nesting.ts): TypeBox's error walk and the message below must never meet a
 * value deep enough to overflow the stack. It also turns -0 into 0, so every field treats -0 as 0.
 */
import { Kind, type TSchema, type Static } from '@sinclair/typebox';
import { TypeCompiler, ValueErrorType, type TypeCheck, type ValueError } from '@sinclair/typebox/compiler';
import { allowedValues } from './allowed-values.js';
import { errors } from './errors.js';
import { checkNesting } from './nesting.js';

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

export function validate<T extends TSchema>(schema: T, input: unknown): Static<T> {
  let check = compiled.get(schema);
  if (!check) {
    check = TypeCompiler.Compile(schema);
    compiled.set(schema, check);
  }
  const value = checkNesting(input);
  if (check.Check(value)) return value as Static<T>;
  const all = [...check.Errors(value)];
  const { field, message } = explain(all[0]!);
  const err = errors.invalidArgument(field, message);
  err.details.problems = all.slice(0, 10).map((e) => ({ field: e.path, message: e.message }));
  throw err;
}

/** Errors about the value's own type or range: answered with what the schema allows, read from the schema. */
const SHAPE = new Set<ValueErrorType>([
  ValueErrorType.Union,
  ValueErrorType.Integer,
  ValueErrorType.IntegerMinimum,
  ValueErrorType.IntegerMaximum,
  ValueErrorType.IntegerExclusiveMinimum,
  ValueErrorType.IntegerExclusiveMaximum,
  ValueErrorType.Number,
  ValueErrorType.NumberMinimum,
  ValueErrorType.NumberMaximum,
  ValueErrorType.NumberExclusiveMinimum,
  ValueErrorType.NumberExclusiveMaximum,
  ValueErrorType.String,
  ValueErrorType.StringMinLength,
  ValueErrorType.StringMaxLength,
  ValueErrorType.Array,
  ValueErrorType.ArrayMinItems,
  ValueErrorType.ArrayMaxItems,
  ValueErrorType.Boolean,
  ValueErrorType.Null,
  ValueErrorType.Literal,
  ValueErrorType.Object,
]);

const fieldOf = (path: string) => path.replace(/^\//, '').replace(/\//g, '.') || 'request';
/** The last segment of a JSON pointer, unescaped (~1 is '/', ~0 is '~'). */
const lastKey = (path: string) =>
  path
    .slice(path.lastIndexOf('/') + 1)
    .replace(/~1/g, '/')
    .replace(/~0/g, '~');

/**
 * One refusal in words: the field, what was wrong, what it got, and what is allowed. A schema's description says
 * what to send instead (e.g. keep_alive_ms: "use -1 to keep the model loaded") and is appended.
 */
function explain(error: ValueError): { field: string; message: string } {
  const { e, description } = narrow(error);
  const got = `(got ${describe(e.value)})`;
  const hint = description ? `; ${description}` : '';
  const allowed = allowedValues(e.schema);
  if (SHAPE.has(e.type) && allowed) return { field: fieldOf(e.path), message: `must be ${allowed} ${got}${hint}` };
  if (e.type === ValueErrorType.ObjectRequiredProperty)
    return { field: fieldOf(e.path), message: `is required${allowed ? `: send ${allowed}` : ''}${hint}` };
  if (e.type === ValueErrorType.ObjectAdditionalProperties) {
    const parent = e.path.slice(0, e.path.lastIndexOf('/'));
    const key = lastKey(e.path);
    if ('patternProperties' in e.schema)
      // A map (logit_bias): the key is the mistake, named as sent; the map's description says what keys are.
      return {
        field: fieldOf(parent),
        message: `has the key ${describe(key)}, which is not allowed${hint || `; keys match ${Object.keys(e.schema.patternProperties)[0]}`}`,
      };
    const known = Object.keys((e.schema.properties ?? {}) as object);
    return {
      field: fieldOf(e.path),
      message: `is not a field here${known.length ? `; the fields are ${known.join(', ')}` : ''}`,
    };
  }
  return { field: fieldOf(e.path), message: `${e.message} ${got}${hint}` };
}

/** Whether a value is of the kind a schema takes (its type, not its limits). */
function sameKind(schema: TSchema, v: unknown): boolean {
  switch (schema[Kind]) {
    case 'Union':
      return (schema.anyOf as TSchema[]).some((b) => sameKind(b, v));
    case 'String':
      return typeof v === 'string';
    case 'Integer':
    case 'Number':
      return typeof v === 'number' || typeof v === 'bigint';
    case 'Boolean':
      return typeof v === 'boolean';
    case 'Null':
      return v === null;
    case 'Literal':
      return typeof v === typeof schema.const;
    case 'Array':
      return Array.isArray(v);
    case 'Object':
    case 'Record':
      return typeof v === 'object' && v !== null && !Array.isArray(v);
    default:
      return true;
  }
}

/**
 * A union refused as a whole says what each branch allows; but when only one branch takes values of this kind (`n: 0`
 * against integer-or-null), that branch's own error is the useful one ("an integer from 1 to 16"), with the key it
 * names (`logit_bias`'s "abc"). The union's description stands in for a branch that has none.
 */
function narrow(e: ValueError): { e: ValueError; description: string | undefined } {
  let description = typeof e.schema.description === 'string' ? e.schema.description : undefined;
  while (e.type === ValueErrorType.Union) {
    const fits = (e.schema.anyOf as TSchema[]).flatMap((b, i) => (sameKind(b, e.value) ? [i] : []));
    const inner = fits.length === 1 ? e.errors[fits[0]!]?.First() : undefined;
    if (!inner) break;
    e = inner;
    if (typeof e.schema.description === 'string') description = e.schema.description;
  }
  return { e, description };
}

/**
 * The refused value, short and never by recursion: a string or number as written, anything else by type and size.
 * JSON.stringify would print Infinity (from `1e309`) as "null", throw on a BigInt, and recurse into nested values.
 */
export function describe(v: unknown): string {
  switch (typeof v) {
    case 'undefined':
      return 'missing';
    case 'string':
      return v.length > 40 ? `a string of ${v.length} characters` : JSON.stringify(v);
    case 'number':
      return Number.isFinite(v) ? String(v) : Number.isNaN(v) ? 'NaN' : 'a number out of range';
    case 'bigint':
      return 'an integer out of range';
    case 'boolean':
      return String(v);
    case 'object':
      if (v === null) return 'null';
      if (Array.isArray(v)) return `an array of ${v.length} items`;
      if (ArrayBuffer.isView(v)) return `binary data of ${v.byteLength} bytes`;
      return 'an object';
    default:
      return `a ${typeof v}`;
  }
}
