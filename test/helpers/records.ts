/** Store records for tests that write the store directly: a queued evaluate job and a pending goal, with overrides. */
import { randomUUID } from 'node:crypto';
import type { Goal } from '../../schemas/goals.js';
import type { Job } from '../../schemas/jobs.js';

export function jobRecord(o: Partial<Job> = {}): Job {
  const now = Date.now();
  return {
    id: `job-${randomUUID()}`,
    type: 'evaluate',
    spec: { model: 'm', dataset: 'd.jsonl' },
    priority: 0,
    owner: 'open',
    memoryBytes: 0,
    state: 'queued',
    attempts: 0,
    maxAttempts: 1,
    progress: { fraction: 0, message: 'queued' },
    createdAt: now,
    queuedAt: now,
    startedAt: 0,
    endedAt: 0,
    updatedAt: now,
    logTail: [],
    outputs: { files: [], metrics: {}, models: [] },
    cancelRequested: false,
    notBefore: 0,
    ...o,
  };
}

export function goalRecord(o: Partial<Goal> = {}): Goal {
  const now = Date.now();
  return {
    id: `goal-${randomUUID()}`,
    title: 'g',
    description: '',
    priority: 0,
    owner: 'open',
    state: 'pending',
    jobs: [],
    deadlineMs: 0,
    createdAt: now,
    updatedAt: now,
    endedAt: 0,
    reason: 'no jobs linked yet',
    ...o,
  };
}
