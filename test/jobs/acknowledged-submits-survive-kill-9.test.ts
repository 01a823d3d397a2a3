/**
 * Acknowledged means durable: a coordinator process is killed with SIGKILL while clients submit jobs, create goals and
 * record feedback, over and over on one data directory; after each kill every acknowledged write is in the store, and
 * at the end the event log replays into a fresh store with an equal checksum (every table: jobs, goals, feedback…).
 */
import t from 'tap';
import type * as grpc from '@grpc/grpc-js';
import path from 'node:path';
import { spawnServer } from '../../perf/lib/spawn-server.js';
import { modelOpsClient } from '../../src/transports/grpc/proto.js';
import { Store } from '../../src/store/store.js';
import { replay } from '../../src/store/replay.js';
import { writeTinyLlamaGguf } from '../../src/model/demo-model.js';

const ROUNDS = Number(process.env.MOC_KILL_ROUNDS ?? 20);
const PER_ROUND = 60;
const CONCURRENCY = 16;

t.test(
  `kill -9 during writes, ${ROUNDS} rounds: every acknowledged job, goal and feedback survives; the log replays to an equal store`,
  async (t) => {
    const dir = t.testdir();
    const yaml = [
      'server: { grpcPort: 0 }',
      'rest: { enabled: false }',
      'zmq: { enabled: false }',
      `dataDir: ${path.join(dir, 'data')}`,
      `modelsRoot: ${path.join(dir, 'models')}`,
      // A model that is not preloaded: each restart is the engine's start only (20 restarts).
      'models: [{ name: moc-demo, path: moc-demo.gguf, preload: false }]',
      // The jobs also run (and fail: no such dataset), so state changes are being written at the kill as well.
      'jobs: { parallelism: 2, pollMs: 50 }',
    ].join('\n');
    await writeTinyLlamaGguf(path.join(dir, 'models', 'moc-demo.gguf'));
    const acknowledged: string[] = [];
    let refusedOrCut = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const server = await spawnServer({ yaml });
      const client = modelOpsClient(server.grpcAddress);
      let sent = 0;
      let killed = false;
      const ackedThisRound: string[] = [];
      const worker = async () => {
        while (!killed) {
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
            client[method](req, { deadline: Date.now() + 10_000 }, (err: grpc.ServiceError | null, res: any) =>
              resolve(err ? null : res),
            ),
          );
          if (ack) {
            acknowledged.push(`${table}:${ack.id}`);
            ackedThisRound.push(ack.id);
          } else refusedOrCut++;
          // Kill while submits are still in flight: the ones not answered yet may or may not be stored.
          if (!killed && ackedThisRound.length >= PER_ROUND) {
            killed = true;
            server.proc.kill('SIGKILL');
          }
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      await server.exited;
      client.close();
      await server.stop();
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
      acknowledged.length >= ROUNDS * PER_ROUND,
      `${acknowledged.length} acknowledged job, goal and feedback writes over ${ROUNDS} kills, none lost (${refusedOrCut} cut by the kill)`,
    );
    const r = await replay(path.join(dir, 'data'), path.join(dir, 'replayed'));
    t.ok(r.events > acknowledged.length, `${r.events} events replayed`);
    t.equal(r.rebuilt, r.source, 'the rebuilt store has the same checksum as the original');
  },
);
