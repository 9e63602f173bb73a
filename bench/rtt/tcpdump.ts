// A tcpdump in a namespace, for the RTT bench's packet timestamps (kernel
// software timestamps: what the packets did, not when a process saw them).
import { once } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { spawnInNs } from '../../test/helpers/netns';

/** A running tcpdump; stop() ends it and returns what it printed. */
export interface Capture {
  stop(): Promise<string>;
}

/** Kernel buffer for a capture (KiB): an idle probe is a few packets a millisecond. */
export const CAPTURE_BUFFER_KIB = 16_384;
/** BPF: TCP segments that carry data (IP length minus both headers); bare ACKs are left out. */
export const TCP_PAYLOAD = '(ip[2:2] - ((ip[0]&0xf)<<2) - ((tcp[12]&0xf0)>>2)) != 0';
const READY_TIMEOUT_MS = 10_000;

/** Starts `tcpdump ARGS` in `ns` and resolves once it listens. */
export async function startTcpdump(ns: string, args: readonly string[]): Promise<Capture> {
  const child: ChildProcess = spawnInNs(ns, 'tcpdump', [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start listening: ${err.trim()}`)), READY_TIMEOUT_MS);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      if (err.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tcpdump exited (${code}): ${err.trim()}`));
    });
  });
  try {
    await ready;
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return {
    async stop() {
      const exited = once(child, 'exit');
      child.kill('SIGINT');
      await exited;
      return out;
    },
  };
}
