/**
 * Every alert in deploy/monitoring/moc-rules.yml has its entry in docs/operations.md (what it means, what to do),
 * and the runbook describes no alert that does not exist: an operator paged by MOC always finds the page.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { packageRoot } from '../../src/package-root.js';

const root = packageRoot();
const rules = parse(readFileSync(path.join(root, 'deploy', 'monitoring', 'moc-rules.yml'), 'utf8'));
const alerts: string[] = rules.groups.flatMap((g: any) => g.rules.map((r: any) => r.alert)).filter(Boolean);
const runbook = readFileSync(path.join(root, 'docs', 'operations.md'), 'utf8');
const entries = [...runbook.matchAll(/^### (Moc\w+)\s*$/gm)].map((m) => m[1]!);

t.test('alerts and runbook entries match one to one', async (t) => {
  t.ok(alerts.length >= 9, `${alerts.length} alerts`);
  t.same([...entries].sort(), [...alerts].sort(), 'one runbook entry per alert, none for an alert that does not exist');
  for (const a of alerts) {
    const body = runbook.split(`### ${a}`)[1]!.split(/\n##/)[0]!;
    t.ok(body.trim().length > 120, `${a}: says what it means and what to do`);
  }
});
