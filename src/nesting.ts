/**
 * Nesting limits for requests, checked without recursion before any recursive code sees the value: TypeBox's error
 * walk, error formatting, msgpackr's reader. A request nests at most 2 levels (an object holding `stop: [...]`);
 * a value 100k levels deep (a few hundred KB of `[`) would otherwise overflow the stack, which is a 500 on REST
 * and a crashed router actor on ZMQ instead of INVALID_ARGUMENT.
 */
import { errors } from './errors.js';

/** Far more than any request needs, far less than any stack overflows at. */
export const MAX_DEPTH = 32;

/** Says the limit and how it is counted: a JSON Schema (response_format, tools) nests 2 levels per object in it. */
const TOO_DEEP =
  `nests deeper than ${MAX_DEPTH} levels of objects and arrays, the limit for every request (counted from the ` +
  `request itself; a JSON Schema's nested object takes 2: "properties" and the property); flatten it`;

const isContainer = (v: unknown): v is Record<string | number, unknown> =>
  typeof v === 'object' && v !== null && !ArrayBuffer.isView(v);

/**
 * Refuses a decoded value nested deeper than `maxDepth`, naming the top-level field it is under. Also turns -0 into
 * 0 (in place, returning the value): JSON and msgpack can carry -0, and `-0 < 0` is false while `Object.is(-0, 0)`
 * is not, so one field would take it as 0 and another not; every field now sees 0.
 */
export function checkNesting<T>(value: T, maxDepth = MAX_DEPTH): T {
  if (typeof value === 'number' && Object.is(value, -0)) return 0 as T;
  if (!isContainer(value)) return value;
  const stack: { node: Record<string | number, unknown>; depth: number; field: string }[] = [
    { node: value, depth: 1, field: '' },
  ];
  while (stack.length > 0) {
    const { node, depth, field } = stack.pop()!;
    if (depth > maxDepth) throw errors.invalidArgument(field || 'request', TOO_DEEP);
    const keys = Array.isArray(node) ? null : Object.keys(node);
    const n = keys ? keys.length : (node as unknown as unknown[]).length;
    for (let i = 0; i < n; i++) {
      const k = keys ? keys[i]! : i;
      const v = node[k];
      if (v === 0 && Object.is(v, -0) && !Object.isFrozen(node)) node[k] = 0;
      else if (isContainer(v)) stack.push({ node: v, depth: depth + 1, field: depth === 1 ? String(k) : field });
    }
  }
  return value;
}

/**
 * Reads msgpack headers only (lengths, counts), so nesting deeper than `maxDepth` is refused before msgpackr's
 * recursive reader runs. Extension types are refused too: no request field takes one, and some of msgpackr's
 * (Set, Error, records) read further values from outside their length, so their depth could not be checked here.
 * A truncated message is left for msgpackr to report.
 */
export function checkMsgpackNesting(buf: Uint8Array, maxDepth = MAX_DEPTH): void {
  const left: number[] = []; // values still to come in each open map/array
  let pos = 0;
  const uint = (bytes: number): number => {
    let n = 0;
    for (let i = 0; i < bytes; i++) n = n * 256 + (buf[pos + i] ?? 0);
    pos += bytes;
    return n;
  };
  while (pos < buf.length) {
    const b = buf[pos++]!;
    let items = 0;
    let skip = 0;
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) {
      /* fixint, nil, false, true */
    } else if (b <= 0x8f) items = (b & 0x0f) * 2;
    else if (b <= 0x9f) items = b & 0x0f;
    else if (b <= 0xbf) skip = b & 0x1f;
    else {
      switch (b) {
        case 0xc4:
        case 0xd9:
          skip = uint(1);
          break; // bin8, str8
        case 0xc5:
        case 0xda:
          skip = uint(2);
          break;
        case 0xc6:
        case 0xdb:
          skip = uint(4);
          break;
        case 0xcc:
        case 0xd0:
          skip = 1;
          break; // (u)int8 … float64
        case 0xcd:
        case 0xd1:
          skip = 2;
          break;
        case 0xca:
        case 0xce:
        case 0xd2:
          skip = 4;
          break;
        case 0xcb:
        case 0xcf:
        case 0xd3:
          skip = 8;
          break;
        case 0xdc:
          items = uint(2);
          break; // array16/32, map16/32
        case 0xdd:
          items = uint(4);
          break;
        case 0xde:
          items = uint(2) * 2;
          break;
        case 0xdf:
          items = uint(4) * 2;
          break;
        case 0xc1:
          throw errors.invalidArgument('message', 'is not valid msgpack (0xc1 is never used); send one msgpack map');
        default:
          throw errors.invalidArgument(
            'message',
            `uses a msgpack extension type (0x${b.toString(16)}); requests hold maps, arrays, strings, numbers, booleans and nil`,
          );
      }
    }
    pos += skip;
    if (left.length > 0) left[left.length - 1]!--; // this value fills a slot of its container
    if (items > 0) {
      left.push(items);
      if (left.length > maxDepth) throw errors.invalidArgument('message', TOO_DEEP);
    }
    while (left.length > 0 && left[left.length - 1] === 0) left.pop();
  }
}
