/**
 * deploy/k8s/ against the Kubernetes schemas (kubernetes-models validates each object as the API server's OpenAPI
 * schema would; the ServiceMonitor against the Prometheus Operator's CRD schema), and against MOC itself: the
 * ConfigMap's moc.yaml is a valid config, the probes hit the health routes and the gRPC health service on the ports
 * that config opens, the pod outlives its drain, readiness notices a stop before the drain ends, the data directory
 * is a claimed volume, the keys file is where the Secret is mounted.
 */
import t from 'tap';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
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
const objects = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) =>
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
