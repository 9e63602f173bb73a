// What a gateway's process tree costs while nothing happens: run time and
// wake-ups of all its threads over a window (thread-stats.ts). ocserv keeps a
// process per tunnel, wolfguard a few threads for all of them.
import { processTree } from '../../test/helpers/reaper';
import { threadStats } from '../../test/helpers/thread-stats';

export interface IdleCost {
  cpuMsPerSecond: number;
  wakeupsPerSecond: number;
}

const NS_PER_MS = 1e6;
const MS_PER_S = 1000;

function sample(rootPid: number): { runNs: number; switches: number } {
  let runNs = 0;
  let switches = 0;
  for (const pid of processTree(rootPid)) {
    const t = threadStats(pid);
    runNs += t.runNs;
    switches += t.switches;
  }
  return { runNs, switches };
}

export async function idleCost(rootPid: number, windowMs: number): Promise<IdleCost> {
  const a = sample(rootPid);
  await new Promise((r) => setTimeout(r, windowMs));
  const b = sample(rootPid);
  const seconds = windowMs / MS_PER_S;
  return { cpuMsPerSecond: (b.runNs - a.runNs) / NS_PER_MS / seconds, wakeupsPerSecond: (b.switches - a.switches) / seconds };
}
