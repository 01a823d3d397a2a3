/**
 * A fixed amount of CPU burnt beside a measurement, in other processes: how much the bare engine loop does when the
 * rest of the machine is as busy as it was during a coordinator run (its load generator and the coordinator's own
 * threads). On a 2-core host that co-located work, not our wrapper alone, sets the ceiling (docs/performance.md).
 * Each process busy-waits in 0.5 ms slices while its CPU time is behind `cores / processes` of the wall time.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const BURNER = `
const share = Number(process.argv[1]);
const t0 = performance.now(), c0 = process.cpuUsage();
const tick = () => {
  const u = process.cpuUsage(c0);
  if ((u.user + u.system) / 1000 < share * (performance.now() - t0)) {
    const end = performance.now() + 0.5;
    while (performance.now() < end);
    setImmediate(tick);
  } else setTimeout(tick, 1);
};
tick();
process.on('message', () => { const u = process.cpuUsage(c0); process.send({ cores: (u.user + u.system) / 1000 / (performance.now() - t0) }, () => process.exit(0)); });
`;

export interface CpuLoad {
  stop(): Promise<number>;
}

/** Burns `cores` of CPU in `processes` processes until stop(), which answers the cores they really used. */
export function startCpuLoad(cores: number, processes = 2): CpuLoad {
  const share = cores / processes;
  const kids: ChildProcess[] =
    share > 0
      ? Array.from({ length: processes }, () =>
          spawn(process.execPath, ['-e', BURNER, String(share)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }),
        )
      : [];
  return {
    async stop() {
      const used = await Promise.all(
        kids.map(
          (k) =>
            new Promise<number>((resolve) => {
              k.once('message', (m: { cores: number }) => resolve(m.cores));
              k.once('exit', () => resolve(0));
              k.send('stop');
            }),
        ),
      );
      return Math.round(used.reduce((a, b) => a + b, 0) * 1000) / 1000;
    },
  };
}
