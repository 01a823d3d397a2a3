/**
 * The two per-request metrics — moc_requests_total{transport,operation,code} and
 * moc_request_duration_seconds{transport,operation} — kept in plain arrays and written out in prom-client's format at
 * scrape time. They are on every request's path: prom-client's observe validates and hashes its labels on each call
 * (~2 µs a request, 1.5 % of the cheapest request's CPU; perf/telemetry-cost.ts), here it is one Map lookup by a key
 * the caller already has and a bucket search. Registered on the same Registry as every other metric, through
 * registerMetric (a metric is anything with name, help, type and get(), as prom-client's own are).
 */
import type client from 'prom-client';

interface Count {
  labels: Record<string, string>;
  value: number;
}
interface Timing {
  labels: Record<string, string>;
  buckets: Float64Array;
  sum: number;
  count: number;
}

type MetricValue = { labels: Record<string, string | number>; value: number; metricName?: string };
interface CustomMetric {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  get(): Promise<{ name: string; help: string; type: string; values: MetricValue[]; aggregator: 'sum' }>;
  reset(): void;
}

export class RequestStats {
  private readonly counts = new Map<string, Count>();
  private readonly timings = new Map<string, Timing>();

  constructor(
    registry: client.Registry,
    private readonly bounds: readonly number[],
    names: { count: string; countHelp: string; duration: string; durationHelp: string },
  ) {
    const counts = this.counts;
    const timings = this.timings;
    const counter: CustomMetric = {
      name: names.count,
      help: names.countHelp,
      type: 'counter',
      aggregator: 'sum',
      async get() {
        return {
          name: names.count,
          help: names.countHelp,
          type: 'counter',
          aggregator: 'sum',
          values: [...counts.values()].map((c) => ({ labels: c.labels, value: c.value })),
        };
      },
      reset: () => counts.clear(),
    };
    const histogram: CustomMetric = {
      name: names.duration,
      help: names.durationHelp,
      type: 'histogram',
      aggregator: 'sum',
      get: async () => {
        const values: MetricValue[] = [];
        for (const t of timings.values()) {
          // Prometheus buckets are cumulative: each counts every observation at or below its bound.
          let cumulative = 0;
          this.bounds.forEach((le, i) => {
            cumulative += t.buckets[i]!;
            values.push({ labels: { ...t.labels, le }, value: cumulative, metricName: `${names.duration}_bucket` });
          });
          values.push({ labels: { ...t.labels, le: '+Inf' }, value: t.count, metricName: `${names.duration}_bucket` });
          values.push({ labels: t.labels, value: t.sum, metricName: `${names.duration}_sum` });
          values.push({ labels: t.labels, value: t.count, metricName: `${names.duration}_count` });
        }
        return { name: names.duration, help: names.durationHelp, type: 'histogram', aggregator: 'sum', values };
      },
      reset: () => timings.clear(),
    };
    registry.registerMetric(counter as unknown as client.Metric);
    registry.registerMetric(histogram as unknown as client.Metric);
  }

  observe(transport: string, operation: string, code: string, seconds: number): void {
    const key = `${transport} ${operation}`;
    const ckey = `${key} ${code}`;
    let c = this.counts.get(ckey);
    if (!c) this.counts.set(ckey, (c = { labels: { transport, operation, code }, value: 0 }));
    c.value++;
    let t = this.timings.get(key);
    if (!t)
      this.timings.set(
        key,
        (t = { labels: { transport, operation }, buckets: new Float64Array(this.bounds.length), sum: 0, count: 0 }),
      );
    t.count++;
    t.sum += seconds;
    for (let i = 0; i < this.bounds.length; i++) {
      if (seconds <= this.bounds[i]!) {
        t.buckets[i] = t.buckets[i]! + 1;
        break;
      }
    }
  }
}
