/**
 * Readiness as the health routes, gRPC health and ZMQ `health` answer it: of the server, and of one model.
 * Pure reads of the devices and the Lifecycle's route table.
 */
import type { Config } from '../../schemas/config.js';
import type { ModelReadiness, Readiness } from '../../schemas/rest.js';
import type { DeviceRef } from '../../actors/device/index.js';
import type { Lifecycle } from '../../actors/lifecycle/lifecycle.js';
import { errors } from '../errors.js';

/**
 * /health/ready (and gRPC health, ZMQ `health`): every device up, at least one model loaded, not shutting down
 * (Kubernetes-style readiness). The listeners are up when they answer it; the store is open until after they close.
 */
export function readiness(
  config: Config,
  devices: Map<string, DeviceRef>,
  lifecycle: Lifecycle,
  draining: () => boolean,
  store: () => { reachable: boolean; reason: string } = () => ({ reachable: true, reason: '' }),
): Readiness {
  const devs = config.devices.map((d) => ({ id: d.id, available: devices.get(d.id)!.started }));
  const loaded = lifecycle.routes.loadedCount();
  const reasons: string[] = [];
  if (draining()) reasons.push('the server is shutting down: send requests to another replica');
  for (const d of devs) if (!d.available) reasons.push(`device ${d.id} is restarting`);
  if (loaded === 0) reasons.push('no model is loaded: load one (POST /v1/models/{name}/load) or wait for the preload');
  return {
    status: reasons.length === 0 ? 'ready' : 'not-ready',
    devices: devs,
    models_loaded: loaded,
    reasons,
    store: { kind: config.store.kind, ...store() },
  };
}

/** `GET /v1/models/{name}/ready`: loaded on a device that answers. Unknown names: MOC_ERR_MODEL_NOT_FOUND. */
export function modelReadiness(devices: Map<string, DeviceRef>, lifecycle: Lifecycle, name: string): ModelReadiness {
  const model = lifecycle.routes.resolve(name);
  if (!lifecycle.isRegistered(model)) throw errors.modelUnknown(name, lifecycle.routes.names());
  const m = lifecycle.routes.lookup(model);
  const state = m?.state ?? 'registered';
  const device = m?.device ?? '';
  const up = device !== '' && devices.get(device)?.started === true;
  const ready = state === 'loaded' && up;
  const reason = ready
    ? ''
    : state === 'loaded'
      ? `device ${device} is restarting`
      : state === 'registered'
        ? 'not loaded: load it (POST /v1/models/{name}/load); a request loads it on demand'
        : `it is ${state}`;
  return { model, ready, state, device, reason };
}
