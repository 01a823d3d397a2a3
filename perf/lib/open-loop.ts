/**
 * Open-loop load: requests arrive at a fixed rate whatever the server does (not closed-loop clients, which slow down
 * with the server and hide queueing), for `durationMs`. Each call's latency counts from its scheduled arrival, so a
 * generator that falls behind shows as latency, not as a lower rate. Latencies of answered and of refused calls are
 * kept apart (a refusal must be fast), failures counted by code. `maxInFlight` bounds the generator's own memory.
 */
import { percentile } from './closed-loop.js';

export interface OpenLoopResult {
  offeredRps: number;
  achievedRps: number;
  sent: number;
  ok: number;
  /** Calls not sent because maxInFlight were outstanding (the generator's bound, not the server's answer). */
  skipped: number;
  okMs: { p50: number; p95: number; p99: number; max: number };
  refusedMs: { p50: number; p99: number; max: number };
  errors: Record<string, number>;
}

export async function openLoop(
  call: () => Promise<unknown>,
  o: { rps: number; durationMs: number; codeOf: (err: unknown) => string; maxInFlight?: number },
): Promise<OpenLoopResult> {
  const ok: number[] = [];
  const refused: number[] = [];
  const errors: Record<string, number> = {};
  const maxInFlight = o.maxInFlight ?? 10_000;
  let inFlight = 0;
  let sent = 0;
  let skipped = 0;
  let drained: (() => void) | null = null;
  const start = performance.now();
  const interval = 1000 / o.rps;
  for (let i = 0; ; i++) {
    const due = start + i * interval;
    if (due - start >= o.durationMs) break;
    const wait = due - performance.now();
    // Timers are ms-grained: sleep to within 1 ms, then send everything due (a burst when the loop fell behind).
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    if (inFlight >= maxInFlight) {
      skipped++;
      continue;
    }
    inFlight++;
    sent++;
    void call()
      .then(
        () => {
          ok.push(performance.now() - due);
        },
        (err) => {
          const c = o.codeOf(err);
          errors[c] = (errors[c] ?? 0) + 1;
          refused.push(performance.now() - due);
        },
      )
      .finally(() => {
        if (--inFlight === 0) drained?.();
      });
  }
  if (inFlight > 0)
    await new Promise<void>((r) => {
      drained = r;
    });
  const elapsed = (performance.now() - start) / 1000;
  ok.sort((a, b) => a - b);
  refused.sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 100) / 100;
  return {
    offeredRps: o.rps,
    achievedRps: r(ok.length / elapsed),
    sent,
    ok: ok.length,
    skipped,
    okMs: {
      p50: r(percentile(ok, 50)),
      p95: r(percentile(ok, 95)),
      p99: r(percentile(ok, 99)),
      max: r(ok.at(-1) ?? 0),
    },
    refusedMs: { p50: r(percentile(refused, 50)), p99: r(percentile(refused, 99)), max: r(refused.at(-1) ?? 0) },
    errors,
  };
}
