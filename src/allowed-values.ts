/**
 * What a TypeBox schema allows, in words, for refusals (src/validate.ts): `n: must be an integer from 1 to 16 or null
 * (got 0)` rather than TypeBox's "Expected union value". Read from the schema itself, so a limit changed in the
 * schema changes the message with it. Unions list what each branch allows.
 */
import { Kind, type TSchema } from '@sinclair/typebox';

type S = TSchema & Record<string, unknown>;

const num = (n: unknown) => (typeof n === 'number' ? String(n) : undefined);

/** "from 1 to 16", "of at least 0", "above 0 and at most 1", or '' for no bounds. */
function range(s: S): string {
  const lo = num(s.minimum);
  const hi = num(s.maximum);
  const xlo = num(s.exclusiveMinimum);
  const xhi = num(s.exclusiveMaximum);
  if (lo !== undefined && hi !== undefined) return ` from ${lo} to ${hi}`;
  const parts = [
    lo !== undefined ? `at least ${lo}` : xlo !== undefined ? `above ${xlo}` : '',
    hi !== undefined ? `at most ${hi}` : xhi !== undefined ? `below ${xhi}` : '',
  ].filter(Boolean);
  return parts.length ? ` ${parts.join(' and ')}` : '';
}

/** "1 to 16 ", "at most 8 ", "at least 1 ", or '' (a count of things). */
function count(min: unknown, max: unknown): string {
  const lo = num(min);
  const hi = num(max);
  if (lo !== undefined && hi !== undefined) return lo === hi ? `${lo} ` : `${lo} to ${hi} `;
  if (hi !== undefined) return `at most ${hi} `;
  if (lo !== undefined && lo !== '0') return `at least ${lo} `;
  return '';
}

function stringRule(s: S): string {
  if (typeof s.pattern === 'string') return ` matching ${s.pattern}`;
  const n = count(s.minLength, s.maxLength);
  if (n === 'at least 1 ') return '';
  return n ? ` of ${n}characters` : '';
}

/** Several things of this schema: "strings of 1 to 64 characters", "integers", "arrays of integers". */
function plural(s: S): string {
  switch (s[Kind]) {
    case 'String':
      return `${num(s.minLength) === '1' && s.maxLength === undefined ? 'non-empty ' : ''}strings${stringRule(s)}`;
    case 'Integer':
      return `integers${range(s)}`;
    case 'Number':
      return `numbers${range(s)}`;
    case 'Boolean':
      return 'booleans';
    case 'Array':
      return `arrays of ${count(s.minItems, s.maxItems)}${plural(s.items as S)}`;
    case 'Object':
    case 'Record':
      return 'objects';
    default:
      return `values (${allowedValues(s) ?? 'any'})`;
  }
}

/** `{"type": "text"}`: an object's fields, literal values written out, other values by kind. */
function objectShape(s: S): string {
  const props = (s.properties ?? {}) as Record<string, S>;
  // A large object (a whole request) is better described by its documentation than in one line.
  if (Object.keys(props).length > 4) return 'an object';
  const required = new Set((s.required as string[] | undefined) ?? []);
  const fields = Object.entries(props).map(([k, v]) => {
    const value = v[Kind] === 'Literal' ? JSON.stringify(v.const) : (allowedValues(v) ?? 'a value');
    return `"${k}"${required.has(k) ? '' : ' (optional)'}: ${value}`;
  });
  return fields.length ? `{${fields.join(', ')}}` : 'an object';
}

/** "a, b or c". */
export const oneOf = (xs: string[]) =>
  xs.length <= 1 ? (xs[0] ?? '') : `${xs.slice(0, -1).join(', ')} or ${xs.at(-1)}`;

/** What `schema` allows, as a phrase ("an integer from 1 to 16 or null"); undefined when it allows anything. */
export function allowedValues(schema: TSchema): string | undefined {
  const s = schema as S;
  switch (s[Kind]) {
    case 'Union': {
      const each = (s.anyOf as S[]).map(allowedValues);
      return each.every((x) => x !== undefined) ? oneOf([...new Set(each as string[])]) : undefined;
    }
    case 'Integer':
      return `an integer${range(s)}`;
    case 'Number':
      return `a number${range(s)}`;
    case 'String': {
      const rule = stringRule(s);
      return num(s.minLength) === '1' && !rule ? 'a non-empty string' : `a string${rule}`;
    }
    case 'Boolean':
      return 'true or false';
    case 'Null':
      return 'null';
    case 'Literal':
      return JSON.stringify(s.const);
    case 'Array':
      return `an array of ${count(s.minItems, s.maxItems)}${plural(s.items as S)}`;
    case 'Object':
      return objectShape(s);
    case 'Record':
      return 'an object';
    default:
      return undefined;
  }
}
