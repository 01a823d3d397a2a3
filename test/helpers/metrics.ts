/** Reading GET /metrics in tests: the exposition as samples, and sums over the samples whose labels match. */
import type { Harness } from './coordinator.js';

/** Sample lines of the exposition as `name{labels}` → value (labels as written, in prom-client's order). */
export function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return out;
}

/** The sum of every sample of `name` whose labels include all of `labels`. */
export function sum(samples: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const [key, v] of samples) {
    const brace = key.indexOf('{');
    if ((brace < 0 ? key : key.slice(0, brace)) !== name) continue;
    if (Object.entries(labels).every(([k, val]) => key.includes(`${k}="${val}"`))) total += v;
  }
  return total;
}

export async function scrape(
  h: Pick<Harness, 'restUrl'>,
): Promise<{ text: string; samples: Map<string, number>; contentType: string }> {
  const res = await fetch(`${h.restUrl}/metrics`);
  const text = await res.text();
  return { text, samples: parse(text), contentType: res.headers.get('content-type') ?? '' };
}
