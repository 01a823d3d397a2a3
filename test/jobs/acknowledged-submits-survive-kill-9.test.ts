/**
 * Acknowledged means durable: a coordinator process is killed with SIGKILL while clients submit jobs, create goals and
 * record feedback on one data directory, and started again on it; after each kill every acknowledged write is in the
 * store, and at the end the event log replays into a fresh store with an equal checksum (every table: jobs, goals,
 * feedback…).
 *
 * Each kill comes at a random point: after a random number of acknowledged writes (1 to 150) and a random extra delay
 * (0 to 30 ms), with 16 writes in flight — mid-commit, mid-batch, between a commit and its answer. A few such kills
 * cover the moments twenty kills at one fixed point did, at a fifth of the cost (each round is a server start under
 * tsx). MOC_KILL_ROUNDS=N runs more (a soak); MOC_KILL_SEED=S replays a failing run's kill points (the seed is in the
 * test's name).
 */
import t from 'tap';
import type * as grpc from '@grpc/grpc-js';
import path from 'node:path';
import { spawnServer } from '../../perf/lib/spawn-server.js';
import { modelOpsClient } from '../../src/transports/grpc/proto.js';
import { Store } from '../../src/store/store.js';
import { replay } from '../../src/store/replay.js';
import { writeTinyLlamaGguf } from '../../src/model/demo-model.js';
import { untrackChildren } from '../helpers/untracked-children.js';

untrackChildren(); // its servers and their engines: no tap hook on each module they load

const ROUNDS = Number(process.env.MOC_KILL_ROUNDS ?? 4);
const CONCURRENCY = 16;
const SEED = Number(process.env.MOC_KILL_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** mulberry32: a seeded PRNG, so a failing run's kill points can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}

t.test(
  `kill -9 during writes at random points, ${ROUNDS} rounds (seed ${SEED}): every acknowledged job, goal and feedback survives; the log replays to an equal store`,
  async (t) => {
    const dir = t.testdir();
    const yaml = [
      'server: { grpcPort: 0 }',
      'rest: { enabled: false }',
      'zmq: { enabled: false }',
      `dataDir: ${path.join(dir, 'data')}`,
      `modelsRoot: ${path.join(dir, 'models')}`,
      // A model that is not preloaded: each restart is the engine's start only.
      'models: [{ name: moc-demo, path: moc-demo.gguf, preload: false }]',
      // The jobs also run (and fail: no such dataset), so state changes are being written at the kill as well.
      'jobs: { parallelism: 2, pollMs: 50 }',
    ].join('\n');
    await writeTinyLlamaGguf(path.join(dir, 'models', 'moc-demo.gguf'));
    const acknowledged: string[] = [];
    let refusedOrCut = 0;
    let atLeast = 0;
    const random = rng(SEED);
    let server: Awaited<ReturnType<typeof spawnServer>> | undefined;
    // A failed assertion or a throw must not leave this round's server running (its watchdog would stop it when this
    // process exits; this stops it now).
    t.teardown(() => server?.stop('SIGKILL'));
    for (let round = 0; round < ROUNDS; round++) {
      const killAfter = 1 + Math.floor(random() * 150);
      const extraMs = Math.floor(random() * 30);
      atLeast += killAfter;
      server = await spawnServer({ yaml });
      const running = server;
      const client = modelOpsClient(running.grpcAddress);
      let sent = 0;
      let killing = false;
      let killed = false;
      const ackedThisRound: string[] = [];
      // Bounded: a server that died by itself or stopped acknowledging ends the round as a failure, not a spin.
      const roundDeadline = Date.now() + 60_000;
      const writing = () =>
        !killed && running.proc.exitCode === null && running.proc.signalCode === null && Date.now() < roundDeadline;
      const worker = async () => {
        while (writing()) {
          const n = sent++;
          // Jobs, goals and feedback in turn: every kind of acknowledged write.
          const [method, req, table] =
            n % 3 === 0
              ? ([
                  'SubmitJob',
                  {
                    type: 'evaluate',
                    spec_json: JSON.stringify({ model: 'moc-demo', dataset: `r${round}-${n}.jsonl` }),
                    request_id: `r${round}-${n}`,
                  },
                  'jobs',
                ] as const)
              : n % 3 === 1
                ? (['CreateGoal', { title: `goal ${round}-${n}`, priority: n % 7 }, 'goals'] as const)
                : ([
                    'RecordFeedback',
                    { prompt: `p${round}-${n}`, chosen: 'good', rejected: 'bad' },
                    'feedback',
                  ] as const);
          const ack = await new Promise<any>((resolve) =>
            client[method as string](
              req,
              { deadline: Date.now() + 10_000 },
              (err: grpc.ServiceError | null, res: any) => resolve(err ? null : res),
            ),
          );
          if (ack) {
            acknowledged.push(`${table}:${ack.id}`);
            ackedThisRound.push(ack.id);
          } else refusedOrCut++;
          // Kill while submits are still in flight: the ones not answered yet may or may not be stored.
          if (!killing && ackedThisRound.length >= killAfter) {
            killing = true;
            setTimeout(() => {
              running.proc.kill('SIGKILL');
              killed = true;
            }, extraMs);
          }
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      if (!killed) {
        t.fail(
          `round ${round}: waited for ${killAfter} acknowledged writes to kill at, got ${ackedThisRound.length} in 60 s ` +
            `(server ${running.proc.exitCode === null && running.proc.signalCode === null ? 'running' : 'exited by itself'})`,
        );
        break;
      }
      await running.exited;
      client.close();
      await running.stop();
      server = undefined;
      const store = Store.open(path.join(dir, 'data'));
      const present = (key: string) => {
        const [table, id] = key.split(':') as ['jobs' | 'goals' | 'feedback', string];
        return store.tables[table].get(id) !== undefined;
      };
      const missing = acknowledged.filter((k) => !present(k));
      await store.close();
      if (missing.length) {
        t.fail(
          `round ${round}: ${missing.length} acknowledged jobs lost after kill -9 (${missing.slice(0, 3).join(', ')})`,
        );
        break;
      }
    }
    t.ok(
      acknowledged.length >= atLeast,
      `${acknowledged.length} acknowledged job, goal and feedback writes over ${ROUNDS} kills, none lost (${refusedOrCut} cut by the kill)`,
    );
    const r = await replay(path.join(dir, 'data'), path.join(dir, 'replayed'));
    t.ok(r.events > acknowledged.length, `${r.events} events replayed`);
    t.equal(r.rebuilt, r.source, 'the rebuilt store has the same checksum as the original');
  },
);
