/**
 * deploy/k8s/ against the Kubernetes schemas (kubernetes-models validates each object as the API server's OpenAPI
 * schema would; the ServiceMonitor against the Prometheus Operator's CRD schema), and against MOC itself: the
 * ConfigMap's moc.yaml is a valid config, the probes hit the health routes and the gRPC health service on the ports
 * that config opens, the pod outlives its drain, readiness notices a stop before the drain ends, the data directory
 * is a claimed volume, the keys file is where the Secret is mounted. The fleet overlay (deploy/k8s-fleet/, kustomize)
 * built here as kustomize builds it: the patched StatefulSet valid, each pod's config valid with the environment its
 * pod gets, naming itself by its pod name, advertising its DNS name under the headless Service, its URL from a Secret.
 */
import t from 'tap';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { StatefulSet } from 'kubernetes-models/apps/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { packageRoot } from '../../src/package-root.js';
import { loadConfig } from '../../src/config.js';

const dir = path.join(packageRoot(), 'deploy', 'k8s');
const models: Record<string, new (o: any) => { validate(): void }> = {
  'apps/v1/StatefulSet': StatefulSet,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};
const manifests = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
const objects = manifests.flatMap((f) =>
  parseAllDocuments(readFileSync(path.join(dir, f), 'utf8')).map((d) => ({ file: f, o: d.toJS() as any })),
);
const one = (kind: string, name?: string) =>
  objects.map((x) => x.o).find((o) => o.kind === kind && (!name || o.metadata.name === name));

t.test('every object is valid against its Kubernetes schema', async (t) => {
  t.ok(objects.length >= 7, `${objects.length} objects`);
  for (const { file, o } of objects) {
    const Model = models[`${o.apiVersion}/${o.kind}`];
    t.ok(Model, `${file}: ${o.apiVersion} ${o.kind} is a known kind`);
    t.doesNotThrow(() => new Model!(o).validate(), `${file}: ${o.kind} ${o.metadata?.name} validates`);
  }
  t.throws(
    () => new StatefulSet({ ...one('StatefulSet'), spec: { ...one('StatefulSet').spec, replicas: 'two' } }).validate(),
    'and the validator does refuse a wrong one',
  );
});

t.test('the manifests agree with MOC: config, ports, probes, drain, volumes, keys', async (t) => {
  const cm = one('ConfigMap', 'moc-config');
  const file = path.join(t.testdir(), 'moc.yaml');
  writeFileSync(file, cm.data['moc.yaml']);
  const sts = one('StatefulSet', 'moc');
  const pod = sts.spec.template.spec;
  const c = pod.containers[0];
  const env = Object.fromEntries((c.env ?? []).map((e: any) => [e.name, e.value]));
  const cfg = loadConfig(file, env);
  t.pass('the ConfigMap holds a valid moc.yaml');

  const port = (name: string) => c.ports.find((p: any) => p.name === name)?.containerPort;
  t.same(
    [port('rest'), port('grpc'), port('zmq')],
    [cfg.rest.port, cfg.server.grpcPort, cfg.zmq.port],
    "container ports are the config's",
  );
  t.equal(cfg.server.host, '0.0.0.0', 'listening beyond loopback');
  t.equal(cfg.devices[0]!.kind, 'cuda');
  t.equal(c.resources.limits['nvidia.com/gpu'], 1, 'one GPU per pod');
  t.ok(pod.nodeSelector && Object.keys(pod.nodeSelector).length > 0, 'scheduled on GPU nodes only');
  t.equal(
    pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey,
    'kubernetes.io/hostname',
    'one MOC per node',
  );

  t.equal(c.livenessProbe.httpGet.path, '/health/live');
  t.equal(c.readinessProbe.httpGet.path, '/health/ready');
  const grpcProbe = [c.startupProbe, c.livenessProbe, c.readinessProbe].find((p) => p?.grpc);
  t.equal(grpcProbe?.grpc.port, cfg.server.grpcPort, 'a native gRPC probe (grpc.health.v1) on the gRPC port');
  const noticeMs = c.readinessProbe.periodSeconds * c.readinessProbe.failureThreshold * 1000;
  t.ok(
    noticeMs < cfg.shutdown.drainMs,
    `readiness notices a stop (${noticeMs} ms) before the drain ends (${cfg.shutdown.drainMs} ms)`,
  );
  t.ok(
    pod.terminationGracePeriodSeconds * 1000 > cfg.shutdown.drainMs + cfg.shutdown.graceMs,
    `terminationGracePeriodSeconds (${pod.terminationGracePeriodSeconds} s) > drainMs + graceMs`,
  );
  t.ok(pod.securityContext.runAsNonRoot && pod.securityContext.runAsUser !== 0, 'not root');

  const mount = (p: string) => c.volumeMounts.find((m: any) => m.mountPath === p || p.startsWith(`${m.mountPath}/`));
  const dataMount = mount(cfg.dataDir);
  t.ok(
    sts.spec.volumeClaimTemplates.some((v: any) => v.metadata.name === dataMount?.name),
    'the LMDB data dir is a PersistentVolumeClaim per pod',
  );
  const keysMount = mount(cfg.auth.keysFile);
  const keysVolume = pod.volumes.find((v: any) => v.name === keysMount?.name);
  const secret = one('Secret', keysVolume?.secret?.secretName);
  t.ok(secret, 'the keys file is in a mounted Secret');
  t.ok(path.basename(cfg.auth.keysFile) in secret.stringData, 'under the key the config names');
  const cfgMount = c.volumeMounts.find(
    (m: any) => m.name === pod.volumes.find((v: any) => v.configMap?.name === 'moc-config')?.name,
  );
  t.equal(
    path.join(cfgMount.mountPath, 'moc.yaml'),
    c.args[c.args.indexOf('--config') + 1],
    'the server reads the ConfigMap',
  );

  const svc = one('Service', 'moc');
  const monitor = one('ServiceMonitor', 'moc');
  t.same(monitor.spec.selector.matchLabels, svc.metadata.labels, 'the ServiceMonitor selects the API Service');
  const headless = one('Service', sts.spec.serviceName);
  t.ok(headless && headless.spec.clusterIP === 'None', "the StatefulSet's service is headless");
  t.notSame(headless.metadata.labels, monitor.spec.selector.matchLabels, 'and not scraped twice');
  t.ok(
    svc.spec.ports.some((p: any) => p.name === monitor.spec.endpoints[0].port),
    'the scraped port exists',
  );
  t.equal(monitor.spec.endpoints[0].path, '/metrics');
  t.ok(one('PodDisruptionBudget', 'moc'), 'a PodDisruptionBudget');
});

t.test('kustomization.yaml lists every manifest (the base of deploy/k8s-fleet/)', async (t) => {
  const k = parse(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8'));
  t.same([...k.resources].sort(), [...manifests].sort());
});

/** The overlay as kustomize applies it: strategic-merge patches of ConfigMaps (data merged key by key) and JSON 6902
 * `add` operations (the only kinds deploy/k8s-fleet/ uses; anything else fails the test). */
function buildFleet() {
  const fleetDir = path.join(packageRoot(), 'deploy', 'k8s-fleet');
  const k = parse(readFileSync(path.join(fleetDir, 'kustomization.yaml'), 'utf8'));
  if (JSON.stringify(k.resources) !== JSON.stringify(['../k8s/'])) throw new Error(`resources: ${k.resources}`);
  const built = structuredClone(objects.map((x) => x.o));
  for (const p of k.patches) {
    const patch = parse(readFileSync(path.join(fleetDir, p.path), 'utf8'));
    if (Array.isArray(patch)) {
      const target = built.find((o) => o.kind === p.target.kind && o.metadata.name === p.target.name);
      if (!target) throw new Error(`${p.path}: no ${p.target.kind} ${p.target.name}`);
      for (const op of patch) {
        if (op.op !== 'add') throw new Error(`${p.path}: op ${op.op} not built here`);
        const keys = op.path.split('/').slice(1);
        const last = keys.pop();
        const parent = keys.reduce((node: any, key: string) => node[key], target);
        if (last === '-') parent.push(op.value);
        else parent[last] = op.value;
      }
    } else {
      const target = built.find((o) => o.kind === patch.kind && o.metadata.name === patch.metadata.name);
      if (patch.kind !== 'ConfigMap' || !target) throw new Error(`${p.path}: ${patch.kind} not built here`);
      target.data = { ...target.data, ...patch.data };
    }
  }
  return built;
}

t.test('deploy/k8s-fleet/: each pod in the fleet, on PostgreSQL, named and reached by its pod name', async (t) => {
  const built = buildFleet();
  const sts = built.find((o) => o.kind === 'StatefulSet');
  t.doesNotThrow(() => new StatefulSet(sts).validate(), 'the patched StatefulSet validates');
  const c = sts.spec.template.spec.containers[0];
  const names = c.env.map((e: any) => e.name);
  t.equal(new Set(names).size, names.length, 'no variable set twice');
  const tmp = t.testdir(); // one per test: a second call would empty it
  const fleetFile = path.join(tmp, 'moc.yaml');
  writeFileSync(
    fleetFile,
    built.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'moc-config').data['moc.yaml'],
  );
  const baseFile = path.join(tmp, 'base.yaml');
  writeFileSync(baseFile, one('ConfigMap', 'moc-config').data['moc.yaml']);

  const url = 'postgres://moc:s3cret@pg-rw.db.svc:5432/moc';
  const urlRef = c.env.find((e: any) => e.name === 'MOC_PG_URL')?.valueFrom?.secretKeyRef;
  t.ok(urlRef?.name && urlRef?.key, 'the database URL comes from a Secret');
  t.notOk(one('Secret', urlRef?.name), 'one the overlay leaves to the operator (never applied empty over theirs)');
  const headless = one('Service', sts.spec.serviceName);
  t.equal(headless?.spec.clusterIP, 'None', 'pods have DNS names under a headless Service');
  const namespace = 'ml';
  const hostIds = new Set<string>();
  for (const pod of ['moc-0', 'moc-1']) {
    const meta: Record<string, string> = { 'metadata.name': pod, 'metadata.namespace': namespace };
    const env = Object.fromEntries(
      c.env.map((e: any) => {
        if ('value' in e) return [e.name, e.value];
        if (e.valueFrom.fieldRef) return [e.name, meta[e.valueFrom.fieldRef.fieldPath]];
        if (e.valueFrom.secretKeyRef === urlRef) return [e.name, url];
        throw new Error(`${e.name}: no value here`);
      }),
    );
    const cfg = loadConfig(fleetFile, env);
    t.pass(`${pod}: the fleet moc.yaml is valid with its environment`);
    t.same(cfg.store.kind === 'postgres' && cfg.store.url, url, `${pod}: the work store is the Secret's URL`);
    t.equal(cfg.fleet.hostId, pod, `${pod}: its hostId is its pod name`);
    hostIds.add(cfg.fleet.hostId);
    const dns = `${pod}.${sts.spec.serviceName}.${namespace}.svc.cluster.local`;
    const port = (name: string) => c.ports.find((p: any) => p.name === name)?.containerPort;
    t.same(
      cfg.fleet.advertise,
      { grpc: `${dns}:${port('grpc')}`, rest: `${dns}:${port('rest')}`, zmq: `${dns}:${port('zmq')}` },
      `${pod}: advertises its own DNS name and the container's ports`,
    );
    t.same(
      [port('rest'), port('grpc'), port('zmq')],
      [cfg.rest.port, cfg.server.grpcPort, cfg.zmq.port],
      "which are the config's",
    );
    const strip = ({ store: _s, fleet: _f, source: _src, ...rest }: typeof cfg) => rest;
    t.same(strip(cfg), strip(loadConfig(baseFile, env)), `${pod}: apart from store and fleet, the base config`);
  }
  t.equal(hostIds.size, 2, 'two pods, two hostIds');
});
