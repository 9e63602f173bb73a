// The parent's side of udp-load.ts's sink: started in a client namespace,
// resolved with its count. Shared by the RTT sweep and the 200-byte rows.
import * as path from 'node:path';
import type { BenchEnv } from '../lib/netns-bench';

export interface SinkCount {
  /** Datagrams the sink read, and their UDP payload bytes. */
  packets: number;
  bytes: number;
  seconds: number;
  /** Datagrams the kernel dropped at the sink's full socket buffer. */
  dropped: number;
}

const UDP_LOAD = path.join(__dirname, 'udp-load.js');

/** Datagrams that reached the receiving host's socket: read or dropped there for want of a reader. */
export function reached(c: SinkCount): number {
  return c.packets + c.dropped;
}

/** Starts the sink on `port` for `seconds` in `ns`; resolves once it is bound. */
export async function startSink(env: BenchEnv, ns: string, port: number, seconds: number): Promise<{ result: Promise<SinkCount> }> {
  const child = env.topo.spawn(ns, process.execPath, [UDP_LOAD, 'sink', String(port), String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
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
