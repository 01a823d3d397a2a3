/** The WorkStore contract on LMDB (the embedded default): two Store objects on one data directory are two processes. */
import t from 'tap';
import { Store } from '../../src/store/store.js';
import { workStoreContract } from './work-store-contract.js';

const dir = t.testdir();
workStoreContract(t, {
  open: async () => Store.open(dir),
  caughtUp: async () => {},
});
