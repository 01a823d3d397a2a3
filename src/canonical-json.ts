import { createHash } from 'node:crypto';

/**
 * JSON with object keys sorted, so two requests that say the same thing in another key order compare equal: what
 * idempotency keys compare a retry with (a job's submit, a ZMQ write action).
 */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'undefined';
}

/** The top-level fields whose values differ between two requests (one that only one of them has counts). */
export function differingKeys(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  return keys.filter((k) => canonicalJson(a[k]) !== canonicalJson(b[k]));
}

/**
 * Each field's canonical JSON, hashed (sha256, 16 hex digits); fields left undefined are left out. What a keyed goal
 * or feedback record keeps of the request that made it: a retry under its key is compared with it field by field
 * (differingKeys), without keeping the request's text twice.
 */
export function fieldDigests(fields: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields))
    if (v !== undefined) out[k] = createHash('sha256').update(canonicalJson(v)).digest('hex').slice(0, 16);
  return out;
}
