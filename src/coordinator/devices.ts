/**
 * The device side of the tree: one worker thread per configured device under the root supervisor (one_for_one,
 * the config's restart intensity), and the notices the devices send to the main thread.
 *
 *   root Supervisor ── Device ×N (worker thread, WorkerRef) ── engine child process each
 *        │ restart: moc_actor_restarts_total + device.restarted     │ notices
 *        └ past the intensity: server.escalated, onEscalate          ├ models-changed ──> lifecycle's internal queue
 *                                                                    └ engine-exited  ──> moc_engine_restarts_total
 */
import type { Config } from '../../schemas/config.js';
import type { DeviceNotice } from '../../schemas/messages.js';
import { deviceChildSpec, type DeviceRef } from '../../actors/device/index.js';
import type { Lifecycle, LifecycleMessages } from '../../actors/lifecycle/lifecycle.js';
import { toMocError } from '../errors.js';
import { Supervisor } from '../kernel/supervisor.js';
import type { ActorRef } from '../kernel/types.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../telemetry/metrics.js';

/** Every device's notices, to the lifecycle (models changed) or the metrics (its engine restarted). */
export function routeDeviceNotices(
  devices: Map<string, DeviceRef>,
  lifecycle: ActorRef<LifecycleMessages>,
  metrics: Metrics,
  log: Logger,
): void {
  for (const ref of devices.values()) {
    ref.onNotify = (msg) => {
      const notice = msg as DeviceNotice;
      if (notice?.kind === 'engine-exited') {
        // Counted here, not in the device thread: the count survives that thread's restart.
        metrics.engineRestarts.inc({ device: notice.device, reason: restartReason(notice.reason) });
        return;
      }
      if (notice?.kind !== 'models-changed') throw new Error(`lifecycle: unknown notice ${JSON.stringify(msg)}`);
      try {
        lifecycle.tell(notice);
      } catch (err) {
        log.log('error', 'lifecycle.notice_lost', { device: notice.device, error: toMocError(err).message });
      }
    };
  }
}

/** Starts every device (a device that fails to start stops the others itself) under the root supervisor. */
export async function superviseDevices(
  config: Config,
  devices: Map<string, DeviceRef>,
  models: Lifecycle,
  metrics: Metrics,
  log: Logger,
  escalate: (reason: string) => void,
): Promise<Supervisor> {
  const supervisor = new Supervisor(
    'root',
    config.devices.map((d) =>
      deviceChildSpec(config, d, devices.get(d.id)!, {
        models: () => models.desiredModels(d.id),
        reservations: () => models.desiredReservations(d.id),
      }),
    ),
    {
      maxRestarts: config.supervisor.maxRestarts,
      periodMs: config.supervisor.periodMs,
      onRestart: (id, reason, incarnation, error) => {
        // The reason's first words (`crashed`, `exited with code 1`): the rest of it is for the log, not a label.
        metrics.restarts.inc({ actor: id, reason: restartReason(reason) });
        log.log('warn', 'device.restarted', {
          child: id,
          reason,
          incarnation,
          ...(error?.stack ? { stack: error.stack } : {}),
        });
      },
      onEscalate: escalate,
    },
  );
  await supervisor.start();
  return supervisor;
}

/** A restart reason's first words as a metric label (`crashed`, `exited with code 1`, `killed by SIGKILL`): bounded. */
function restartReason(reason: string): string {
  return reason.split(/[:(;]/)[0]!.trim().slice(0, 40);
}
