/**
 * deploy/monitoring: the Prometheus config and alert rules pass promtool (Debian's prometheus, installed by .ci/run),
 * and every moc_ metric the rules and the Grafana dashboard query is one src/telemetry/metrics.ts declares (a renamed
 * metric would otherwise leave an alert that can never fire).
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Metrics } from '../../src/telemetry/metrics.js';
import { packageRoot } from '../../src/package-root.js';

const dir = path.join(packageRoot(), 'deploy', 'monitoring');

t.test('promtool accepts the scrape config and the rules', async (t) => {
  for (const [what, file] of [
    ['config', 'prometheus.yml'],
    ['rules', 'moc-rules.yml'],
  ] as const) {
    const r = spawnSync('promtool', ['check', what, path.join(dir, file)], { encoding: 'utf8' });
    t.equal(r.error?.message, undefined, 'promtool runs');
    t.equal(r.status, 0, `promtool check ${what} ${file}: ${r.stdout}${r.stderr}`);
  }
});

t.test('the rules and the dashboard use only metrics MOC exports', async (t) => {
  const m = new Metrics({
    devices: async () => [],
    models: async () => [],
    activeJobs: () => new Map(),
    goalStates: () => [],
    storeFile: '/nonexistent',
    mailboxes: () => [],
    ready: () => true,
  });
  t.teardown(() => m.close());
  const declared = new Set((await m.registry.getMetricsAsJSON()).map((x) => x.name));
  const dashboard = JSON.parse(readFileSync(path.join(dir, 'grafana-dashboard.json'), 'utf8'));
  const exprs = [
    readFileSync(path.join(dir, 'moc-rules.yml'), 'utf8'),
    ...dashboard.panels.flatMap((p: { targets: Array<{ expr: string }> }) => p.targets.map((x) => x.expr)),
  ].join('\n');
  const used = new Set([...exprs.matchAll(/\bmoc_[a-z_]+/g)].map((x) => x[0].replace(/_(bucket|count|sum)$/, '')));
  t.ok(used.size >= 10, `${used.size} metrics used`);
  for (const name of used) t.ok(declared.has(name), `${name} is exported`);
  t.ok(dashboard.panels.length > 0 && dashboard.uid === 'moc-overview', 'a dashboard with panels');
});
