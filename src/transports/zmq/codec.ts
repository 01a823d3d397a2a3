/**
 * Frames ↔ requests for the ROUTER socket.
 *
 * A ROUTER receives [routing id, …envelope, payload]. REQ clients put an empty delimiter before the payload;
 * DEALER clients may or may not. The envelope is everything up to and including the FIRST empty frame after the
 * routing id (or just the routing id when there is none) and is sent back unchanged in front of the reply, so each
 * reply reaches its sender and, for REQ, passes its state machine (one reply per request: libzmq#3282).
 * The first, not the last: routing ids are never empty, so the first empty frame is the delimiter, and an empty
 * payload after it ([id, '', '']) is the payload. Taking it for the delimiter sent [id, '', '', error] back, which a
 * REQ client receives as two frames.
 *   REQ, or DEALER with delimiter:  [id, '', payload]  → reply [id, '', reply]
 *   DEALER without delimiter:       [id, payload]      → reply [id, reply]
 *   an empty payload:               [id, '', '']  → body ['']: "is empty";  [id, '']  → no body: "is empty"
 *
 * Payload format: JSON (an object, so its first non-space byte is `{`), or msgpack when the first byte is a
 * msgpack map marker (0x80–0x8f fixmap, 0xde map16, 0xdf map32). A reply is in the request's format.
 */
import { pack, Unpackr } from 'msgpackr';
import { errors, type MocError } from '../../errors.js';
import { checkMsgpackNesting } from '../../nesting.js';

/**
 * 64-bit integers within ±2^53 as numbers (msgpackr's default makes every uint64/int64 a BigInt, even 5, which no
 * field accepts: an encoder writing fixed-width ints would be refused). 'auto' is in msgpackr's reader, not its types.
 */
const unpacker = new Unpackr({ useRecords: false, int64AsType: 'auto' as 'number' });

export type Format = 'json' | 'msgpack';

export interface Decoded {
  envelope: Buffer[];
  payload: Buffer | null;
  /** Set when the frames are not [id, …, payload]: answered with this error. */
  problem?: MocError;
}

export function splitFrames(frames: Buffer[]): Decoded {
  let delimiter = -1;
  for (let i = 1; i < frames.length && delimiter < 0; i++) if (frames[i]!.length === 0) delimiter = i;
  const envelope = frames.slice(0, delimiter >= 0 ? delimiter + 1 : 1);
  const body = frames.slice(envelope.length);
  if (body.length === 0 || (body.length === 1 && body[0]!.length === 0)) {
    return {
      envelope,
      payload: null,
      problem: errors.invalidArgument('message', 'is empty; send one JSON object (see docs/zmq-protocol.md)'),
    };
  }
  if (body.length > 1) {
    return {
      envelope,
      payload: null,
      problem: errors.invalidArgument(
        'message',
        `has ${body.length} frames after the envelope; send the request as exactly one frame`,
      ),
    };
  }
  return { envelope, payload: body[0]! };
}

export function formatOf(payload: Buffer): Format {
  const b = payload[0]!;
  return (b >= 0x80 && b <= 0x8f) || b === 0xde || b === 0xdf ? 'msgpack' : 'json';
}

/** The request object, or a MocError saying why it is not one. */
export function decodePayload(payload: Buffer, format: Format): Record<string, unknown> {
  let value: unknown;
  if (format === 'msgpack') {
    checkMsgpackNesting(payload); // before msgpackr, whose reader recurses once per level
    try {
      value = unpacker.unpack(payload);
    } catch (err) {
      throw errors.invalidArgument('message', `is not valid msgpack (${(err as Error).message}); send one msgpack map`);
    }
  } else {
    if (payload.length === 0) throw errors.invalidArgument('message', 'is empty; send one JSON object');
    try {
      value = JSON.parse(payload.toString('utf8'));
    } catch (err) {
      throw errors.invalidArgument(
        'message',
        `is not valid JSON (${(err as Error).message}); send one JSON object, UTF-8`,
      );
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw errors.invalidArgument('message', 'must be an object like {"action": "infer", ...}');
  }
  return value as Record<string, unknown>;
}

export function encodeReply(reply: Record<string, unknown>, format: Format): Buffer {
  return format === 'msgpack' ? pack(reply) : Buffer.from(JSON.stringify(reply));
}
