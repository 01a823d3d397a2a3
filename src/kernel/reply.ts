/**
 * Typed answers from a receive() that switches on `msg.kind`: narrowing the message does not narrow its envelope, so
 * `env.reply` takes the reply of any kind. These tie the envelope to the kind it carries (checked at run time), so a
 * reply of the wrong type is a compile error instead of an `as never`.
 */
import type { Envelope, Kind, Protocol, Reply } from './types.js';

/** The envelope as one of `kind`; throws when its message is of another kind (a bug in the caller's switch). */
export function envelopeOf<P extends Protocol, K extends Kind<P>>(env: Envelope<P>, kind: K): Envelope<P, K> {
  const actual = (env.msg as { kind: string }).kind;
  if (actual !== kind) throw new Error(`an envelope of kind '${actual}' handled as '${kind}'`);
  // Checked just above: Envelope<P, K> differs from Envelope<P> only in the types tied to msg.kind.
  return env as unknown as Envelope<P, K>;
}

/** Answers a message of `kind` with `value`, type-checked against that kind's reply. */
export function replyAs<P extends Protocol, K extends Kind<P>>(
  env: Envelope<P>,
  kind: K,
  value: NoInfer<Reply<P, K>>,
): void {
  envelopeOf(env, kind).reply(value);
}
