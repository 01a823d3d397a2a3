/**
 * The WorkStore contract on LMDB (the embedded default): two Store objects on one data directory are two processes.
 * Then the event log the contract wrote replays to an equal store: the idempotency keys of jobs, goals and feedback
 * are rebuilt from their records' events (src/store/replay.ts; the checksum covers every table).
 */
import path from 'node:path';
import t from 'tap';
import { replay } from '../../src/store/replay.js';
import { Store } from '../../src/store/store.js';
import { workStoreContract } from './work-store-contract.js';

const dir = t.testdir();
workStoreContract(t, {
  open: async () => Store.open(dir),
  caughtUp: async () => {},
});

t.test("the contract's event log replays to an equal store, keys included", async (t) => {
  const s = Store.open(dir);
  const keys = [...s.tables.goalKeys.getKeys()].length + [...s.tables.feedbackKeys.getKeys()].length;
  await s.close();
  t.ok(keys > 0, `${keys} keys of goals and feedback to rebuild`);
  const r = await replay(dir, path.join(t.testdir(), 'replayed'));
  t.ok(r.equal, `checksums: ${r.source} ${r.rebuilt}`);
});
