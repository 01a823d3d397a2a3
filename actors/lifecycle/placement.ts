/**
 * Placement, a pure function of fresh device statuses so it can be tested alone.
 *
 * 1. A device where the model fits under the soft limit without evicting: best fit (least room left over).
 * 2. Otherwise evict, per device, least-recently-used models that are idle (nothing running or queued), loaded
 *    (never one still loading) and not pinned, by bytes, until the model fits under the soft limit (LoRA adapters
 *    count as models; a base is used when any of its adapters is, and leaves only after all of them); if the
 *    evictable models run out first, it may still go above the soft limit but never above the hard limit.
 *    The device that needs the fewest bytes evicted wins.
 * 3. Otherwise refuse: too big for any device (naming the largest), or NO_MEMORY naming what holds the memory.
 */
import { errors } from '../../src/errors.js';
import type { DeviceStatus, ModelInfo } from '../../schemas/messages.js';

export interface Plan {
  device: string;
  evict: ModelInfo[];
}

export function planPlacement(
  model: string,
  need: number,
  devices: DeviceStatus[],
  isPinned: (m: ModelInfo) => boolean = (m) => m.pinned,
): Plan {
  const direct = devices
    .filter((d) => d.memory.reserved + need <= d.memory.softLimit)
    .sort((a, b) => a.memory.softLimit - a.memory.reserved - (b.memory.softLimit - b.memory.reserved))[0];
  if (direct) return { device: direct.id, evict: [] };

  let best: (Plan & { freed: number }) | undefined;
  for (const d of devices) {
    if (need > d.memory.hardLimit) continue;
    const adaptersOf = (base: string) => d.models.filter((a) => a.base === base);
    const usedAt = (m: ModelInfo) => Math.max(m.lastUsedAt, ...adaptersOf(m.name).map((a) => a.lastUsedAt));
    const evictable = d.models
      .filter((m) => m.state === 'loaded' && m.inFlight === 0 && m.queued === 0 && !isPinned(m))
      // Adapters before their base when used at the same time: the base goes after them.
      .sort((a, b) => usedAt(a) - usedAt(b) || Number(!!b.base) - Number(!!a.base));
    let reserved = d.memory.reserved;
    const evict: ModelInfo[] = [];
    for (const m of evictable) {
      if (reserved + need <= d.memory.softLimit) break;
      // A base with an adapter that stays (busy, pinned, or not reached) stays too: the adapter runs on it.
      if (adaptersOf(m.name).some((a) => !evict.includes(a))) continue;
      evict.push(m);
      reserved -= m.reservedBytes;
    }
    if (reserved + need > d.memory.hardLimit) continue;
    const freed = d.memory.reserved - reserved;
    if (!best || freed < best.freed) best = { device: d.id, evict, freed };
  }
  if (best) return { device: best.device, evict: best.evict };

  const largest = devices.reduce((a, d) => (d.memory.hardLimit > a.memory.hardLimit ? d : a), devices[0]!);
  if (devices.every((d) => need > d.memory.hardLimit)) {
    throw errors.tooBigForAnyDevice(model, need, largest);
  }
  const holders = devices.flatMap((d) =>
    d.models.map((m) => ({
      device: d.id,
      model: m.name,
      bytes: m.reservedBytes,
      why: m.state !== 'loaded' ? m.state : isPinned(m) ? 'pinned' : m.inFlight > 0 || m.queued > 0 ? 'busy' : 'idle',
    })),
  );
  throw errors.nothingToEvict(model, need, holders);
}
