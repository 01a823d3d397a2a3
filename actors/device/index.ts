/**
 * The device actor as the rest of the tree sees it: a ChildSpec for the supervisor and a stable WorkerRef that
 * survives restarts. The desired state is read at every (re)start so a restarted device reloads what it held.
 */
import { siblingEntry } from '../../src/entry.js';
import { WorkerRef } from '../../src/kernel/worker-ref.js';
import { startWorkerChild } from '../../src/kernel/worker-child.js';
import type { ChildSpec } from '../../src/kernel/supervisor.js';
import type { Config, ResolvedDevice } from '../../schemas/config.js';
import type { DeviceProtocol, ModelSpec } from '../../schemas/messages.js';
import type { DeviceWorkerData } from './device-actor.js';
import { logLevel } from '../../src/log.js';

export type DeviceRef = WorkerRef<DeviceProtocol>;

export function deviceRef(device: ResolvedDevice): DeviceRef {
  // The window of frames in transit is part of the capacity; the rest waits in the parent-side queue.
  return new WorkerRef<DeviceProtocol>(`device ${device.id}`, device.mailboxCapacity);
}

export function deviceChildSpec(
  config: Config,
  device: ResolvedDevice,
  ref: DeviceRef,
  desired: {
    models(): ModelSpec[];
    reservations(): { owner: string; bytes: number }[];
  },
): ChildSpec {
  return {
    id: `device:${device.id}`,
    restart: 'permanent',
    shutdownMs: config.shutdown.graceMs + 5000,
    start: (incarnation) => {
      const data: DeviceWorkerData = {
        device,
        models: incarnation === 0 ? [] : desired.models(),
        reservations: incarnation === 0 ? [] : desired.reservations(),
        loadTimeoutMs: config.limits.loadTimeoutMs,
        faultInjection: config.debug.faultInjection,
        engineRestarts: { max: config.supervisor.maxRestarts, periodMs: config.supervisor.periodMs },
        log: { level: logLevel(config.log.level), sensitive: config.log.sensitive },
      };
      return startWorkerChild(ref, {
        entry: siblingEntry(import.meta.url, './device-worker'),
        workerData: data,
        name: `moc-device-${device.id}`,
        startTimeoutMs: config.limits.loadTimeoutMs,
      });
    },
  };
}
