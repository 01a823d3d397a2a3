/**
 * No container engine or registry is reachable where this was written, so the image is not built here. What can be
 * checked without one is: every base pinned to an exact tag, production dependencies only in what runs, a non-root
 * user, a health check on /health/live, the three ports and the two volumes, every file the build copies present in
 * the repository, and the container's config valid against the one config schema.
 */
import t from 'tap';
import { Copy, DockerfileParser, type Instruction } from 'dockerfile-ast';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../src/package-root.js';
import { loadConfig } from '../../src/config.js';

const root = packageRoot();
const DOCKERFILE = path.join(root, 'deploy', 'docker', 'Dockerfile');
const df = DockerfileParser.parse(readFileSync(DOCKERFILE, 'utf8'));
const args = new Map(df.getARGs().map((a) => [a.getProperty()!.getName(), a.getProperty()!.getValue() ?? '']));
const expand = (s: string) => s.replace(/\$\{(\w+)\}/g, (_, n: string) => args.get(n) ?? `<unset ${n}>`);
const froms = df.getFROMs();
const stages = froms.map((f) => f.getBuildStage());
/** The instructions of the last stage: what the image runs. */
const runtime: Instruction[] = (() => {
  const all = df.getInstructions();
  const start = all.indexOf(froms.at(-1)!);
  return all.slice(start + 1);
})();
const args0 = (i: Instruction) => i.getArguments().map((a) => a.getValue());
/** A COPY's --from stage, if any. */
const fromStage = (i: Instruction) => (i instanceof Copy ? i.getFromFlag()?.getValue() : undefined);

t.test('every base image is pinned to an exact tag or a digest', async (t) => {
  t.ok(froms.length >= 2, 'multi-stage');
  for (const f of froms) {
    const image = expand(f.getImage()!);
    const pinned = /@sha256:[0-9a-f]{64}$/.test(image) || /:\d+\.\d+\.\d+[\w.-]*$/.test(image);
    t.ok(pinned, `${f.getImage()} → ${image} is pinned`);
    t.notMatch(image, /:latest$/);
  }
  t.match(
    expand('${RUNTIME_IMAGE}'),
    /^node:20\.\d+\.\d+-bookworm-slim$/,
    'the default runtime is Debian bookworm-slim with Node 20',
  );
});

t.test('what runs: production dependencies, non-root, health-checked, ports and volumes', async (t) => {
  const runs = df
    .getInstructions()
    .filter((i) => i.getKeyword() === 'RUN')
    .map((i) => args0(i).join(' '));
  t.ok(
    runs.some((r) => /npm ci\b[^&]*--omit=dev/.test(r)),
    'npm ci --omit=dev installs the dependencies the image runs with',
  );
  const copiesModules = runtime.filter(
    (i) => i.getKeyword() === 'COPY' && args0(i).some((a) => a.endsWith('node_modules')),
  );
  t.ok(
    copiesModules.length === 1 && fromStage(copiesModules[0]!) === 'deps' && stages.includes('deps'),
    'the runtime takes node_modules from the production-only stage, not the build stage',
  );
  const user = runtime.filter((i) => i.getKeyword() === 'USER').map((i) => args0(i)[0]);
  t.ok(user.length > 0, 'USER is set');
  t.notOk(['root', '0'].includes(user.at(-1)!.split(':')[0]!), `and is not root (${user.at(-1)})`);
  const hc = runtime.find((i) => i.getKeyword() === 'HEALTHCHECK');
  t.ok(hc, 'HEALTHCHECK present');
  t.match(args0(hc!).join(' '), /\/health\/live/, 'on /health/live');
  const exposed = runtime.filter((i) => i.getKeyword() === 'EXPOSE').flatMap(args0);
  t.same(exposed.sort(), ['7211', '7212', '8008'], 'ZMQ, gRPC and REST ports');
  const volumes = runtime
    .filter((i) => i.getKeyword() === 'VOLUME')
    .map((i) => args0(i).join(' '))
    .join(' ');
  t.match(volumes, /\/data/);
  t.match(volumes, /\/models/);
  const cmd = runtime.find((i) => i.getKeyword() === 'CMD');
  t.match(
    args0(cmd!).join(' '),
    /dist\/src\/cli\.js.*serve.*--config.*\/etc\/moc\/moc\.yaml/,
    'it serves with the container config',
  );
});

t.test('every file the build copies from the context exists, and .dockerignore keeps none of them out', async (t) => {
  const ignored = readFileSync(path.join(root, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  for (const i of df.getInstructions().filter((x) => x.getKeyword() === 'COPY')) {
    const a = args0(i);
    if (fromStage(i) !== undefined) continue;
    for (const src of a.slice(0, -1)) {
      t.ok(existsSync(path.join(root, src)), `${src} exists`);
      t.notOk(ignored.includes(src.split('/')[0]!), `${src} is not in .dockerignore`);
    }
  }
  t.ok(
    ['node_modules', 'dist', 'data', 'models'].every((x) => ignored.includes(x)),
    'dependencies, build output and runtime state stay out of the context',
  );
});

t.test('the container config is valid, with its defaults and with what Compose/Kubernetes would set', async (t) => {
  const file = path.join(root, 'deploy', 'docker', 'moc.yaml');
  const d = loadConfig(file, {});
  t.equal(d.server.host, '0.0.0.0');
  t.same([d.server.grpcPort, d.rest.port, d.zmq.port], [7212, 8008, 7211], 'the ports the Dockerfile exposes');
  t.equal(d.dataDir, '/data');
  t.equal(d.modelsRoot, '/models');
  t.equal(d.auth.keysFile, '/run/secrets/moc-keys', 'keys from a secret file');
  t.equal(d.shutdown.drainMs, 5000, 'drains longer than the balancer takes to notice');
  const e = loadConfig(file, { MOC_REST_PORT: '9000', MOC_KEYS_FILE: '/k', MOC_DRAIN_MS: '7000' });
  t.same([e.rest.port, e.auth.keysFile, e.shutdown.drainMs], [9000, '/k', 7000]);
});
