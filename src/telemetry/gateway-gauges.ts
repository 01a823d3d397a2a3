/**
 * What a model-aware gateway reads (docs/metrics.md, For a gateway). The Gateway API Inference Extension's
 * model-server protocol (kubernetes-sigs/gateway-api-inference-extension, docs/proposals/003-model-server-protocol)
 * asks a model server for gauges of requests waiting in queue, requests running and KV-cache utilization (0–1), and,
 * for LoRA serving, `lora_requests_info`. Its endpoint picker reads one series per metric, the first whose labels
 * match its selector (`moc_model_requests_waiting{model=NAME}`), and keeps the last value it read when none matches:
 * so every registered model has its series here, 0 when idle, or an unloaded model would look as busy as it last was.
 */
import client from 'prom-client';
import type { DeviceView, ModelView } from '../../schemas/messages.js';

/** One model's load as the gateway sees it, summed over the devices holding it (one, unless it is moving). */
export interface ModelLoad {
  /** In its device queue waiting for a sequence, plus at the router waiting for it to load. */
  waiting: number;
  running: number;
  /** 0 when not loaded: no sequence of it holds anything. */
  kvCacheUsage: number;
  /** A LoRA adapter: the model it runs on. */
  base?: string;
}

/** Every registered model (and any a device holds or a request waits for), with its load now. */
export function modelLoads(
  devices: readonly DeviceView[],
  models: readonly ModelView[],
  waitingForLoad: ReadonlyMap<string, number>,
): Map<string, ModelLoad> {
  const out = new Map<string, ModelLoad>();
  const of = (name: string, base: string | undefined): ModelLoad => {
    let l = out.get(name);
    if (!l) {
      l = { waiting: waitingForLoad.get(name) ?? 0, running: 0, kvCacheUsage: 0, ...(base ? { base } : {}) };
      out.set(name, l);
    }
    return l;
  };
  for (const m of models) of(m.name, m.base);
  for (const d of devices)
    for (const m of d.models) {
      const l = of(m.name, m.base);
      l.waiting += m.queued;
      l.running += m.inFlight;
      l.kvCacheUsage = Math.max(l.kvCacheUsage, m.kvCacheUsage ?? 0);
    }
  for (const name of waitingForLoad.keys()) of(name, undefined); // unregistered while its requests wait
  return out;
}

/** The labels of one base's `lora_requests_info` series, as vLLM writes them (names joined by ",", no space). */
export interface LoraInfo {
  base: string;
  /** Adapters of the base registered: each loads on demand, so any of them can be served (docs/metrics.md). */
  maxLora: number;
  running: string[];
  waiting: string[];
}

/** One entry per base model with adapters registered, adapter names sorted (a stable label for the same state). */
export function loraInfos(loads: ReadonlyMap<string, ModelLoad>): LoraInfo[] {
  const byBase = new Map<string, LoraInfo>();
  for (const [name, l] of [...loads].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (!l.base) continue;
    let info = byBase.get(l.base);
    if (!info) byBase.set(l.base, (info = { base: l.base, maxLora: 0, running: [], waiting: [] }));
    info.maxLora++;
    if (l.running > 0) info.running.push(name);
    if (l.waiting > 0) info.waiting.push(name);
  }
  return [...byBase.values()];
}

/**
 * When each base's labels last changed, in epoch seconds: the series' value. The protocol's picker takes the series
 * with the largest value as the newest. A change is seen at the scrape that first shows it (MOC keeps no history of
 * adapters' requests between scrapes); a base seen for the first time changed then.
 */
export class LoraChanges {
  private readonly last = new Map<string, { key: string; at: number }>();

  stamp(infos: readonly LoraInfo[], nowMs: number): number[] {
    const seen = new Set<string>();
    const out = infos.map((i) => {
      seen.add(i.base);
      const key = `${i.maxLora}|${i.running.join(',')}|${i.waiting.join(',')}`;
      const prev = this.last.get(i.base);
      if (prev?.key === key) return prev.at;
      const at = nowMs / 1000;
      this.last.set(i.base, { key, at });
      return at;
    });
    for (const base of this.last.keys()) if (!seen.has(base)) this.last.delete(base);
    return out;
  }
}

/**
 * Registers the gateway's gauges. `read` answers every model's load for this scrape (null: a source failed, and the
 * gauges are left out of the scrape rather than shown as idle).
 */
export function registerGatewayGauges(
  registers: client.Registry[],
  read: () => Promise<Map<string, ModelLoad> | null>,
  nowMs: () => number = Date.now,
): void {
  const perModel = (name: string, help: string, value: (l: ModelLoad) => number) =>
    new client.Gauge({
      name,
      help,
      labelNames: ['model'],
      registers,
      async collect() {
        const loads = await read();
        if (!loads) return;
        this.reset();
        for (const [model, l] of loads) this.set({ model }, value(l));
      },
    });
  perModel(
    'moc_model_requests_waiting',
    "Requests waiting for a model: in its device queue for a sequence, and at the router for it to load (a gateway's TotalQueuedRequests)",
    (l) => l.waiting,
  );
  perModel(
    'moc_model_requests_running',
    "Requests running on a model's sequences (a gateway's TotalRunningRequests)",
    (l) => l.running,
  );
  perModel(
    'moc_model_kv_cache_usage_ratio',
    "Tokens a model's sequences hold over what they can hold, 0 when not loaded (a gateway's KVCacheUtilization, 0-1)",
    (l) => l.kvCacheUsage,
  );
  const changes = new LoraChanges();
  new client.Gauge({
    name: 'moc_lora_requests_info',
    help: "Per base model, its LoRA adapters: max_lora (registered), running_lora_adapters and waiting_lora_adapters (names); value: epoch seconds of the labels' last change (vLLM's lora_requests_info)",
    labelNames: ['base', 'max_lora', 'running_lora_adapters', 'waiting_lora_adapters'],
    registers,
    async collect() {
      const loads = await read();
      if (!loads) return;
      this.reset();
      const infos = loraInfos(loads);
      const at = changes.stamp(infos, nowMs());
      infos.forEach((i, k) => {
        const labels = {
          base: i.base,
          max_lora: String(i.maxLora),
          running_lora_adapters: i.running.join(','),
          waiting_lora_adapters: i.waiting.join(','),
        };
        this.set(labels, at[k]!);
      });
    },
  });
}
