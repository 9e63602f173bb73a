// What every thread of a process has done, from /proc: how often it woke up
// (context switches: voluntary, it slept and was woken; non-voluntary, it was
// preempted) and how long it ran (schedstat, in nanoseconds, not the 10 ms
// ticks of /proc/PID/stat).
import * as fs from 'node:fs';
import * as os from 'node:os';
import { threadFiles } from './reaper';
import { parseCpuList } from '../../src/main/plane-cpus';

const SWITCHES = /^(?:non)?voluntary_ctxt_switches:\s+(\d+)$/gm;

export interface ThreadStats {
  switches: number;
  runNs: number;
}

/** Sums over the threads alive now; a thread or process that ends meanwhile is left out. */
export function threadStats(pid: number): ThreadStats {
  const out: ThreadStats = { switches: 0, runNs: 0 };
  for (const [status, schedstat] of threadFiles(pid, ['status', 'schedstat'])) {
    for (const m of status!.matchAll(SWITCHES)) out.switches += Number(m[1]);
    out.runNs += Number(schedstat!.split(' ')[0]);
  }
  return out;
}

/** Run time (ns) of the threads alive now, summed per thread name (comm). */
export function runNsByName(pid: number): Map<string, { threads: number; runNs: number }> {
  const out = new Map<string, { threads: number; runNs: number }>();
  for (const [comm, schedstat] of threadFiles(pid, ['comm', 'schedstat'])) {
    const name = comm!.trim();
    const e = out.get(name) ?? { threads: 0, runNs: 0 };
    e.threads++;
    e.runNs += Number(schedstat!.split(' ')[0]);
    out.set(name, e);
  }
  return out;
}

/** The CPUs the process's main thread may run on, and each thread named `name`'s, from /proc status. */
export function cpusAllowed(pid: number, name: string): { process: number[]; threads: number[][] } {
  const allowed = (status: string) => parseCpuList(/^Cpus_allowed_list:\s*(\S+)$/m.exec(status)?.[1] ?? '');
  const threads = threadFiles(pid, ['comm', 'status']).filter(([comm]) => comm!.trim() === name).map(([, status]) => allowed(status!));
  return { process: allowed(fs.readFileSync(`/proc/${pid}/status`, 'utf8')), threads };
}

/** Custom SCHED_OTHER slices (sched_setattr's sched_runtime) came with EEVDF in Linux 6.12. */
export function kernelHasCustomSlices(release = os.release()): boolean {
  const [major = 0, minor = 0] = release.split('.').map((x) => parseInt(x, 10));
  return major > 6 || (major === 6 && minor >= 12);
}
