/**
 * Load/unload cycles of one model while inference runs on it and on another model, against one coordinator started
 * once: only documented errors, every load and unload succeeds, the ledger ends where it started, the engine never
 * dies — and the engine process keeps no file handle per cycle: its open file descriptors after the last cycle are
 * compared with those after a warm-up, so such a leak shows within a hundred cycles instead of needing a thousand
 * (100 after 20 of warm-up: one descriptor kept every 10 cycles fails the check). A cycle costs ~170 ms under the
 * traffic (the cycling model serves 2 requests on its one sequence each cycle, the unload draining them), ~40 ms
 * without it: the cycles are nearly all of this file's time. Its resident memory is reported beside them, not
 * asserted: across four runs of 200 cycles it stayed flat (±30 MiB) in three and grew by 187 MiB in one (tap, two
 * files at a time), with no other sign of a leak — an allocator's step or a leak under a rare interleaving; the
 * closing note of issue 23 says so. MOC_CYCLES=1000 for a soak.
 */
import t from 'tap';
import type * as grpc from '@grpc/grpc-js';
import { readdirSync, readFileSync } from 'node:fs';
import { errorCode, startHarness } from '../helpers/coordinator.js';
import { ERRORS } from '../../src/errors.js';
import { untrackChildren } from '../helpers/untracked-children.js';

untrackChildren(); // its engine: no tap hook on each module it loads

const CYCLES = Number(process.env.MOC_CYCLES ?? 120);
const WARMUP = 20;

/** Open file descriptors and resident bytes of a process (Linux /proc). */
function footprint(pid: number): { fds: number; rss: number } {
  const rssKb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN);
  return { fds: readdirSync(`/proc/${pid}/fd`).length, rss: rssKb * 1024 };
}

t.test(
  `${CYCLES} load/unload cycles of one model under inference load: only documented errors, ledger back to zero`,
  async (t) => {
    const h = await startHarness(t);
    await h.unary('RegisterModel', { name: 'cyc', path: 'moc-demo.gguf', sequences: 1, context_size: 64 });
    const baseline = (await h.unary('GetDevices', {})).devices[0].memory.reserved;

    let stop = false;
    const outcomes: Record<string, number> = {};
    const count = (k: string) => {
      outcomes[k] = (outcomes[k] ?? 0) + 1;
    };
    // Inference on the cycling model (without load on demand) and on the demo model, all the while.
    const traffic = Array.from({ length: 4 }, async (_, i) => {
      while (!stop) {
        const model = i % 2 ? 'cyc' : 'moc-demo';
        const refused = await h
          .unary('Infer', { model, prompt: 'x', max_tokens: 2, temperature: 0, require_loaded: true })
          .then(
            () => {
              count(`${model}:ok`);
              return false;
            },
            (e: grpc.ServiceError) => {
              count(`${model}:${errorCode(e) ?? `grpc ${e.code}`}`);
              return true;
            },
          );
        // A refusal (the model is unloaded between cycles) comes back at once: 2 ms before the next one keeps a
        // request at the door all the while without spending a core on refusals (was ~5,000 of them a run).
        if (refused) await new Promise((r) => setTimeout(r, 2));
      }
    });
    const cycleErrors: Record<string, number> = {};
    const enginePid = (await h.unary('GetDevices', {})).devices[0].engine_pid as number;
    let warm: { fds: number; rss: number } | undefined;
    for (let i = 0; i < CYCLES; i++) {
      if (i === WARMUP) warm = footprint(enginePid);
      for (const method of ['LoadModel', 'UnloadModel']) {
        await h.unary(method, { name: 'cyc' }).catch((e: grpc.ServiceError) => {
          const code = errorCode(e) ?? `grpc ${e.code}`;
          cycleErrors[code] = (cycleErrors[code] ?? 0) + 1;
        });
      }
    }
    const last = footprint(enginePid);
    stop = true;
    await Promise.all(traffic);

    const codes = [
      ...Object.keys(cycleErrors),
      ...Object.keys(outcomes)
        .map((k) => k.split(':')[1]!)
        .filter((c) => c !== 'ok'),
    ];
    t.ok(
      codes.every((c) => c in ERRORS),
      `only documented error codes (${JSON.stringify({ cycleErrors, outcomes })})`,
    );
    t.same(cycleErrors, {}, 'every load and unload succeeded');
    t.equal(
      outcomes['moc-demo:ok'] !== undefined &&
        !Object.keys(outcomes).some((k) => k.startsWith('moc-demo:') && k !== 'moc-demo:ok'),
      true,
      'the other model served throughout',
    );
    t.ok((outcomes['cyc:ok'] ?? 0) > 0, 'the cycling model served between cycles');
    const after = (await h.unary('GetDevices', {})).devices[0];
    t.equal(after.memory.reserved, baseline, 'the ledger is back where it started');
    t.same(
      after.models.map((m: any) => m.name),
      ['moc-demo'],
    );
    t.equal(after.engine_restarts, 0, 'the engine never died');
    const cycled = CYCLES - WARMUP;
    // One descriptor kept per cycle would be +cycled; a few come and go with the traffic.
    t.ok(
      last.fds - warm!.fds < 10,
      `engine file descriptors ${warm!.fds} after ${WARMUP} cycles, ${last.fds} after ${CYCLES}`,
    );
    t.comment(
      `engine resident memory ${(warm!.rss / 2 ** 20).toFixed(1)} MiB after ${WARMUP} cycles, ${(last.rss / 2 ** 20).toFixed(1)} MiB after ${CYCLES} (${cycled} cycles later)`,
    );
    t.equal(
      (await h.unary('Infer', { model: 'moc-demo', prompt: 'alive', max_tokens: 2, temperature: 0 })).model,
      'moc-demo',
      'server alive',
    );
  },
);
