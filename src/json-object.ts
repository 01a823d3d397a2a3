/**
 * One line of a JSON-lines file as an object, or why it is not one: what trainers report (actors/jobs/
 * trainer-protocol.ts) and what datasets hold (actors/jobs/dataset.ts, src/model/dataset-task.ts) are both read so.
 * The object's fields are still unknown: each reader checks the ones it uses.
 */
export function jsonObject(text: string): Record<string, unknown> | 'not JSON' | 'not a JSON object' {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  return v as Record<string, unknown>;
}
