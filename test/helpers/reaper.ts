// Leaves nothing behind: every process, namespace and temp path an e2e
// helper creates is registered here, and released on the normal path by the
// helper's own stop()/destroy(), or, if the test died half-way (assertion
// thrown before a finally, timeout, Ctrl-C), by the process 'exit' and signal
// handlers below. Only what was registered is touched, always by pid or by
// exact name: never by pattern.
import { execFileSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux x86_64
const STAT_FIELD_PPID = 1; // index in the fields after "(comm)"
const STAT_FIELD_STARTTIME = 19;
const SIGNAL_EXIT_BASE = 128;

/** A process we started (or one of its descendants), identified by pid and start time so a reused pid is never hit. */
export interface ProcessRef {
  pid: number;
  startTime: number;
}

const processes = new Map<number, ProcessRef>();
const namespaces = new Set<string>();
const paths = new Set<string>();
let installed = false;

/** Fields of /proc/<pid>/stat after the "(comm)" field, or undefined when the process is gone. */
export function statFields(pid: number): string[] | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm may contain spaces and parentheses; everything after the last ')' is fixed-format.
  return stat.slice(stat.lastIndexOf(')') + 2).trim().split(' ');
}

function startTimeOf(pid: number): number | undefined {
  const f = statFields(pid);
  // A zombie is already dead: nothing to signal, only its parent can reap it.
  if (f === undefined || f[0] === 'Z') return undefined;
  return Number(f[STAT_FIELD_STARTTIME]);
}

export function refOf(pid: number): ProcessRef | undefined {
  const startTime = startTimeOf(pid);
  return startTime === undefined ? undefined : { pid, startTime };
}

export function isAlive(ref: ProcessRef): boolean {
  return startTimeOf(ref.pid) === ref.startTime;
}

/**
 * For each thread of pid alive now, the contents of its /proc/PID/task/TID
 * files `names`, in that order; a thread (or the process) that ends while
 * they are read is left out.
 */
export function threadFiles(pid: number, names: readonly string[]): string[][] {
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out: string[][] = [];
  for (const tid of tids) {
    try {
      out.push(names.map((n) => fs.readFileSync(`/proc/${pid}/task/${tid}/${n}`, 'utf8')));
    } catch {
      /* the thread ended */
    }
  }
  return out;
}

/** Direct children of pid, from every thread's children list (threads may fork too). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const [text] of threadFiles(pid, ['children'])) {
    for (const c of text!.trim().split(/\s+/)) if (c !== '') out.push(Number(c));
  }
  return out;
}

/** pid and all its descendants, parents first. */
export function processTree(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  const seen = new Set<number>();
  while (queue.length > 0) {
    const p = queue.shift()!;
    if (seen.has(p)) continue;
    seen.add(p);
    if (statFields(p) === undefined) continue;
    out.push(p);
    queue.push(...childrenOf(p));
  }
  return out;
}

/** user+system CPU seconds of one process (all threads) plus its reaped children. */
export function processCpuSeconds(pid: number): number {
  const f = statFields(pid);
  if (f === undefined) return 0;
  // utime, stime, cutime, cstime are fields 14..17 of stat, i.e. 11..14 after comm.
  const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  return ticks / CLOCK_TICKS_PER_SECOND;
}

export function parentOf(pid: number): number | undefined {
  const f = statFields(pid);
  return f === undefined ? undefined : Number(f[STAT_FIELD_PPID]);
}

/** Snapshot of pid's tree as refs (so a later kill cannot hit a recycled pid). */
export function treeRefs(pid: number): ProcessRef[] {
  const out: ProcessRef[] = [];
  for (const p of processTree(pid)) {
    const r = refOf(p);
    if (r !== undefined) out.push(r);
  }
  return out;
}

export function signalRefs(refs: ProcessRef[], signal: NodeJS.Signals): void {
  for (const r of refs) {
    if (!isAlive(r)) continue;
    try {
      process.kill(r.pid, signal);
    } catch {
      // raced with its exit
    }
  }
}

/** pids of the processes living in a named network namespace (`ip netns pids`). */
export function namespacePidsSync(ns: string): number[] {
  try {
    const out = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return out.split(/\s+/).filter((t) => t !== '').map(Number);
  } catch {
    return [];
  }
}

function releaseAllSync(): void {
  for (const ref of processes.values()) if (isAlive(ref)) signalRefs(treeRefs(ref.pid), 'SIGKILL');
  processes.clear();
  for (const ns of namespaces) {
    // Whatever still runs inside a namespace this process created was started by it.
    for (const pid of namespacePidsSync(ns)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // raced with its exit
      }
    }
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
  namespaces.clear();
  for (const p of paths) fs.rmSync(p, { recursive: true, force: true });
  paths.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', releaseAllSync);
  for (const [sig, num] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]] as const) {
    process.once(sig, () => {
      releaseAllSync();
      process.exit(SIGNAL_EXIT_BASE + num);
    });
  }
}

export function trackProcess(pid: number): ProcessRef | undefined {
  install();
  const ref = refOf(pid);
  if (ref !== undefined) processes.set(pid, ref);
  return ref;
}

export function untrackProcess(pid: number): void {
  processes.delete(pid);
}

export function trackNamespace(name: string): void {
  install();
  namespaces.add(name);
}

export function untrackNamespace(name: string): void {
  namespaces.delete(name);
}

export function trackPath(p: string): void {
  install();
  paths.add(p);
}

export function untrackPath(p: string): void {
  paths.delete(p);
}

/** What is still registered: lets tests assert a helper released everything. */
export function registered(): { processes: number[]; namespaces: string[]; paths: string[] } {
  return { processes: [...processes.keys()], namespaces: [...namespaces], paths: [...paths] };
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Resolves when the child has exited (at once if it already has). */
export function exitOf(child: ChildProcess): Promise<ExitStatus> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

function delay(ms: number): Promise<'timeout'> {
  return new Promise((resolve) => setTimeout(() => resolve('timeout'), ms).unref());
}

/**
 * Ends a child we spawned and everything it forked: `signal` to the child,
 * up to graceMs for it to exit on its own terms (openconnect sends BYE on
 * SIGINT, ocserv stops its workers on SIGTERM), then SIGKILL to whatever of
 * the tree (as it was before the signal) is still alive.
 */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<ExitStatus> {
  const pid = child.pid;
  const exited = exitOf(child);
  if (pid !== undefined && child.exitCode === null && child.signalCode === null) {
    const before = treeRefs(pid);
    try {
      child.kill(signal);
    } catch {
      // raced with its exit
    }
    if ((await Promise.race([exited, delay(graceMs)])) === 'timeout') child.kill('SIGKILL');
    await exited;
    signalRefs(before, 'SIGKILL');
    untrackProcess(pid);
  }
  return exited;
}
