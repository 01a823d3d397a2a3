/**
 * What a server process uses, read from /proc (Linux): CPU time and resident memory of the process, its threads and
 * its children. The engine is a child of the device worker's thread, not of the main thread, so every task's
 * children are read.
 */
import { readdirSync, readFileSync } from 'node:fs';

function childrenOf(pid: number): number[] {
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
