/**
 * What a server process uses, read from /proc (Linux): CPU time and resident memory of the process, its threads and
 * its children. The engine is a child of the device worker's thread, not of the main thread, so every task's
 * children are read.
 */
import { readdirSync, readFileSync } from 'node:fs';

export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    let list = '';
    try {
      list = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8');
    } catch {
      continue;
    }
    out.push(...list.split(' ').filter(Boolean).map(Number));
  }
  return out;
}

const ticks = (p: number) => {
  const f = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]);
};

/** CPU ms used so far (utime + stime, USER_HZ 100) by the process and its threads, without its children. */
export function ownCpuMs(pid: number): number {
  return ticks(pid) * 10;
}

/** CPU ms used so far (utime + stime, USER_HZ 100) by the process, its threads and its children. */
export function cpuMs(pid: number): number {
  let total = ticks(pid);
  for (const c of childrenOf(pid)) {
    try {
      total += ticks(c);
    } catch {
      /* gone */
    }
  }
  return total * 10;
}

/** Resident memory in MiB: the process itself, and its children (the engine) together. */
export function rssMiB(pid: number): { main: number; children: number } {
  const rss = (p: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  let children = 0;
  for (const c of childrenOf(pid)) {
    try {
      children += rss(c);
    } catch {
      /* gone */
    }
  }
  return { main: Math.round(rss(pid)), children: Math.round(children) };
}

/**
 * Per thread of the process (not its children): CPU ms used so far and times it went to sleep (voluntary context
 * switches). Each sleep means a wake-up later, and on a VM like this one waking a sleeping thread costs the waker
 * ~0.1 ms of CPU (an IPI): wake-ups per request say much of what a request costs. Node 20 names no thread (all are
 * "node"): the main thread is the one whose id is the pid; the others are keyed by their id.
 */
export function threads(pid: number): Record<string, { cpuMs: number; sleeps: number }> {
  const out: Record<string, { cpuMs: number; sleeps: number }> = {};
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${task}/status`, 'utf8');
      const f = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8').split(') ')[1]!.split(' ');
      out[task === String(pid) ? 'main' : task] = {
        cpuMs: (Number(f[11]) + Number(f[12])) * 10,
        sleeps: Number(/\nvoluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0),
      };
    } catch {
      /* gone */
    }
  }
  return out;
}

/**
 * Proportional set size in MiB (/proc/PID/smaps_rollup): like rssMiB, but a page mapped more than once (the same
 * GGUF mmapped by two loads, in one process or two) is counted once in total, where RSS counts it per mapping.
 */
export function pssMiB(pid: number): { main: number; children: number } {
  const pss = (p: number) =>
    Number(/\nPss:\s+(\d+)/.exec(`\n${readFileSync(`/proc/${p}/smaps_rollup`, 'utf8')}`)?.[1] ?? 0) / 1024;
  let children = 0;
  for (const c of childrenOf(pid)) {
    try {
      children += pss(c);
    } catch {
      /* gone */
    }
  }
  return { main: Math.round(pss(pid)), children: Math.round(children) };
}
