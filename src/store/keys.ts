/** owner + NUL + request_id: the idempotency key of a submit (both stores, and replay, key by it). */
export const jobKey = (owner: string, requestId: string) => `${owner}\u0000${requestId}`;
