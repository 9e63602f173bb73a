// The offered load of the RTT sweep, without iperf3 (whose UDP -R runs did not
// end on time through a saturated tunnel):
//   node udp-load.js send DEST PORT MBIT PAYLOAD_BYTES SECONDS   (lan side)
//   node udp-load.js sink PORT SECONDS                           (client side)
// Each prints one JSON line: {"packets": n, "bytes": n, "seconds": s}
// (bytes of UDP payload sent or received); the sink adds "dropped": datagrams
// that reached its socket while the buffer was full. The tunnel delivered
// those too: on a small machine this Node process is often slower than the
// VPN client it shares a core with, and its own losses are not the gateway's.
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import { packetsDue } from './pacing';

/** Datagrams sent per turn before the loop yields (lets libuv drain the socket). */
const MAX_BURST = 64;
/** The sink waits this long after SECONDS for late packets. */
const SINK_GRACE_MS = 500;
const BITS_PER_MBIT = 1e6;

async function send(dest: string, port: number, mbit: number, payload: number, seconds: number): Promise<object> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, () => r()));
  sock.connect(port, dest);
  await new Promise<void>((r) => sock.once('connect', () => r()));
  const buf = Buffer.alloc(payload, 0x5a);
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(Math.round(seconds * 1e9));
  let sent = 0;
  let errors = 0;
  for (;;) {
    const now = process.hrtime.bigint();
    if (now >= end) break;
    const n = packetsDue(mbit * BITS_PER_MBIT, payload, Number(now - t0), sent, MAX_BURST);
    for (let i = 0; i < n; i++) sock.send(buf, (e) => (e ? errors++ : undefined));
    sent += n;
    await new Promise((r) => (n === 0 ? setTimeout(r, 0) : setImmediate(r)));
  }
  const took = Number(process.hrtime.bigint() - t0) / 1e9;
  await new Promise((r) => setTimeout(r, 50));
  sock.close();
  return { packets: sent, bytes: sent * payload, seconds: took, errors };
}

async function sink(port: number, seconds: number): Promise<object> {
  const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  let packets = 0;
  let bytes = 0;
  let first: bigint | undefined;
  let last: bigint | undefined;
  sock.on('message', (m) => {
    last = process.hrtime.bigint();
    first ??= last;
    packets++;
    bytes += m.length;
  });
  await new Promise<void>((r) => sock.bind(port, () => r()));
  process.stdout.write('{"ready":true}\n');
  await new Promise((r) => setTimeout(r, seconds * 1000 + SINK_GRACE_MS));
  const dropped = socketDrops(sock.address().port);
  sock.close();
  const span = first !== undefined && last !== undefined ? Number(last - first) / 1e9 : 0;
  return { packets, bytes, seconds: span, dropped };
}

/**
 * The kernel's drop count of the UDP socket bound to `port` in this process's
 * network namespace: the last column of /proc/net/udp ("drops"), whose
 * local_address column ends in the port in hex.
 */
export function socketDrops(port: number, table = fs.readFileSync('/proc/self/net/udp', 'utf8')): number {
  const suffix = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of table.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length > 2 && cols[1]!.endsWith(suffix)) return Number(cols[cols.length - 1]);
  }
  throw new Error(`no UDP socket on port ${port} in /proc/self/net/udp`);
}

async function main(): Promise<void> {
  const [mode, ...a] = process.argv.slice(2);
  const out = mode === 'send' ? await send(a[0]!, Number(a[1]), Number(a[2]), Number(a[3]), Number(a[4])) : mode === 'sink' ? await sink(Number(a[0]), Number(a[1])) : undefined;
  if (out === undefined) throw new Error('usage: udp-load.js send DEST PORT MBIT PAYLOAD SECONDS | sink PORT SECONDS');
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`${String((e as Error).stack ?? e)}\n`);
    process.exit(1);
  });
}
