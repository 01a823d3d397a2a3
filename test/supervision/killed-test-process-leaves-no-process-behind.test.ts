/**
 * A test process killed with SIGKILL (no teardown of its runs) leaves no process behind: not the `moc serve` it
 * spawned, not that server's engine, not the engine of its in-process coordinator, not a tool it started, not a
 * trainer (which runs in its own process group) nor the trainer's worker. The test finds them by an environment
 * variable only they and their descendants carry, so it sees every descendant whoever its parent is now.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { untrackChildren } from '../helpers/untracked-children.js';
import { sourceUrl } from '../helpers/source-url.js';

untrackChildren(); // the fixture and all it starts: each would load every module through tap's hook

const FIXTURE = fileURLToPath(sourceUrl('../fixtures/orphan-maker.ts', import.meta.url));

/** pid → command line of every process whose environment carries MOC_ORPHAN_MARK=mark. */
function marked(mark: string): Map<number, string> {
  const found = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, 'latin1');
      if (!env.split('\0').includes(`MOC_ORPHAN_MARK=${mark}`)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue; // a zombie is already gone
      found.set(Number(entry), readFileSync(`/proc/${entry}/cmdline`, 'latin1').replaceAll('\0', ' ').slice(0, 160));
    } catch {
      // exited while we looked, or not ours to read
    }
  }
  return found;
}

t.test('SIGKILL of a test process mid-test: everything it started exits by itself', async (t) => {
  const mark = randomUUID();
  // Whatever happens to the assertions below, nothing marked survives this test.
  t.teardown(() => {
    for (const pid of marked(mark).keys()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
  });
  const proc = spawn(process.execPath, ['--import=tsx', FIXTURE], {
    env: { ...process.env, MOC_ORPHAN_MARK: mark },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 120_000);
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (line.includes('"ready":true')) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    proc.once('exit', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  t.ok(ready, 'the fixture started a server, a coordinator, a tool and a trainer (within 120 s)');
  const before = marked(mark);
  // The fixture itself, moc serve, its engine, the in-process engine, sleep, the trainer and its worker (tsx may
  // add helper processes: at least these 7).
  t.ok(before.size >= 7, `${before.size} processes running before the kill:\n${[...before.values()].join('\n')}`);

  proc.kill('SIGKILL');
  const deadline = Date.now() + 30_000;
  let left = marked(mark);
  while (left.size > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    left = marked(mark);
  }
  t.same(
    [...left.values()],
    [],
    'no process outlived the killed test process by 30 s (survivors listed by command line)',
  );
});
