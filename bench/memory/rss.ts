// Resident memory of a gateway's whole process tree, from /proc. ocserv forks
// one worker per client, so its cost is the sum over processes; wolfguard's
// shards are threads of one process. RSS counts pages shared between ocserv's
// forked workers once per process (what `ps` and most monitoring show); PSS
// splits them between the sharers, so it is given alongside.
import * as fs from 'node:fs';
import { processTree } from '../../test/helpers/reaper';

const KIB = 1024;

/** The value in kB of a "Name:   123 kB" line, or 0 when absent. */
export function kbField(text: string, name: string): number {
  const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

function read(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return ''; // the process exited meanwhile
  }
}

export interface TreeMemory {
  processes: number;
  rssBytes: number;
  pssBytes: number;
}

export function treeMemory(rootPid: number): TreeMemory {
  let rss = 0;
  let pss = 0;
  const pids = processTree(rootPid);
  for (const pid of pids) {
    rss += kbField(read(`/proc/${pid}/status`), 'VmRSS');
    pss += kbField(read(`/proc/${pid}/smaps_rollup`), 'Pss');
  }
  return { processes: pids.length, rssBytes: rss * KIB, pssBytes: pss * KIB };
}
