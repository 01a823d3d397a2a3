/**
 * The trainer protocol: what a trainer reports on stdout, one JSON object per line (docs/jobs.md),
 *
 *   {"type":"progress","fraction":0.5,"message":"epoch 1"}     fraction in [0, 1]
 *   {"type":"metric","name":"loss","value":1.23,"step":10}     finite value; step an integer >= 0, optional
 *   {"type":"log","message":"..."}
 *   {"type":"output","path":"out.gguf","kind":"lora"}          path relative to the trainer's cwd, or absolute;
 *                                                              kind "model" (the default) or "lora" (a LoRA adapter)
 *
 * parsed here into a TrainerEvent, or the reason a line is not one (trainer-process.ts counts and reports those).
 */
import { jsonObject } from '../../src/json-object.js';

export type TrainerEvent =
  | { type: 'progress'; fraction: number; message?: string }
  | { type: 'metric'; name: string; value: number; step?: number }
  | { type: 'log'; message: string }
  | { type: 'output'; path: string; kind: OutputKind };

/** What a trainer wrote: a whole model, or a LoRA adapter of the base it was given. */
export type OutputKind = 'model' | 'lora';
const OUTPUT_KINDS: readonly string[] = ['model', 'lora'] satisfies OutputKind[];

const MAX_MESSAGE = 4096;
const MAX_NAME = 200;
const MAX_PATH = 4096;

/** A trainer's text for a message: control characters flattened, at most `max` characters. */
export function oneLine(s: string, max: number): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this strips from a trainer's line
  const flat = s.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

const isString = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;

/** The event a line carries, or why it is not one. */
export function parseTrainerLine(line: string): TrainerEvent | string {
  const o = jsonObject(line);
  if (typeof o === 'string') return o;
  // Each field is checked below before it is used.
  switch (o.type) {
    case 'progress':
      if (typeof o.fraction !== 'number' || !(o.fraction >= 0 && o.fraction <= 1))
        return 'progress.fraction must be a number in [0, 1]';
      if (o.message !== undefined && !isString(o.message, MAX_MESSAGE))
        return `progress.message must be a string of at most ${MAX_MESSAGE} characters`;
      return o.message === undefined
        ? { type: 'progress', fraction: o.fraction }
        : { type: 'progress', fraction: o.fraction, message: o.message };
    case 'metric':
      if (!isString(o.name, MAX_NAME) || o.name === '')
        return `metric.name must be a non-empty string of at most ${MAX_NAME} characters`;
      if (typeof o.value !== 'number' || !Number.isFinite(o.value)) return 'metric.value must be a finite number';
      if (o.step !== undefined && !(typeof o.step === 'number' && Number.isSafeInteger(o.step) && o.step >= 0))
        return 'metric.step must be an integer >= 0';
      return o.step === undefined
        ? { type: 'metric', name: o.name, value: o.value }
        : { type: 'metric', name: o.name, value: o.value, step: o.step };
    case 'log':
      if (!isString(o.message, MAX_MESSAGE)) return `log.message must be a string of at most ${MAX_MESSAGE} characters`;
      return { type: 'log', message: o.message };
    case 'output':
      if (!isString(o.path, MAX_PATH) || o.path === '' || o.path.includes('\0'))
        return 'output.path must be a non-empty path';
      if (o.kind !== undefined && !(typeof o.kind === 'string' && OUTPUT_KINDS.includes(o.kind)))
        return `output.kind must be "model" or "lora", got ${oneLine(JSON.stringify(o.kind) ?? 'undefined', 40)}`;
      return { type: 'output', path: o.path, kind: (o.kind as OutputKind | undefined) ?? 'model' };
    default:
      return `unknown type ${oneLine(JSON.stringify(o.type) ?? 'undefined', 40)}`;
  }
}
