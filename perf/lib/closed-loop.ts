/**
 * Closed-loop load: `concurrency` workers each issue the next call as soon as the last one finishes, for
 * `durationMs` after a warm-up. Latencies are recorded per call; failures are counted by their error code.
 */
export interface LoadResult {
  calls: number;
  ok: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  errors: Record<string, number>;
  tokens: number;
  tokensPerSec: number;
}

export interface CallOutcome {
  tokens: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function closedLoop(
  call: () => Promise<CallOutcome>,
  o: {
    concurrency: number;
    durationMs: number;
    warmupMs: number;
    codeOf: (err: unknown) => string;
    /** Called as the measured window opens and closes (after the warm-up): CPU readings of exactly that window. */
    onWindow?: (edge: 'start' | 'end') => void;
  },
): Promise<LoadResult> {
  const lat: number[] = [];
  const errors: Record<string, number> = {};
  let tokens = 0;
  let measuring = false;
  let stop = false;
  const worker = async () => {
    while (!stop) {
      const t0 = performance.now();
      try {
        const r = await call();
        if (measuring) {
          lat.push(performance.now() - t0);
          tokens += r.tokens;
        }
      } catch (err) {
        if (measuring) {
          const c = o.codeOf(err);
          errors[c] = (errors[c] ?? 0) + 1;
        }
      }
    }
  };
  const workers = Array.from({ length: o.concurrency }, worker);
  await new Promise((r) => setTimeout(r, o.warmupMs));
  measuring = true;
  o.onWindow?.('start');
  const start = performance.now();
  await new Promise((r) => setTimeout(r, o.durationMs));
  measuring = false;
  o.onWindow?.('end');
  const elapsed = (performance.now() - start) / 1000;
  stop = true;
  await Promise.all(workers);
  lat.sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 100) / 100;
  const failed = Object.values(errors).reduce((a, b) => a + b, 0);
  return {
    calls: lat.length + failed,
    ok: lat.length,
    rps: round(lat.length / elapsed),
    p50: round(percentile(lat, 50)),
    p95: round(percentile(lat, 95)),
    p99: round(percentile(lat, 99)),
    errors,
    tokens,
    tokensPerSec: round(tokens / elapsed),
  };
}

export function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def;
}
