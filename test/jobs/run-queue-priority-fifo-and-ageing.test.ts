import t from 'tap';
import { RunQueue, type QueueEntry } from '../../actors/jobs/job-queue.js';

const q = (id: string, priority: number, queuedAt: number, o: Partial<QueueEntry> = {}): QueueEntry => ({
  id,
  state: 'queued',
  priority,
  queuedAt,
  notBefore: 0,
  leaseExpiresAt: 0,
  ...o,
});
const ids = (es: QueueEntry[]) => es.map((e) => e.id);
const AGING = 1000;

t.test('higher priority first, FIFO within a priority', async (t) => {
  const rq = new RunQueue();
  rq.rebuild([q('low1', 0, 1), q('high2', 5, 3), q('low2', 0, 2), q('high1', 5, 2), q('mid', 1, 0)]);
  t.same(ids(rq.take(10, 10, AGING, () => true)), ['high1', 'high2', 'mid', 'low1', 'low2']);
  t.equal(rq.size, 0, 'taken jobs leave the queue');
});

t.test('ageing: a low priority that waited long enough runs before a fresh higher one', async (t) => {
  const rq = new RunQueue();
  const now = 100_000;
  rq.set(q('old-low', 0, now - 10 * AGING)); // effective 10
  rq.set(q('fresh-high', 9, now)); // effective 9
  rq.set(q('fresh-top', 11, now)); // effective 11
  t.same(ids(rq.take(3, now, AGING, () => true)), ['fresh-top', 'old-low', 'fresh-high']);
});

t.test('jobs waiting on a clock are taken only when ready; n bounds a pick', async (t) => {
  const rq = new RunQueue();
  rq.set(q('retry-later', 50, 0, { state: 'retrying', notBefore: 500 }));
  rq.set(q('abandoned', 0, 0, { state: 'running', leaseExpiresAt: 100 }));
  rq.set(q('a', 1, 10));
  rq.set(q('b', 1, 11));
  const ready = (now: number) => (e: QueueEntry) =>
    e.state === 'retrying' ? e.notBefore <= now : e.leaseExpiresAt <= now;
  t.same(ids(rq.take(1, 200, AGING, ready(200))), ['a'], 'n = 1: only the best');
  t.same(ids(rq.take(5, 200, AGING, ready(200))), ['b', 'abandoned'], 'the retry is not due yet');
  t.same(ids(rq.take(5, 600, AGING, ready(600))), ['retry-later'], 'due now');
});

t.test('set moves a job; delete removes it', async (t) => {
  const rq = new RunQueue();
  rq.set(q('x', 0, 1));
  rq.set(q('y', 0, 2));
  rq.set(q('x', 3, 5)); // re-prioritised
  rq.delete('y');
  t.same(ids(rq.take(5, 10, AGING, () => true)), ['x']);
});
