/**
 * A server under `serve --workers N` is a primary and its worker processes: its CPU time and memory
 * are those of the whole process tree (/proc/<pid>/task/<tid>/children, Linux ≥ 3.5). For a
 * single-process server the tree is that one process, and the numbers are the same as before.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { cpuSeconds, memoryKb, resetPeakRss } from './harness.js';

/** The process and its descendants, alive now. */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const p = out[i]!;
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      try {
        for (const c of readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8').trim().split(/\s+/)) if (c) out.push(Number(c));
      } catch {
        // the thread ended while we looked
      }
    }
  }
  return out;
}

/** user+system CPU seconds of the tree (undefined when the root is gone). */
export function treeCpuSeconds(pid: number): number | undefined {
  const root = cpuSeconds(pid);
  if (root === undefined) return undefined;
  return processTree(pid).slice(1).reduce((n, p) => n + (cpuSeconds(p) ?? 0), root);
}

/** VmRSS and VmHWM of the tree, summed, in KiB. */
export function treeMemoryKb(pid: number): { rss: number; hwm: number } | undefined {
  const all = processTree(pid).map(memoryKb).filter((m): m is { rss: number; hwm: number } => m !== undefined);
  if (all.length === 0) return undefined;
  return { rss: all.reduce((n, m) => n + m.rss, 0), hwm: all.reduce((n, m) => n + m.hwm, 0) };
}

/** Reset the peak RSS of every process of the tree; false when one refused. */
export function resetTreePeakRss(pid: number): boolean {
  return processTree(pid).map(resetPeakRss).every(Boolean);
}
