/**
 * owner + NUL + key: an idempotency key as both stores (and replay) key it. Jobs (request_id), goals (request_id) and
 * feedback (idempotency_key) each keep theirs apart: a table (LMDB), a unique index (PostgreSQL), a map (the replica).
 */
export const ownerKey = (owner: string, key: string) => `${owner}\u0000${key}`;
/** owner + NUL + request_id: the idempotency key of a submit. */
export const jobKey = ownerKey;
