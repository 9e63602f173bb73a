// What a gateway pays to move tunnel traffic: throughput of one iperf3 run and
// the CPU seconds the gateway's whole process tree spent meanwhile (ocserv
// moves packets in per-client worker processes forked from its main process;
// wolfguard in worker threads, which /proc/<pid>/stat already sums).
//
// CPU of a tree = Σ over live processes under the root of utime+stime (all
// threads) + cutime+cstime (children that exited and were reaped during the
// run). Kernel work done in softirq context on behalf of the gateway is not
// charged to it by Linux; the same blind spot applies to every gateway we
// compare, so the comparison stays fair.
import { processTree, processCpuSeconds } from '../../test/helpers/reaper';
import type { IperfResult } from '../../test/helpers/iperf';

const BITS_PER_BYTE = 8;
const BYTES_PER_GB = 1e9;
const BITS_PER_MBIT = 1e6;

export interface TunnelMeasurement {
  /** Receiver-side throughput (what actually crossed the tunnel). */
  mbitPerSec: number;
  /** Bytes the receiver got. */
  bytes: number;
  seconds: number;
  /** Gateway process tree CPU (user + system) during the run. */
  cpuSeconds: number;
  cpuSecondsPerGB: number;
  /** pids that made up the tree when the run ended. */
  pids: number[];
  iperf: IperfResult;
}

/** CPU seconds of pid and every descendant, keyed by pid. */
export function treeCpu(rootPid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const p of processTree(rootPid)) out.set(p, processCpuSeconds(p));
  return out;
}

/**
 * CPU spent between two snapshots. A process present only in `after` was
 * born during the run and counts whole; one present only in `before` died
 * and was reaped by a tree member whose cutime/cstime now carries its whole
 * life, so the part it had spent before the run is taken back out.
 */
export function cpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let s = 0;
  for (const [pid, cpu] of after) s += cpu - (before.get(pid) ?? 0);
  for (const [pid, cpu] of before) if (!after.has(pid)) s -= cpu;
  return s;
}

/** Runs `run` (an iperf3 through the gateway) and charges the gateway tree's CPU to the bytes moved. */
export async function measureTunnel(gatewayPid: number, run: () => Promise<IperfResult>): Promise<TunnelMeasurement> {
  const before = treeCpu(gatewayPid);
  if (before.size === 0) throw new Error(`gateway pid ${gatewayPid} is not running`);
  const iperf = await run();
  const after = treeCpu(gatewayPid);
  const cpuSeconds = Math.max(0, cpuDelta(before, after));
  const bytes = iperf.receivedBytes;
  return {
    mbitPerSec: (bytes * BITS_PER_BYTE) / iperf.seconds / BITS_PER_MBIT,
    bytes,
    seconds: iperf.seconds,
    cpuSeconds,
    cpuSecondsPerGB: bytes > 0 ? cpuSeconds / (bytes / BYTES_PER_GB) : Number.POSITIVE_INFINITY,
    pids: [...after.keys()],
    iperf,
  };
}
