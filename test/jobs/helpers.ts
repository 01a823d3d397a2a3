/** Job test helpers: datasets in the datasets root, and waiting on the jobs actor's events (never polling). */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Job } from '../../schemas/jobs.js';
import type { Harness } from '../helpers/coordinator.js';
import { demoTrainer, type TrainerConfig } from '../../actors/jobs/trainers.js';

export function writeDataset(h: Harness, name: string, lines: object[]): string {
  const root = h.coordinator.config.jobs.datasetsRoot;
  mkdirSync(root, { recursive: true });
  writeFileSync(path.join(root, name), `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
  return name;
}

export const TEXTS = [
  'the quick brown fox jumps over the lazy dog',
  'a model coordinator serves agents at a high rate',
  'jobs are durable, prioritised and leased',
  'perplexity is the exponential of the mean negative log probability',
].map((text) => ({ text }));

/** Resolves with the job once `pred` holds, from its current record or its next changes. */
export function jobWhere(
  h: Harness,
  id: string,
  pred: (j: Job) => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<Job> {
  const view = h.coordinator.jobsView!;
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout;
    const off = view.watch((j) => {
      if (j.id === id && pred(j)) {
        clearTimeout(timer);
        off();
        resolve(j);
      }
    });
    const now = h.coordinator.work.getJob(id);
    if (now && pred(now)) {
      off();
      return resolve(now);
    }
    timer = setTimeout(() => {
      off();
      reject(
        new Error(
          `timed out waiting for job ${id}: ${what} (last: ${JSON.stringify(h.coordinator.work.getJob(id)?.state)})`,
        ),
      );
    }, timeoutMs);
  });
}

export const ended = (j: Job) => j.state === 'succeeded' || j.state === 'failed' || j.state === 'cancelled';

export async function rest(
  h: Harness,
  method: string,
  url: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${h.restUrl}${url}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json() };
}

/** The built-in demo trainer with extra toy-trainer flags (--fail-at, --full-model, ...), for a test's own trainers. */
export function toyTrainer(...extra: string[]): TrainerConfig {
  const demo = demoTrainer();
  return { command: [...demo.command, ...extra], timeoutMs: 60_000, graceMs: 500 };
}
