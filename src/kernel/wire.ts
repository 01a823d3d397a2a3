/**
 * The kernel's own frames between a WorkerRef (parent thread) and hostActor (worker thread). Actor messages ride
 * inside them as plain data (structured clone). Credit-based flow control keeps the worker's port from growing:
 * the parent posts at most `window` messages the worker has not taken yet; each taken message returns one credit.
 */
import type { ErrorData } from '../errors.js';

export type ToWorker =
  | { t: 'msg'; id: number; msg: unknown; deadline: number; oneWay: boolean }
  | { t: 'cancel'; id: number; reason: ErrorData }
  | { t: 'close' };

export type FromWorker =
  | { t: 'ready'; window: number }
  | { t: 'reply'; id: number; value: unknown }
  | { t: 'fail'; id: number; error: ErrorData }
  | { t: 'event'; id: number; event: unknown }
  | { t: 'credit'; n: number }
  | { t: 'notify'; msg: unknown }
  | { t: 'closed' };
