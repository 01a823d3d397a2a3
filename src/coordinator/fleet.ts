/**
 * This host in the fleet registry (src/fleet/registry.ts): what it publishes — its devices' ledgers and loaded models
 * with their queues (the router's device views), its catalog, its addresses — and the registry it runs: heartbeats
 * into PostgreSQL with store.kind postgres, itself alone with the embedded store.
 */
import { hostname } from 'node:os';
import type { Config } from '../../schemas/config.js';
import type { FleetDevice, HostRecord } from '../../schemas/fleet.js';
import type { RouterProtocol } from '../../schemas/messages.js';
import { errors } from '../errors.js';
import { LocalFleet, PgFleetRegistry, type FleetSource } from '../fleet/registry.js';
import type { ActorRef } from '../kernel/types.js';
import type { Logger } from '../log.js';
import { PgWorkStore, redactUrl } from '../store/postgres/pg-work-store.js';
import type { Store } from '../store/store.js';
import type { WorkStore } from '../store/work-store.js';
import { deviceResource } from '../transports/views.js';

/** A FleetSource for the router before the registry has started (it starts once the router runs). */
export class LateFleet implements FleetSource {
  source: FleetSource | null = null;
  hosts() {
    return this.source ? this.source.hosts() : Promise.reject(errors.unavailable('the fleet registry is starting'));
  }
  async close(): Promise<void> {}
}

export function startFleet(
  config: Config,
  parts: { router: ActorRef<RouterProtocol>; store: Store; work: WorkStore; log: Logger },
): Promise<FleetSource> {
  const startedAt = Date.now();
  const hostId = config.fleet.hostId || hostname();
  const snapshot = async (): Promise<HostRecord> => ({
    advertise: config.fleet.advertise,
    started_at_ms: startedAt,
    heartbeat_ms: config.fleet.heartbeatMs,
    devices: (await parts.router.ask({ kind: 'devices' }, { timeoutMs: 5000 })).map(fleetDevice),
    catalog: parts.store
      .listModels()
      .map((m) => m.name)
      .sort(),
  });
  const work = parts.work;
  if (!(work instanceof PgWorkStore)) return Promise.resolve(new LocalFleet(hostId, snapshot));
  const url = config.store.kind === 'postgres' ? redactUrl(config.store.url) : '';
  return PgFleetRegistry.start((sql, params) => work.query(sql, params), {
    hostId,
    heartbeatMs: config.fleet.heartbeatMs,
    fullEveryMs: config.fleet.fullEveryMs,
    snapshot,
    onError: (err) =>
      err
        ? parts.log.log('warn', 'fleet.heartbeat_failed', { host: hostId, url, error: err.message })
        : parts.log.log('info', 'fleet.heartbeat_recovered', { host: hostId, url }),
  });
}

/** A device as the registry publishes it: the ledger and each loaded model's state and queue. */
function fleetDevice(v: Parameters<typeof deviceResource>[0]): FleetDevice {
  const d = deviceResource(v);
  return {
    id: d.id,
    kind: d.kind,
    available: d.available,
    memory: d.memory,
    models: d.models.map((m) => ({ name: m.name, state: m.state, in_flight: m.in_flight, queued: m.queued })),
  };
}
