/**
 * Trainer command templates (config jobs.trainers) and the built-in trainers, `demo` and `lora`. A template is an argv,
 * never a shell line: a job's params are substituted into single arguments and cannot inject commands.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../schemas/config.js';
import { toolArgs } from '../../src/entry.js';
import { errors } from '../../src/errors.js';
import { packageRoot } from '../../src/package-root.js';

export interface TrainerConfig {
  command: string[];
  timeoutMs: number;
  graceMs: number;
}

/** What a template may name besides {param.NAME}. */
export interface TrainerVars {
  node: string;
  package: string;
  base: string;
  data: string;
  out: string;
  job: string;
}

const PLACEHOLDER = /\{([a-z]+)(?:\.([A-Za-z0-9_]+)(?::([^}]*))?)?\}/g;

/**
 * The built-in stand-in: src/tools/toy-trainer.ts, which reads the dataset and writes a LoRA adapter of the base
 * (reported as kind "lora", registered on the base) but learns nothing (docs/jobs.md). Run from source (tsx) or from
 * the build, whichever this process runs.
 */
let demo: TrainerConfig | undefined;
export function demoTrainer(): TrainerConfig {
  return (demo ??= buildDemoTrainer());
}

function buildDemoTrainer(): TrainerConfig {
  return {
    command: [
      '{node}',
      ...toolArgs('toy-trainer'),
      '--base',
      '{base}',
      '--data',
      '{data}',
      '--out',
      '{out}',
      '--epochs',
      '{param.epochs:1}',
      '--step-ms',
      '{param.step_ms:0}',
    ],
    timeoutMs: 600_000,
    graceMs: 5000,
  };
}

/** Debian's python3 (a pyenv python3 earlier on PATH has no torch); -B: no bytecode written into the package. */
export const LORA_PYTHON = '/usr/bin/python3';

/**
 * Whether the `lora` trainer can run here: LORA_PYTHON finds torch and numpy. Asked once per process, at the first
 * submit or lookup naming it, on the main thread: so it finds the packages without importing them (importing torch
 * takes 1-2 s of CPU; finding it, one Python start, ~30 ms). A torch that is installed but broken fails the job with
 * the trainer's own error. Installing python3-torch later needs a restart.
 */
let torchThere: boolean | undefined;
const FIND_TORCH =
  "import importlib.util as u, sys; sys.exit(0 if u.find_spec('torch') and u.find_spec('numpy') else 1)";
export function loraTrainerAvailable(): boolean {
  torchThere ??= spawnSync(LORA_PYTHON, ['-B', '-c', FIND_TORCH], { stdio: 'ignore', timeout: 10_000 }).status === 0;
  return torchThere;
}

/**
 * The built-in reference trainer (src/trainers/lora/train.py, docs/jobs.md "The LoRA trainer"): SFT or DPO of a LoRA
 * adapter with PyTorch, its forward and its adapter checked against llama.cpp through engine-logits (its argv passed as JSON,
 * run from source or from the build as this process is).
 */
let lora: TrainerConfig | undefined;
export function loraTrainer(): TrainerConfig {
  return (lora ??= buildLoraTrainer());
}

function buildLoraTrainer(): TrainerConfig {
  const engineLogits = [process.execPath, ...toolArgs('engine-logits')];
  const flag = (name: string, dflt: string) => [`--${name}`, `{param.${name}:${dflt}}`];
  return {
    command: [
      LORA_PYTHON,
      '-B',
      // The .py files are not compiled: they live under src/ in the source tree and in the package alike.
      path.join(packageRoot(), 'src/trainers/lora/train.py'),
      '--base',
      '{base}',
      '--data',
      '{data}',
      '--out',
      '{out}',
      ...flag('method', 'sft'),
      ...flag('rank', '8'),
      ...flag('alpha', '16'),
      ...flag('lr', '1e-3'),
      ...flag('epochs', '3'),
      ...flag('batch', '8'),
      ...flag('seed', '1'),
      ...flag('beta', '0.1'),
      '--engine-logits',
      JSON.stringify(engineLogits),
    ],
    timeoutMs: 3_600_000,
    graceMs: 5000,
  };
}

/**
 * The trainers of this server: the configured ones, and the built-ins `demo` and `lora` (`lora` where torch is
 * installed) unless the config defines its own of that name.
 */
export function trainers(config: Config): Record<string, TrainerConfig> {
  return {
    demo: demoTrainer(),
    ...(config.jobs.trainers.lora || !loraTrainerAvailable() ? {} : { lora: loraTrainer() }),
    ...config.jobs.trainers,
  };
}

export function trainerOf(config: Config, name: string | undefined): TrainerConfig {
  const want = name ?? 'demo';
  // Asked before the table is built: naming neither `lora` nor an unknown trainer never spawns the torch probe.
  // Own keys only: a trainer named `constructor` is not Object.prototype's.
  const configured = Object.hasOwn(config.jobs.trainers, want) ? config.jobs.trainers[want] : undefined;
  if (configured) return configured;
  if (want === 'demo') return demoTrainer();
  if (want === 'lora') {
    if (!loraTrainerAvailable())
      throw errors.trainerUnavailable(
        'lora',
        `${LORA_PYTHON} cannot import torch and numpy; install them (apt-get install python3-torch python3-numpy) and restart MOC, or configure a trainer named lora under jobs.trainers`,
      );
    return loraTrainer();
  }
  throw errors.trainerNotConfigured(want, Object.keys(trainers(config)));
}

/** The argv of one run; a {param.NAME} the job does not give and the template has no default for is refused. */
export function expandCommand(
  template: string[],
  vars: TrainerVars,
  params: Record<string, string | number | boolean>,
): string[] {
  return template.map((arg) =>
    arg.replace(PLACEHOLDER, (whole, name: string, key?: string, dflt?: string) => {
      if (name === 'param' && key !== undefined) {
        const v = params[key] ?? dflt;
        if (v === undefined)
          throw errors.invalidArgument(`spec.params.${key}`, `the trainer's command needs it; add it to spec.params`);
        return String(v);
      }
      if (key === undefined && name in vars) return vars[name as keyof TrainerVars];
      return whole; // not a placeholder of ours: left as written
    }),
  );
}

/** Per template: the {param.NAME} it needs that have no default (computed once: a submit checks each one). */
const needed = new WeakMap<string[], string[]>();
function neededParams(template: string[]): string[] {
  let names = needed.get(template);
  if (!names) {
    names = [];
    for (const arg of template)
      for (const m of arg.matchAll(PLACEHOLDER))
        if (m[1] === 'param' && m[2] !== undefined && m[3] === undefined) names.push(m[2]);
    needed.set(template, names);
  }
  return names;
}

/** Checked at submit: the trainer exists and every param its template needs is there. */
export function checkTrainerParams(
  config: Config,
  name: string | undefined,
  params: Record<string, string | number | boolean>,
): void {
  const t = trainerOf(config, name);
  for (const key of neededParams(t.command)) {
    if (params[key] === undefined)
      throw errors.invalidArgument(`spec.params.${key}`, `the trainer's command needs it; add it to spec.params`);
  }
}

/** A process's identity that survives pid reuse: its start time in clock ticks (/proc/<pid>/stat field 22). */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * A job taken over from a process that died may have left its trainer running (it had its own process group):
 * that group is killed before the job runs again. Its leader may have exited (a wrapper that ends on stdin's end)
 * and left workers in the group: those are killed too. A pid held by another process now (another start time) is
 * left alone: Linux reuses no pid still some process's group id, so the old group is empty then.
 */
export function killOrphan(p: { pid: number; start: string } | undefined): boolean {
  if (!p || p.pid <= 1) return false;
  const start = processStart(p.pid);
  if (start !== undefined && start !== p.start) return false;
  if (start === undefined && processStart(process.pid) === undefined) return false; // no /proc: nothing is known
  try {
    process.kill(-p.pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}
