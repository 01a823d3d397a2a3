/**
 * The WorkStore contract (src/store/work-store.ts), one suite run against each backend: LMDB
 * (work-store-contract-lmdb.test.ts) and PostgreSQL (work-store-contract-postgres.test.ts). `open` gives a store as
 * one process would have it; two opens on the same backing are two processes. `caughtUp(s)` waits until `s` has read
 * what other processes committed (nothing to wait for on LMDB: it reads the shared file).
 */
import type { Test } from 'tap';
import type { Feedback } from '../../schemas/feedback.js';
import type { Goal } from '../../schemas/goals.js';
import type { WorkStore } from '../../src/store/work-store.js';
import { goalRecord, jobRecord } from '../helpers/records.js';

/** A queued job of `owner`, keyed by `requestId` when given. */
export const job = (owner = 'alice', requestId?: string) =>
  jobRecord({ owner, ...(requestId !== undefined ? { requestId } : {}) });
/** A pending goal of `owner`, keyed by `requestId` when given. */
const goal = (owner = 'alice', requestId?: string, o: Partial<Goal> = {}) =>
  goalRecord({ owner, ...(requestId !== undefined ? { requestId } : {}), ...o });

export type Closable = WorkStore & { close(): Promise<void> };
export interface Backend {
  open(): Promise<Closable>;
  caughtUp(s: Closable): Promise<void>;
}

let fseq = 0;
/** A feedback record of `owner`, keyed by `idempotencyKey` when given. */
function feedback(owner = 'alice', idempotencyKey?: string, o: Partial<Feedback> = {}): Feedback {
  const at = Date.now();
  // Time-ordered ids, as the Feedback actor makes them.
  return {
    id: `fb-${at.toString(36).padStart(10, '0')}-${String(++fseq).padStart(6, '0')}`,
    kind: 'preference',
    owner,
    at,
    model: 'm',
    prompt: 'p',
    chosen: 'c',
    rejected: 'r',
    rating: 0,
    requestId: '',
    comment: '',
    ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
    ...o,
  };
}

export function workStoreContract(t: Test, backend: Backend): void {
  const opened = async (t: Test) => {
    const s = await backend.open();
    t.teardown(() => s.close());
    return s;
  };

  t.test('a submit is read back; the same key returns the first job, also when submitted at once', async (t) => {
    const s = await opened(t);
    const j = job();
    t.same(await s.submitJob(j), { job: j, created: true });
    t.same(s.getJob(j.id), j);
    t.ok(s.listJobs().some((x) => x.id === j.id));
    t.match(s.activeJobs().get(j.id), { state: 'queued', priority: 0 });

    const keyed = job('alice', 'req-1');
    t.equal((await s.submitJob(keyed)).created, true);
    const again = await s.submitJob(job('alice', 'req-1'));
    t.same(again, { job: keyed, created: false }, 'the first job, nothing stored');
    t.equal((await s.submitJob(job('bob', 'req-1'))).created, true, 'keys are per owner');
    t.same(s.jobByRequestId('alice', 'req-1'), keyed);

    const other = await opened(t);
    const racing = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? s : other).submitJob(job('carol', 'req-race'))),
    );
    t.equal(racing.filter((r) => r.created).length, 1, 'ten concurrent submits of one key from two processes: one job');
    t.equal(new Set(racing.map((r) => r.job.id)).size, 1, 'all answered with it');
  });

  t.test('updates see the committed record; a terminal job is never changed', async (t) => {
    const s = await opened(t);
    const other = await opened(t);
    const j = job();
    await s.submitJob(j);
    await backend.caughtUp(other);
    // Two processes increment a counter kept in the record, concurrently: no update is lost.
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? s : other).updateJob(j.id, (cur) => ({ ...cur, attempts: cur.attempts + 1 })),
      ),
    );
    await backend.caughtUp(s);
    t.equal(s.getJob(j.id)!.attempts, 20, 'each change saw the one before it');
    t.equal(await s.updateJob(j.id, () => null), null, 'null leaves it');
    const done = await s.updateJob(j.id, (cur) => ({ ...cur, state: 'succeeded', endedAt: Date.now() }));
    t.equal(done?.state, 'succeeded');
    t.notOk(s.activeJobs().has(j.id), 'no longer active');
    let called = false;
    const refused = await other.updateJob(j.id, (cur) => {
      called = true;
      return { ...cur, state: 'queued' };
    });
    t.equal(refused, null);
    t.notOk(called, 'the change is not even asked for a terminal job');
    t.equal(await s.updateJob('job-missing', (cur) => cur), null, 'an unknown id changes nothing');
  });

  t.test("a reader of job changes gets the other process's, in order, once each, not its own", async (t) => {
    const reader = await opened(t);
    const writer = await opened(t);
    reader.noteOwnWrites();
    let seq = reader.lastEventSeq();
    const mine = job('reader');
    await reader.submitJob(mine);
    const theirs = Array.from({ length: 5 }, () => job('writer'));
    for (const j of theirs) await writer.submitJob(j);
    await writer.updateJob(theirs[0]!.id, (cur) => ({ ...cur, priority: 7 }));
    await backend.caughtUp(reader);
    const got = reader.jobChangesSince(seq);
    seq = got.seq;
    const ids = got.jobs.map((j) => j.id);
    t.notOk(ids.includes(mine.id), 'not its own');
    t.same(
      [...new Set(ids)],
      theirs.map((j) => j.id),
      'every one of the other writer, in commit order',
    );
    t.equal(got.jobs.filter((j) => j.id === theirs[0]!.id).at(-1)!.priority, 7, 'the last version last');
    t.same(reader.jobChangesSince(seq).jobs, [], 'nothing twice');
    t.equal(reader.getJob(theirs[4]!.id)?.id, theirs[4]!.id, 'and reads see them');
  });

  t.test('goals: created, updated, history in order; an ended goal is never changed', async (t) => {
    const s = await opened(t);
    const g = goal();
    await s.createGoal(g);
    t.same(s.getGoal(g.id), g);
    await s.updateGoal(g.id, (cur) => ({ ...cur, priority: 3, updatedAt: cur.updatedAt + 1 }));
    await s.updateGoal(g.id, (cur) => ({ ...cur, state: 'achieved', reason: 'done', endedAt: 1 }));
    const other = await opened(t);
    await backend.caughtUp(other);
    t.equal(await other.updateGoal(g.id, (cur) => ({ ...cur, state: 'pending' })), null, 'ended: refused');
    t.same(
      other.goalHistory(g.id).map((v) => [v.priority, v.state]),
      [
        [0, 'pending'],
        [3, 'pending'],
        [3, 'achieved'],
      ],
      'every committed version, oldest first, in another process too',
    );
    t.ok(other.listGoals().some((x) => x.id === g.id && x.state === 'achieved'));
  });

  t.test('feedback: recorded, counted, listed in recording order by every process', async (t) => {
    const s = await opened(t);
    const before = s.feedbackCount();
    const written: Feedback[] = [];
    for (let i = 0; i < 5; i++) written.push((await s.recordFeedback(feedback())).feedback);
    t.equal(s.feedbackCount(), before + 5);
    const other = await opened(t);
    await backend.caughtUp(other);
    t.same(other.listFeedback().slice(-5), written);
  });

  t.test(
    'a keyed goal or feedback is stored once: the same key returns the first, also when written at once',
    async (t) => {
      const s = await opened(t);
      const other = await opened(t);

      const g = goal('alice', 'g-1');
      t.same(await s.createGoal(g), { goal: g, created: true });
      const otherGoal = goal('alice', 'g-1', { title: 'another request' });
      t.same(
        await s.createGoal(otherGoal),
        { goal: g, created: false },
        'another request under the key: the first goal',
      );
      t.equal(s.getGoal(otherGoal.id), undefined, 'and nothing of it stored');
      t.equal((await s.createGoal(goal('bob', 'g-1'))).created, true, 'keys are per owner');
      const updated = await s.updateGoal(g.id, (cur) => ({ ...cur, priority: 5 }));
      t.same(s.goalByRequestId('alice', 'g-1'), updated, 'a lookup gives the goal as it is now');
      await backend.caughtUp(other);
      t.same(other.goalByRequestId('alice', 'g-1'), updated, 'in another process too');
      t.same(await other.createGoal(goal('alice', 'g-1')), { goal: updated, created: false }, 'which creates nothing');

      const f = feedback('alice', 'f-1');
      t.same(await s.recordFeedback(f), { feedback: f, created: true });
      const before = s.feedbackCount();
      const otherFeedback = feedback('alice', 'f-1', { chosen: 'another answer' });
      t.same(await s.recordFeedback(otherFeedback), { feedback: f, created: false }, 'the first record');
      t.equal(s.feedbackCount(), before, 'nothing of the second stored');
      t.equal((await s.recordFeedback(feedback('bob', 'f-1'))).created, true, 'keys are per owner');
      await backend.caughtUp(other);
      t.same(other.feedbackByKey('alice', 'f-1'), f, 'another process finds it by its key');

      const goals = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? s : other).createGoal(goal('carol', 'g-race'))),
      );
      t.equal(
        goals.filter((r) => r.created).length,
        1,
        'ten concurrent creations of one key from two processes: one goal',
      );
      t.equal(new Set(goals.map((r) => r.goal.id)).size, 1, 'all answered with it');
      const records = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? s : other).recordFeedback(feedback('carol', 'f-race'))),
      );
      t.equal(records.filter((r) => r.created).length, 1, 'ten concurrent records of one key from two processes: one');
      t.equal(new Set(records.map((r) => r.feedback.id)).size, 1, 'all answered with it');
      await backend.caughtUp(s);
      t.equal(s.listFeedback().filter((x) => x.owner === 'carol').length, 1, 'one record in the store');
    },
  );

  t.test('everything acknowledged is there when the store is opened again', async (t) => {
    const s = await backend.open();
    const j = await s.submitJob(job('durable', 'k'));
    const g = goal();
    await s.createGoal(g);
    const { feedback: f } = await s.recordFeedback(feedback());
    const kg = goal('durable', 'k');
    await s.createGoal(kg);
    const { feedback: kf } = await s.recordFeedback(feedback('durable', 'k'));
    await s.close();
    const again = await opened(t);
    t.same(again.getJob(j.job.id), j.job);
    t.same(again.getGoal(g.id), g);
    t.ok(again.listFeedback().some((x) => x.id === f.id));
    t.same(again.jobByRequestId('durable', 'k'), j.job);
    t.same(again.goalByRequestId('durable', 'k'), kg);
    t.same(again.feedbackByKey('durable', 'k'), kf);
  });
}
