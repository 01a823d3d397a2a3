/**
 * What LMDB holds: the model catalog, aliases and an append-only event log (every state change, monotonic
 * sequence; the catalog can be rebuilt from it). Records are msgpack (lmdb-js's default encoding).
 */
import { Type, type Static } from '@sinclair/typebox';
import { DeviceId, ModelName } from './config.js';
import type { Job } from './jobs.js';
import type { Goal } from './goals.js';
import type { Feedback } from './feedback.js';

export const CatalogEntry = Type.Object({
  name: ModelName,
  /** Relative to the models root, as registered. */
  path: Type.String(),
  sha256: Type.String(),
  bytes: Type.Integer(),
  /** File mtime at inspection: an unchanged file is not hashed again at the next start. */
  mtimeMs: Type.Number(),
  architecture: Type.String(),
  parameterCount: Type.Integer(),
  quantization: Type.String(),
  trainContextLength: Type.Integer(),
  contextSize: Type.Integer(),
  sequences: Type.Integer(),
  device: Type.Optional(DeviceId),
  pinned: Type.Boolean(),
  /** Idle time before unloading; negative: never. */
  keepAliveMs: Type.Integer(),
  preload: Type.Boolean(),
  registeredAt: Type.Integer(),
  /** A LoRA adapter (docs/models.md, Adapters): the model it applies to; `path` is then the adapter's GGUF. */
  base: Type.Optional(ModelName),
  /** An adapter's scale (1: as trained; 0: the base's answers). */
  scale: Type.Optional(Type.Number()),
});
export type CatalogEntry = Static<typeof CatalogEntry>;

/** Every change carries the whole new record, so replaying the log in order rebuilds every table (src/store/replay.ts). */
export type StoreEvent =
  | { type: 'model.registered'; at: number; entry: CatalogEntry }
  | { type: 'model.removed'; at: number; name: string }
  | { type: 'alias.set'; at: number; alias: string; target: string; previous: string | null }
  | { type: 'job.submitted'; at: number; job: Job }
  | { type: 'job.updated'; at: number; job: Job }
  | { type: 'goal.changed'; at: number; goal: Goal }
  | { type: 'feedback.recorded'; at: number; feedback: Feedback };
