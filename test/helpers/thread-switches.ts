// Context switches of every thread of a process, from /proc: how often it
// woke up (voluntary: it slept and was woken; non-voluntary: preempted).
import * as fs from 'node:fs';

const SWITCHES = /^(?:non)?voluntary_ctxt_switches:\s+(\d+)$/gm;

/** Sum over the threads alive now; a thread that ends meanwhile is left out. */
export function threadSwitches(pid: number): number {
  let n = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    let status: string;
    try {
      status = fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    } catch {
      continue;
    }
    for (const m of status.matchAll(SWITCHES)) n += Number(m[1]);
  }
  return n;
}
