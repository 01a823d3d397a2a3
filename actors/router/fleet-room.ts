/**
 * In a fleet, a job whose memory_bytes no live host's device can hold is refused at submit. Each host claims only
 * what fits its own devices (Jobs.fitsNow), so such a job would otherwise wait queued, silently, for a host that
 * does not exist; one host alone accepts it and fails it at its reservation (MOC_ERR_NO_MEMORY, too big for any
 * device). As a batch scheduler refuses a job asking more memory than any node has (Slurm: "Requested node
 * configuration is not available"), rather than keep it pending forever.
 *
 * The fleet is read from the registry (hosts' heartbeats), at most once per FRESH_MS however many such submits
 * arrive, and only when one does. Judged by the devices' hard limits, not what is free now: a device that holds the
 * job once its models are evicted or its jobs end is room to wait for. An unreadable registry refuses nothing (the
 * submit's own write then says whether the database is there).
 */
import type { FleetHost } from '../../schemas/fleet.js';
import { errors } from '../../src/errors.js';
import type { FleetSource } from '../../src/fleet/registry.js';

const FRESH_MS = 1000;

export class FleetRoom {
  private view: { at: number; hosts: Promise<FleetHost[] | null> } | null = null;

  constructor(private readonly fleet: FleetSource) {}

  /**
   * Resolves if some live host has a device (named `device`, when given) whose hard limit holds `need` bytes — or if
   * `isRetry` says the submit's idempotency key names a job already: a retry is answered with that job (accepted when
   * a host could hold it) even if that host has gone silent since.
   */
  async check(need: number, device?: string, isRetry?: () => Promise<boolean>): Promise<void> {
    if (!this.view || Date.now() - this.view.at > FRESH_MS) {
      this.view = { at: Date.now(), hosts: this.fleet.hosts().catch(() => null) };
    }
    const hosts = await this.view.hosts;
    if (!hosts) return;
    const devices = hosts
      .filter((h) => h.alive)
      .flatMap((h) => h.devices.map((d) => ({ host: h.host_id, id: d.id, hardLimit: d.memory.hard_limit })))
      .filter((d) => device === undefined || d.id === device);
    if (devices.some((d) => d.hardLimit >= need)) return;
    if (isRetry && (await isRetry())) return;
    const largest = devices.reduce<(typeof devices)[number] | null>(
      (a, d) => (a === null || d.hardLimit > a.hardLimit ? d : a),
      null,
    );
    throw errors.tooBigForFleet(need, largest, device);
  }
}
