/**
 * Rebuild from the event log: every event carries the whole new record (schemas/catalog.ts StoreEvent), so applying
 * them in sequence order to a fresh environment gives back every table. `checksum` hashes the tables' contents in key
 * order: equal checksums of the live and the rebuilt store prove the log alone is enough (`moc replay`).
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { open, type RootDatabase } from 'lmdb';
import type { StoreEvent } from '../../schemas/catalog.js';
import { appendEvent, jobKey, openTables, ownerKey, putJob, type Tables } from './store.js';

const FILE = 'moc.lmdb';

/** sha256 over every table, each in key order: [table, key, value] as JSON lines. */
export function checksum(tables: Tables): string {
  const h = createHash('sha256');
  for (const [name, db] of Object.entries(tables) as [string, Tables[keyof Tables]][]) {
    for (const { key, value } of db.getRange()) h.update(`${JSON.stringify([name, key, value])}\n`);
  }
  return h.digest('hex');
}

/** Applies one event to the tables (inside a write transaction). */
export function applyEvent(t: Tables, e: StoreEvent): void {
  switch (e.type) {
    case 'model.registered':
      t.models.put(e.entry.name, e.entry);
      return;
    case 'model.removed':
      t.models.remove(e.name);
      return;
    case 'alias.set':
      t.aliases.put(e.alias, e.target);
      return;
    case 'job.submitted':
      putJob(t, e.job);
      if (e.job.requestId !== undefined) t.jobKeys.put(jobKey(e.job.owner, e.job.requestId), e.job.id);
      return;
    case 'job.updated':
      putJob(t, e.job);
      return;
    case 'goal.changed':
      t.goals.put(e.goal.id, e.goal);
      // Every version carries its creation's key: put again, it names the same goal.
      if (e.goal.requestId !== undefined) t.goalKeys.put(ownerKey(e.goal.owner, e.goal.requestId), e.goal.id);
      return;
    case 'feedback.recorded':
      t.feedback.put(e.feedback.id, e.feedback);
      if (e.feedback.idempotencyKey !== undefined)
        t.feedbackKeys.put(ownerKey(e.feedback.owner, e.feedback.idempotencyKey), e.feedback.id);
      return;
    default:
      throw new Error(`replay: unknown event ${JSON.stringify((e as { type: unknown }).type)}`);
  }
}

export interface ReplayResult {
  events: number;
  source: string;
  rebuilt: string;
  equal: boolean;
}

/** Replays `dataDir`'s event log into a fresh environment in `outDir` and compares both checksums. */
export async function replay(dataDir: string, outDir: string): Promise<ReplayResult> {
  const src = open({ path: path.join(dataDir, FILE), maxDbs: 16, readOnly: true });
  mkdirSync(outDir, { recursive: true });
  const out = open({ path: path.join(outDir, FILE), maxDbs: 16 });
  try {
    if (
      [...openTables(out).models.getKeys({ limit: 1 })].length ||
      [...out.openDB({ name: 'events' }).getKeys({ limit: 1 })].length
    ) {
      throw new Error(`replay: ${outDir} already holds a store; give an empty directory`);
    }
    const srcEvents = src.openDB<StoreEvent, number>({ name: 'events' });
    const tables = openTables(out);
    const outEvents = out.openDB<StoreEvent, number>({ name: 'events' });
    let events = 0;
    // One read snapshot of the source; written in batches so a long log does not make one huge transaction.
    let batch: StoreEvent[] = [];
    const flush = async () => {
      const these = batch;
      batch = [];
      await out.transaction(() => {
        for (const e of these) {
          applyEvent(tables, e);
          appendEvent(outEvents, e);
        }
      });
    };
    for (const { value } of srcEvents.getRange()) {
      batch.push(value);
      events++;
      if (batch.length >= 1000) await flush();
    }
    await flush();
    const source = checksum(openTables(src as RootDatabase));
    const rebuilt = checksum(tables);
    return { events, source, rebuilt, equal: source === rebuilt };
  } finally {
    await out.close();
    await src.close();
  }
}
