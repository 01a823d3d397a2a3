/**
 * Validation against the TypeBox schemas, turned into MOC_ERR_INVALID_ARGUMENT naming the field. Compiled once per
 * schema; used by every transport through the router, so gRPC, REST and ZMQ refuse the same inputs the same way.
 * The nesting check runs first (src/nesting.ts): TypeBox's error walk and the message below must never meet a
 * value deep enough to overflow the stack. It also turns -0 into 0, so every field treats -0 as 0.
 */
import type { TSchema, Static } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
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
  const first = all[0]!;
  const field = first.path.replace(/^\//, '').replace(/\//g, '.') || 'request';
  // A schema's description says what to send instead (e.g. keep_alive_ms: "use -1 to keep the model loaded").
  const hint = typeof first.schema.description === 'string' ? `; ${first.schema.description}` : '';
  const err = errors.invalidArgument(field, `${first.message} (got ${describe(first.value)})${hint}`);
  err.details.problems = all.slice(0, 10).map((e) => ({ field: e.path, message: e.message }));
  throw err;
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
