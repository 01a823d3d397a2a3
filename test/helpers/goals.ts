/** Waiting on a goal over REST, as an operator's script would. */
import { until, type Harness } from './coordinator.js';

/** The goal's REST resource once `pred` holds (polled every 100 ms, up to timeoutMs). */
export function goalWhere(
  h: Harness,
  id: string,
  pred: (g: any) => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<any> {
  return until(
    `goal ${id}: ${what}`,
    async () => {
      const r = await fetch(`${h.restUrl}/v1/goals/${id}`);
      const g: any = await r.json();
      return pred(g) && g;
    },
    timeoutMs,
    100,
  );
}
