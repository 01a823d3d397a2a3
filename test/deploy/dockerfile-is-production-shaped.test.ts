/**
 * No container engine or registry is reachable where this was written, so the image is not built here. What can be
 * checked without one is: every base pinned to an exact tag, production dependencies only in what runs, a non-root
 * user, a health check on /health/live, the three ports and the two volumes, every file the build copies present in
 * the repository, the container's config valid against the one config schema, and the built-in `lora` trainer's
 * files where the built code looks for them with Debian's torch installed by default.
 */
import t from 'tap';
import { Copy, DockerfileParser, type Instruction } from 'dockerfile-ast';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../src/package-root.js';
import { loadConfig } from '../../src/config.js';
import { LORA_PYTHON, loraTrainer } from '../../actors/jobs/trainers.js';

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

t.test('the image carries the lora trainer where the built code finds it, and Debian torch by default', async (t) => {
  // Where trainers.ts runs train.py from, relative to the package root (the same from src/ and from dist/).
  const script = loraTrainer().command.find((a) => a.endsWith('train.py'))!;
  const dir = path.posix.dirname(path.relative(root, script).split(path.sep).join('/'));
  t.equal(dir, 'src/trainers/lora');
  // The image's package root: the directory the runtime copies package.json into.
  let workdir = '/';
  const at = new Map<Instruction, string>();
  for (const i of runtime) {
    if (i.getKeyword() === 'WORKDIR') workdir = path.posix.resolve(workdir, args0(i)[0]!);
    at.set(i, workdir);
  }
  const copies = runtime.filter((i) => i.getKeyword() === 'COPY' && fromStage(i) === undefined);
  const dest = (i: Instruction) => path.posix.resolve(at.get(i)!, args0(i).at(-1)!);
  const pkg = copies.find((i) => args0(i).slice(0, -1).includes('package.json'));
  t.ok(pkg, 'the runtime copies package.json');
  const appRoot = dest(pkg!).endsWith('package.json') ? path.posix.dirname(dest(pkg!)) : dest(pkg!);
  const trainer = copies.find((i) => args0(i).slice(0, -1).includes(dir));
  t.ok(trainer, `the runtime copies ${dir}`);
  t.equal(trainer && dest(trainer), path.posix.join(appRoot, dir), `to ${path.posix.join(appRoot, dir)}`);
  t.ok(existsSync(path.join(root, dir, 'train.py')), 'with train.py in it');

  // torch and numpy for Debian's python3 (the trainer's LORA_PYTHON), from apt, behind WITH_TRAINER (default on).
  t.equal(LORA_PYTHON, '/usr/bin/python3', "the trainer runs Debian's python3, which apt's python3-torch serves");
  const arg = runtime.find((i) => i.getKeyword() === 'ARG' && args0(i)[0]!.startsWith('WITH_TRAINER='));
  t.equal(arg && args0(arg)[0], 'WITH_TRAINER=1', 'WITH_TRAINER is declared in the runtime stage, on by default');
  const install = runtime.find(
    (i) =>
      i.getKeyword() === 'RUN' &&
      /apt-get install/.test(args0(i).join(' ')) &&
      /python3-torch/.test(args0(i).join(' ')),
  );
  t.ok(install, 'the runtime installs python3-torch with apt-get');
  const line = install ? args0(install).join(' ') : '';
  for (const p of ['python3-torch', 'python3-numpy', 'libopenblas0-pthread'])
    t.match(line, new RegExp(`install[^&;]*\\s${p}(\\s|$)`), `${p} is installed`);
  t.match(line, /--no-install-recommends/, 'without recommends');
  t.match(line, /\$\{?WITH_TRAINER\}?"?\s*=\s*"?1/, 'only when WITH_TRAINER is 1');
  t.match(line, /rm -rf \/var\/lib\/apt\/lists/, "apt's lists are not left in the image");
  const user = runtime.findIndex((i) => i.getKeyword() === 'USER');
  t.ok(install && runtime.indexOf(install) < user, 'installed as root, before USER');
  t.ok(arg && runtime.indexOf(arg) < runtime.indexOf(install!), 'WITH_TRAINER declared before it is read');
});
