/**
 * One autocannon run, summarised: requests/s, latency percentiles, and everything that was not a 2xx answer
 * (connection errors, timeouts, non-2xx by status) so a run with failures says so instead of counting them as speed.
 */
import autocannon from 'autocannon';

export interface CannonSummary {
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  requests: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  statuses: Record<string, number>;
}

export async function cannon(
  url: string,
  o: {
    connections: number;
    seconds: number;
    body?: string;
    /**
     * Bodies taken in turn across all connections (request i gets bodies[i % n]), instead of `body`: one workload
     * spread round-robin over several models. Each connection cycling a list of its own would start in step.
     */
    bodies?: string[];
    timeoutSeconds?: number;
  },
): Promise<CannonSummary> {
  let next = 0;
  const bodies = o.bodies;
  const r = await autocannon({
    url,
    connections: o.connections,
    duration: o.seconds,
    // A slow model under 32 connections answers in seconds; autocannon's 10 s default would count queueing as errors.
    timeout: o.timeoutSeconds ?? 60,
    method: o.body || bodies ? 'POST' : 'GET',
    ...(o.body ? { body: o.body, headers: { 'content-type': 'application/json' } } : {}),
    ...(bodies
      ? {
          headers: { 'content-type': 'application/json' },
          // A setupRequest makes autocannon build each request anew (its requestIterator), so the body can change.
          requests: [{ setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length] }) }],
        }
      : {}),
  });
  const statuses: Record<string, number> = {};
  for (const [code, s] of Object.entries(r.statusCodeStats ?? {})) statuses[code] = (s as { count: number }).count;
  return {
    rps: Math.round(r.requests.average * 10) / 10,
    p50: r.latency.p50,
    p90: r.latency.p90,
    p99: r.latency.p99,
    requests: r.requests.total,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    statuses,
  };
}

/** '' when the run was clean, else what went wrong in a few words. */
export function failures(s: CannonSummary): string {
  const parts: string[] = [];
  if (s.errors) parts.push(`${s.errors} errors`);
  if (s.timeouts) parts.push(`${s.timeouts} timeouts`);
  if (s.non2xx) {
    const codes = Object.entries(s.statuses).filter(([c]) => !c.startsWith('2'));
    parts.push(`${s.non2xx} non-2xx (${codes.map(([c, n]) => `${c}: ${n}`).join(', ')})`);
  }
  return parts.join(', ');
}
