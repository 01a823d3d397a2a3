/**
 * Validation against the TypeBox schemas, turned into MOC_ERR_INVALID_ARGUMENT naming the field. Compiled once per
 * schema; used by every transport through the router, so gRPC, REST and ZMQ refuse the same inputs the same way.
 */
import type { TSchema, Static } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { errors } from './errors.js';

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

export function validate<T extends TSchema>(schema: T, value: unknown): Static<T> {
  let check = compiled.get(schema);
  if (!check) { check = TypeCompiler.Compile(schema); compiled.set(schema, check); }
  if (check.Check(value)) return value as Static<T>;
  const all = [...check.Errors(value)];
  const first = all[0]!;
  const field = first.path.replace(/^\//, '').replace(/\//g, '.') || 'request';
  const got = first.value === undefined ? 'missing' : typeof first.value === 'string' && first.value.length > 40
    ? `a string of ${first.value.length} characters` : JSON.stringify(first.value);
  const err = errors.invalidArgument(field, `${first.message} (got ${got})`);
  err.details.problems = all.slice(0, 10).map((e) => ({ field: e.path, message: e.message }));
  throw err;
}
