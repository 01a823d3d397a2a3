/**
 * The event log's sequence numbers stay contiguous and no event is overwritten when two writers append to one data
 * directory (each Store remembers the last number it appended as a hint; another writer's appends make the hint
 * stale, and the append must notice inside its transaction). Two Store objects here, as two processes would be.
 * And a reader that notes its own writes (noteOwnWrites) reads back exactly the other writer's (jobChangesSince).
 */
import t from 'tap';
import { Store } from '../../src/store/store.js';
import { jobRecord } from '../helpers/records.js';

const job = (owner: string) => jobRecord({ owner });

t.test(
  "two writers interleaving: every event kept, numbers contiguous; a reader of its own log sees only the other's",
  async (t) => {
    const dir = t.testdir();
    const a = Store.open(dir);
    const b = Store.open(dir);
    a.noteOwnWrites(); // from now on a's log reads leave out a's own writes
    const written: string[] = [];
    for (let round = 0; round < 50; round++) {
      // Concurrent within a round (one lmdb-js batch each side), alternating sides between rounds.
      const batch = [...Array((round % 5) + 1)].map(() => job(round % 2 ? 'a' : 'b'));
      const writer = round % 2 ? a : b;
      await Promise.all(batch.map((j) => writer.submitJob(j)));
      written.push(...batch.map((j) => j.id));
      if (round % 7 === 0)
        await Promise.all([
          a.submitJob(job('a')).then((r) => written.push(r.job.id)),
          b.submitJob(job('b')).then((r) => written.push(r.job.id)),
        ]);
    }
    const events = a.readEvents();
    t.same(
      events.map((e) => e.seq),
      events.map((_, i) => i + 1),
      'sequence numbers 1..n, no gap',
    );
    const ids = events.map((e) => (e.event.type === 'job.submitted' ? e.event.job.id : ''));
    t.equal(new Set(ids).size, written.length, 'one event per write: none overwritten');
    t.same([...ids].sort(), [...written].sort(), 'exactly the writes');
    const seen = a.jobChangesSince(0);
    t.ok(
      seen.jobs.length > 0 && seen.jobs.every((j) => j.owner === 'b'),
      "a reader skipping its own events sees only the other writer's",
    );
    t.equal(
      seen.jobs.length,
      written.length - events.filter((e) => e.event.type === 'job.submitted' && e.event.job.owner === 'a').length,
    );
    await a.close();
    await b.close();
  },
);
