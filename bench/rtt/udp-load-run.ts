// The parent's side of udp-load.ts: its sink started in a client namespace,
// its paced sender in the lan namespace, each resolved with its count.
// Shared by the RTT sweep, the 200-byte rows and the stall diagnostic.
import * as path from 'node:path';
import type { BenchEnv } from '../lib/netns-bench';

/** What the sender sent: datagrams, their UDP payload bytes, and how long it took. */
export interface LoadCount {
  packets: number;
  bytes: number;
  seconds: number;
}

export interface SinkCount extends LoadCount {
  /** Datagrams the kernel dropped at the sink's full socket buffer. */
  dropped: number;
}

const UDP_LOAD = path.join(__dirname, 'udp-load.js');
/**
 * The sink counts for this long after the load's end. openconnect, when a
 * flood outruns it, reads records until its socket is empty and writes them
 * to its TUN only then, so much of what it delivers arrives after the flood:
 * with the sink stopping 0.2-0.4 s after the load, a 400 Mbit/s step of the
 * RTT sweep counted 32,113 of the 71,909 packets openconnect wrote to its
 * TUN, and the overloaded steps swung 3-35 kpackets/s from run to run on
 * both gateways. With this tail the sink's count equals the client TUN's.
 */
const SINK_TAIL_SECONDS = 1;

/** Datagrams that reached the receiving host's socket: read or dropped there for want of a reader. */
export function reached(c: SinkCount): number {
  return c.packets + c.dropped;
}

/**
 * Starts the sink on `port` in `ns` for a load of `loadSeconds` (it counts
 * SINK_TAIL_SECONDS longer); resolves once it is bound.
 */
export async function startSink(env: BenchEnv, ns: string, port: number, loadSeconds: number): Promise<{ result: Promise<SinkCount> }> {
  const child = env.topo.spawn(ns, process.execPath, [UDP_LOAD, 'sink', String(port), String(loadSeconds + SINK_TAIL_SECONDS)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const result = new Promise<SinkCount>((resolve, reject) => {
    child.once('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code === 0) resolve(JSON.parse(last) as SinkCount);
      else reject(new Error(`udp sink exited with ${String(code)}: ${out}`));
    });
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('"ready"')) resolve();
    });
    result.catch(reject);
  });
  return { result };
}

/** Sends `mbit` Mbit/s of `payload`-byte UDP datagrams from the lan namespace to `dest`:`port` for `seconds`. */
export async function sendLoad(env: BenchEnv, dest: string, port: number, mbit: number | string, payload: number | string, seconds: number | string): Promise<LoadCount> {
  const r = await env.topo.exec(env.topo.lan.ns, process.execPath, [UDP_LOAD, 'send', dest, String(port), String(mbit), String(payload), String(seconds)], { timeoutMs: (Number(seconds) + 30) * 1000 });
  return JSON.parse(r.stdout.trim()) as LoadCount;
}
