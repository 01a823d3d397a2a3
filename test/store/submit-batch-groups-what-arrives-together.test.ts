/**
 * The submit batcher alone (src/store/postgres/submit-batch.ts; the statement it runs is tested against PostgreSQL by
 * the store contract): submits of one turn go in one statement, those arriving while the statement slots are busy go
 * in the next, a failed statement fails exactly its own submits, an id the statement did not insert answers false,
 * and a batch over the cap is split.
 */
import t from 'tap';
import type { Job } from '../../schemas/jobs.js';
import { SubmitBatcher } from '../../src/store/postgres/submit-batch.js';

const job = (id: string) => ({ id }) as Job;

/** A statement runner the test answers by hand: each call waits until `finish(i)`. */
function runner() {
  const calls: { ids: string[]; resolve: (ids: string[]) => void; reject: (e: Error) => void }[] = [];
  const run = (json: string) =>
    new Promise<string[]>((resolve, reject) => {
      calls.push({ ids: (JSON.parse(json) as Job[]).map((j) => j.id), resolve, reject });
    });
  return { calls, run };
}
const turn = () => new Promise((r) => setImmediate(r));

t.test('one turn, one statement; the next waits for a free slot', async (t) => {
  const { calls, run } = runner();
  const b = new SubmitBatcher(run, 1);
  const first = ['a', 'b', 'c'].map((id) => b.submit(job(id)));
  await turn();
  t.same(
    calls.map((c) => c.ids),
    [['a', 'b', 'c']],
  );
  const second = ['d', 'e'].map((id) => b.submit(job(id)));
  await turn();
  t.equal(calls.length, 1, 'the one slot is busy: d and e wait');
  calls[0]!.resolve(['a', 'c']); // b's key was taken
  t.same(await Promise.all(first), [true, false, true]);
  await turn();
  t.same(calls[1]!.ids, ['d', 'e'], 'what waited goes in one statement');
  calls[1]!.reject(new Error('connection lost'));
  for (const p of second) await t.rejects(p, /connection lost/);
});

t.test('two slots: a statement starts while the other runs', async (t) => {
  const { calls, run } = runner();
  const b = new SubmitBatcher(run, 2);
  const x = b.submit(job('x'));
  await turn();
  const y = b.submit(job('y'));
  await turn();
  t.same(
    calls.map((c) => c.ids),
    [['x'], ['y']],
  );
  calls[1]!.resolve(['y']);
  calls[0]!.resolve(['x']);
  t.same(await Promise.all([x, y]), [true, true]);
});

t.test('a batch over the cap is split', async (t) => {
  const { calls, run } = runner();
  const b = new SubmitBatcher(run, 2);
  const all = Array.from({ length: 501 }, (_, i) => b.submit(job(`j${i}`)));
  await turn();
  await turn();
  t.same(
    calls.map((c) => c.ids.length),
    [500, 1],
  );
  for (const c of calls) c.resolve(c.ids);
  t.equal((await Promise.all(all)).filter(Boolean).length, 501);
});

t.test('refuseQueued fails what was not sent, not what is in flight', async (t) => {
  const { calls, run } = runner();
  const b = new SubmitBatcher(run, 1);
  const sent = b.submit(job('sent'));
  await turn();
  const queued = b.submit(job('queued'));
  b.refuseQueued(new Error('closed'));
  await t.rejects(queued, /closed/);
  calls[0]!.resolve(['sent']);
  t.equal(await sent, true);
});
