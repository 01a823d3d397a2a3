/**
 * The Goals actor with a real store and a real LocalActor: goals follow the jobs they link (through a jobs watch),
 * their deadlines, cancel and update; an ended goal never changes again; goals and their history survive reopening
 * the store, and a goal whose job ended while the actor was down catches up when it starts.
 */
import t from 'tap';
import { Goals, type GoalsMessages } from '../../actors/goals/goals.js';
import type { CreateGoalRequest, Goal, UpdateGoalRequest } from '../../schemas/goals.js';
import type { Job, JobState } from '../../schemas/jobs.js';
import { MocError } from '../../src/errors.js';
import { LocalActor } from '../../src/kernel/local-actor.js';
import { jobRecord as newJob } from '../helpers/records.js';
import { Store } from '../../src/store/store.js';

/** A jobs source as the Jobs actor is one: watch(listener) → unsubscribe. */
class FakeJobs {
  private readonly listeners = new Set<(j: Job) => void>();
  watch(l: (j: Job) => void): () => void {
    this.listeners.add(l);
    return () => {
      this.listeners.delete(l);
    };
  }
  emit(j: Job): void {
    for (const l of this.listeners) l(j);
  }
  get listening(): number {
    return this.listeners.size;
  }
}

interface Harness {
  store: Store;
  jobs: FakeJobs;
  goals: Goals;
  actor: LocalActor<GoalsMessages>;
  changes: Goal[];
  ask<K extends keyof GoalsMessages & ('create' | 'get' | 'list' | 'update' | 'cancel' | 'history')>(
    msg: GoalsMessages[K]['req'] & { kind: K },
  ): Promise<GoalsMessages[K]['reply']>;
  create(r: CreateGoalRequest): Promise<Goal>;
  update(r: UpdateGoalRequest): Promise<Goal>;
  submit(): Promise<Job>;
  /** Change a job in the store and tell the goals, as the Jobs actor does. */
  move(id: string, state: JobState, metrics?: Record<string, number>): Promise<Job>;
  until(id: string, pred: (g: Goal) => boolean, what: string): Promise<Goal>;
  close(): Promise<void>;
}

function start(dir: string, store = Store.open(dir)): Harness {
  const jobs = new FakeJobs();
  const goals = new Goals(store, jobs);
  const actor = new LocalActor<GoalsMessages>('goals', goals, { capacity: 64 });
  const changes: Goal[] = [];
  goals.watch((g) => changes.push(g));
  const ask = ((msg: any) => actor.ask(msg, { timeoutMs: 5000 })) as Harness['ask'];
  const h: Harness = {
    store,
    jobs,
    goals,
    actor,
    changes,
    ask,
    create: (request) => ask({ kind: 'create', request, owner: 'alice' }),
    update: (request) => ask({ kind: 'update', request }),
    submit: async () => (await store.submitJob(newJob())).job,
    move: async (id, state, metrics) => {
      const now = Date.now();
      const ended = ['succeeded', 'failed', 'cancelled'].includes(state);
      const j = await store.updateJob(id, (cur) => ({
        ...cur,
        state,
        updatedAt: now,
        ...(state === 'running' ? { startedAt: now, attempts: cur.attempts + 1 } : {}),
        ...(ended ? { endedAt: now } : {}),
        ...(metrics ? { outputs: { ...cur.outputs, metrics } } : {}),
      }));
      if (!j) throw new Error(`job ${id} did not change`);
      jobs.emit(j);
      return j;
    },
    until: async (id, pred, what) => {
      const end = Date.now() + 5000;
      for (;;) {
        const g = store.getGoal(id);
        if (g && pred(g)) return g;
        if (Date.now() > end)
          throw new Error(`timed out waiting for goal ${id}: ${what} (now ${g?.state}: ${g?.reason})`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    // As the coordinator closes it: writes in flight end before the store closes.
    close: async () => {
      await actor.ask({ kind: 'shutdown' }, { timeoutMs: 5000 });
      await actor.close();
      await store.close();
    },
  };
  return h;
}

const settle = () => new Promise((r) => setTimeout(r, 50));
const ppl = (value: number) => ({ metric: 'perplexity', op: 'lte' as const, value });

t.test('a goal with a criterion: pending → active → achieved by the job that met it, then never changes', async (t) => {
  const h = start(t.testdir());
  t.teardown(() => h.close());
  const g0 = await h.create({ title: 'ppl under 20', criterion: ppl(20), priority: 5 });
  t.match(g0.id, /^goal-[0-9a-z]+-[0-9a-f]{12}$/);
  t.match(g0, {
    state: 'pending',
    reason: 'no jobs linked yet',
    owner: 'alice',
    priority: 5,
    jobs: [],
    deadlineMs: 0,
    endedAt: 0,
  });
  t.same(h.store.getGoal(g0.id), g0, 'acknowledged once stored');
  t.same(await h.ask({ kind: 'get', id: g0.id }), g0);

  const job = await h.submit();
  const g1 = await h.update({ id: g0.id, link_jobs: [job.id] });
  t.match(
    g1,
    { state: 'active', jobs: [job.id], reason: `under way: ${job.id} queued` },
    'linking a queued job makes it active',
  );

  await h.move(job.id, 'running');
  const g2 = await h.until(g0.id, (g) => g.reason.includes('running'), 'running');
  t.equal(g2.state, 'active');

  await h.move(job.id, 'succeeded', { perplexity: 12.5 });
  const g3 = await h.until(g0.id, (g) => g.state === 'achieved', 'achieved');
  t.same(g3.achievedBy, { job: job.id, metric: 'perplexity', value: 12.5 });
  t.equal(g3.reason, `job ${job.id} met perplexity ≤ 20 with perplexity 12.5`);
  t.ok(g3.endedAt > 0);
  // Watchers are told once the write has committed, which a read of the store can see a moment before.
  for (const end = Date.now() + 5000; !h.changes.some((g) => g.state === 'achieved') && Date.now() < end; )
    await new Promise((r) => setTimeout(r, 5));
  t.same(
    h.changes.map((g) => g.state),
    ['pending', 'active', 'active', 'achieved'],
    'watchers saw each version',
  );

  // Nothing changes it now.
  const other = await h.submit();
  await t.rejects(
    h.update({ id: g0.id, title: 'changed', link_jobs: [other.id] }),
    { code: 'MOC_ERR_GOAL_ENDED', message: /has ended \(achieved\)/ },
    'update of an achieved goal is refused: it never changes',
  );
  t.same(h.store.getGoal(g0.id), g3, 'and stays as it was');
  t.same(await h.ask({ kind: 'cancel', id: g0.id }), g3, 'cancel of an achieved goal answers it as it is');
  h.jobs.emit({ ...job, state: 'failed' });
  await settle();
  t.same(h.store.getGoal(g0.id), g3, 'a later job change does not touch it');
  const history = await h.ask({ kind: 'history', id: g0.id });
  t.same(
    history.map((g) => g.state),
    ['pending', 'active', 'active', 'achieved'],
    'history: every version, oldest first',
  );
  t.same(history.at(-1), g3);
});

t.test('a metric that misses: failed once every linked job has ended, the reason names them', async (t) => {
  const h = start(t.testdir());
  t.teardown(() => h.close());
  const a = await h.submit();
  const b = await h.submit();
  const g = await h.create({ title: 'two tries', criterion: ppl(20), jobs: [a.id, b.id, a.id] });
  t.same(g.jobs, [a.id, b.id], 'linked once each');
  t.equal(g.state, 'active');
  await h.move(a.id, 'running');
  await h.move(a.id, 'succeeded', { perplexity: 31 });
  await settle();
  t.equal(h.store.getGoal(g.id)!.state, 'active', 'one miss while another job is still queued: still active');
  await h.move(b.id, 'running');
  await h.move(b.id, 'failed');
  const failed = await h.until(g.id, (x) => x.state === 'failed', 'failed');
  t.equal(
    failed.reason,
    `all 2 linked jobs ended without meeting perplexity ≤ 20 (${a.id} perplexity 31, ${b.id} failed)`,
  );
  t.notOk(failed.achievedBy);
  t.same(await h.ask({ kind: 'cancel', id: g.id }), failed, 'a failed goal is not cancelled over');
});

t.test('a deadline that passes fails the goal; a deadline in the past is refused', async (t) => {
  const h = start(t.testdir());
  t.teardown(() => h.close());
  const job = await h.submit();
  await h.move(job.id, 'running');
  const deadline = Date.now() + 300;
  const g = await h.create({ title: 'soon', criterion: ppl(20), jobs: [job.id], deadline_ms: deadline });
  t.equal(g.state, 'active');
  t.equal(g.deadlineMs, deadline);
  const failed = await h.until(g.id, (x) => x.state === 'failed', 'failed at the deadline');
  t.ok(Date.now() >= deadline, 'not before the deadline');
  t.equal(
    failed.reason,
    `the deadline ${new Date(deadline).toISOString()} passed before a linked job met perplexity ≤ 20`,
  );
  // The job succeeding afterwards changes nothing.
  await h.move(job.id, 'succeeded', { perplexity: 1 });
  await settle();
  t.same(h.store.getGoal(g.id), failed);

  await t.rejects(h.create({ title: 'past', deadline_ms: Date.now() - 1000 }), {
    code: 'MOC_ERR_INVALID_ARGUMENT',
    message: /deadline_ms/,
  });
  const later = await h.create({ title: 'later' });
  await t.rejects(h.update({ id: later.id, deadline_ms: 5 }), {
    code: 'MOC_ERR_INVALID_ARGUMENT',
    message: /deadline_ms/,
  });
  t.equal(h.store.getGoal(later.id)!.deadlineMs, 0, 'nothing written');
});

t.test('a deadline beyond setTimeout range is capped: no overflow warning, the goal waits', async (t) => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on('warning', onWarning);
  t.teardown(() => {
    process.off('warning', onWarning);
  });
  const h = start(t.testdir());
  t.teardown(() => h.close());
  const g = await h.create({ title: 'next year', deadline_ms: Date.now() + 365 * 86_400_000 });
  await settle();
  t.equal(h.store.getGoal(g.id)!.state, 'pending');
  t.notOk(warnings.includes('TimeoutOverflowWarning'), 'no TimeoutOverflowWarning');
  // Moving the deadline re-arms the one timer.
  const soon = Date.now() + 100;
  await h.update({ id: g.id, deadline_ms: soon });
  const failed = await h.until(g.id, (x) => x.state === 'failed', 'failed at the new deadline');
  t.match(failed.reason, /passed before any job was linked/);
});

t.test('cancel: cancelled at once, and cancelling again answers the same goal', async (t) => {
  const h = start(t.testdir());
  t.teardown(() => h.close());
  const job = await h.submit();
  const g = await h.create({ title: 'stop me', jobs: [job.id], deadline_ms: Date.now() + 100 });
  const c1 = await h.ask({ kind: 'cancel', id: g.id });
  t.match(c1, { state: 'cancelled', reason: 'cancelled' });
  t.ok(c1.endedAt > 0);
  const c2 = await h.ask({ kind: 'cancel', id: g.id });
  t.same(c2, c1, 'the same goal, not a new version');
  await new Promise((r) => setTimeout(r, 150)); // past the deadline: the timer is gone or finds it ended
  await h.move(job.id, 'running');
  await h.move(job.id, 'succeeded');
  await settle();
  t.same(h.store.getGoal(g.id), c1, 'neither deadline nor job changes a cancelled goal');
  t.same(
    (await h.ask({ kind: 'history', id: g.id })).map((x) => x.state),
    ['active', 'cancelled'],
  );
  t.equal(h.store.getJob(job.id)!.state, 'succeeded', 'the job was left alone');
});

t.test('update: links and unlinks jobs, changes fields, re-derives; a no-op writes no version', async (t) => {
  const h = start(t.testdir());
  t.teardown(() => h.close());
  const a = await h.submit();
  const b = await h.submit();
  const g = await h.create({ title: 'all succeed' });
  const linked = await h.update({
    id: g.id,
    link_jobs: [a.id, b.id],
    title: 'both succeed',
    description: 'd',
    priority: 3,
  });
  t.match(linked, { state: 'active', jobs: [a.id, b.id], title: 'both succeed', description: 'd', priority: 3 });
  await h.move(a.id, 'running');
  await h.move(a.id, 'succeeded');
  await settle();
  t.equal(h.store.getGoal(g.id)!.state, 'active', 'b is still queued');
  const unlinked = await h.update({ id: g.id, unlink_jobs: [b.id] });
  t.match(
    unlinked,
    { state: 'achieved', jobs: [a.id], reason: `linked job ${a.id} succeeded` },
    'unlinking the waiting job achieves it',
  );
  t.notOk(unlinked.achievedBy, 'no criterion, no achievedBy');

  const g2 = await h.create({ title: 'noop' });
  const before = (await h.ask({ kind: 'history', id: g2.id })).length;
  t.same(await h.update({ id: g2.id, title: 'noop' }), g2, 'same fields: answered as it is');
  t.equal((await h.ask({ kind: 'history', id: g2.id })).length, before, 'no new version');
  // A job unlinked is no longer followed.
  const c = await h.submit();
  await h.update({ id: g2.id, link_jobs: [c.id] });
  await h.update({ id: g2.id, unlink_jobs: [c.id] });
  await h.move(c.id, 'running');
  await settle();
  t.match(h.store.getGoal(g2.id), { state: 'pending', jobs: [] });
});

t.test('refusals: unknown job ids, unknown goals', async (t) => {
  const h = start(t.testdir());
  t.teardown(() => h.close());
  const a = await h.submit();
  const err = await h.create({ title: 'x', jobs: [a.id, 'job-nope'] }).then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(err instanceof MocError, 'a coded error');
  t.match(
    err,
    { code: 'MOC_ERR_INVALID_ARGUMENT', message: /'job-nope'/, details: { field: 'jobs[1]' } },
    'names the id and its place',
  );
  t.same(h.store.listGoals(), [], 'nothing stored');
  const g = await h.create({ title: 'y' });
  await t.rejects(h.update({ id: g.id, link_jobs: ['job-gone'] }), {
    code: 'MOC_ERR_INVALID_ARGUMENT',
    message: /'job-gone'/,
  });
  t.same(h.store.getGoal(g.id)!.jobs, []);
  // Unknown goal: INVALID_ARGUMENT until src/errors.ts has goalNotFound (MOC_ERR_GOAL_NOT_FOUND); the message holds either way.
  for (const msg of [
    { kind: 'get', id: 'goal-nope' },
    { kind: 'cancel', id: 'goal-nope' },
    { kind: 'history', id: 'goal-nope' },
  ] as const) {
    await t.rejects(h.ask(msg), { message: /goal 'goal-nope' does not exist/ }, msg.kind);
  }
  await t.rejects(h.update({ id: 'goal-nope', title: 'z' }), { message: /goal 'goal-nope' does not exist/ });
});

t.test('list: priority (highest first), then oldest first; filter by state; limit', async (t) => {
  const h = start(t.testdir());
  t.teardown(() => h.close());
  const made: Goal[] = [];
  for (const [title, priority] of [
    ['low-1', -1],
    ['mid-1', 0],
    ['high-1', 7],
    ['mid-2', 0],
    ['high-2', 7],
    ['mid-3', undefined],
  ] as const) {
    made.push(await h.create({ title, ...(priority !== undefined ? { priority } : {}) }));
    await new Promise((r) => setTimeout(r, 2)); // distinct createdAt
  }
  const titles = (gs: Goal[]) => gs.map((g) => g.title);
  t.same(titles(await h.ask({ kind: 'list', request: {} })), ['high-1', 'high-2', 'mid-1', 'mid-2', 'mid-3', 'low-1']);
  t.same(titles(await h.ask({ kind: 'list', request: { limit: 2 } })), ['high-1', 'high-2']);
  await h.ask({ kind: 'cancel', id: made[1]!.id });
  await h.ask({ kind: 'cancel', id: made[0]!.id });
  t.same(titles(await h.ask({ kind: 'list', request: { state: 'cancelled' } })), ['mid-1', 'low-1']);
  t.same(titles(await h.ask({ kind: 'list', request: { state: 'pending', limit: 3 } })), ['high-1', 'high-2', 'mid-2']);
  t.same(await h.ask({ kind: 'list', request: { state: 'achieved' } }), []);
});

t.test('goals survive reopening the store; the index is rebuilt and missed job ends are caught up', async (t) => {
  const dir = t.testdir();
  let h = start(dir);
  const a = await h.submit();
  const b = await h.submit();
  const followed = await h.create({ title: 'followed', criterion: ppl(10), jobs: [a.id] });
  const missed = await h.create({ title: 'missed', jobs: [b.id] });
  const cancelled = await h.ask({ kind: 'cancel', id: (await h.create({ title: 'cancelled' })).id });
  const deadline = Date.now() + 400;
  const timed = await h.create({ title: 'timed', deadline_ms: deadline });
  await h.move(a.id, 'running');
  await h.until(followed.id, (g) => g.reason.includes('running'), 'running');
  const listed = await h.ask({ kind: 'list', request: {} });
  await h.close();
  t.equal(h.jobs.listening, 0, 'stop unsubscribed from the jobs');

  // While no Goals actor runs, job b ends.
  {
    const store = Store.open(dir);
    const now = Date.now();
    await store.updateJob(b.id, (j) => ({ ...j, state: 'succeeded', endedAt: now, updatedAt: now }));
    await store.close();
  }

  h = start(dir);
  t.teardown(() => h.close());
  t.equal(h.jobs.listening, 1, 'bind subscribed to the jobs');
  const after = await h.ask({ kind: 'list', request: {} });
  t.same(
    after.map((g) => g.id),
    listed.map((g) => g.id),
    'the same goals, in the same order',
  );
  t.same(await h.ask({ kind: 'get', id: cancelled.id }), cancelled);
  const caughtUp = await h.until(missed.id, (g) => g.state === 'achieved', 'caught up at start');
  t.equal(caughtUp.reason, `linked job ${b.id} succeeded`);
  // The job index came back from the store: a job change reaches the goal.
  await h.move(a.id, 'succeeded', { perplexity: 9 });
  const achieved = await h.until(followed.id, (g) => g.state === 'achieved', 'achieved after reopening');
  t.same(achieved.achievedBy, { job: a.id, metric: 'perplexity', value: 9 });
  t.same(
    (await h.ask({ kind: 'history', id: followed.id })).map((g) => g.state),
    ['active', 'active', 'achieved'],
    'history spans both runs',
  );
  // The deadline timer came back too.
  const failed = await h.until(timed.id, (g) => g.state === 'failed', 'deadline after reopening');
  t.ok(failed.updatedAt >= deadline);
});

t.test('shutdown answers after the writes in flight and stops following jobs', async (t) => {
  const h = start(t.testdir());
  const job = await h.submit();
  const g = await h.create({ title: 'in flight', jobs: [job.id] });
  const order: string[] = [];
  const cancelled = h.ask({ kind: 'cancel', id: g.id }).then((x) => {
    order.push('cancel');
    return x;
  });
  const stopped = h.actor.ask({ kind: 'shutdown' }, { timeoutMs: 5000 }).then(() => order.push('shutdown'));
  await Promise.all([cancelled, stopped]);
  t.same(order, ['cancel', 'shutdown'], 'the cancel was written and answered first');
  t.equal((await cancelled).state, 'cancelled');
  t.equal(h.jobs.listening, 0, 'no longer watching the jobs');
  await h.actor.close();
  await h.store.close();
});
