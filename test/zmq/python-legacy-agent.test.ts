/**
 * A real legacy agent (Python, pyzmq from Debian's python3-zmq, installed by .ci/run) runs unchanged against the
 * coordinator: REQ send_json/recv_json for health, list, infer, load, an error, and a Lazy Pirate retry that must
 * act once. Debian's interpreter is used explicitly: a python3 earlier on PATH (pyenv) may not have pyzmq.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startHarness } from '../helpers/coordinator.js';
import { runChild } from '../helpers/child.js';
import { sourceUrl } from '../helpers/source-url.js';

const AGENT = fileURLToPath(sourceUrl('legacy_agent.py', import.meta.url));

function pythonWithZmq(): string | null {
  for (const py of ['/usr/bin/python3', 'python3']) {
    if (py.startsWith('/') && !existsSync(py)) continue;
    if (spawnSync(py, ['-c', 'import zmq'], { stdio: 'ignore' }).status === 0) return py;
  }
  return null;
}

async function runAgent(py: string, endpoint: string): Promise<{ code: number | null; lines: any[]; stderr: string }> {
  const r = await runChild(t, py, [AGENT, endpoint]);
  const lines = r.out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  return { code: r.code, lines, stderr: r.err };
}

const py = pythonWithZmq();

t.test('the Python legacy agent runs unchanged against the coordinator', async (t) => {
  // Not a skip: CI installs python3-zmq, so its absence is a broken environment, and the test says how to fix it.
  t.ok(py, 'python3 with pyzmq is available (apt-get install -y python3-zmq)');
  if (!py) return;
  const h = await startHarness(t);
  const run = await runAgent(py, h.zmqUrl);
  for (const l of run.lines) t.ok(l.ok, `${l.step}: ${JSON.stringify(l)}`);
  t.same(
    run.lines.map((l) => l.step),
    ['health', 'list_models', 'infer', 'load_model', 'error_reply', 'lazy_pirate_retry', 'retry_acts_once'],
  );
  t.equal(run.code, 0, `agent exit 0 ${run.stderr}`);
  t.ok(h.coordinator.zmq!.stats.replayed >= 1, 'the retried unload was answered from the first answer');
});
