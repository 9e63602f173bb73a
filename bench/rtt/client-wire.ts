// The RTT through the tunnel as the client's interface sees it: each echo
// request's TLS record leaving the probe's namespace → the record carrying
// its reply arriving there (tcpdump, kernel timestamps). The probe's own
// process is outside the span: on this 2-core VM its Node event loop, timers
// and TLS added 60-90 µs at p50 and most of the p99 to whatever the gateway
// did, alike for both gateways (tuning.md, "Where the RTT is timed, and the 200-byte upload's sender").
// ping takes its receive time from the kernel for the same reason.
// Parsing and pairing are pure.
import { rm } from 'node:fs/promises';
import { execInNs } from '../../test/helpers/netns';
import { startTcpdump, CAPTURE_BUFFER_KIB, TCP_PAYLOAD, type Capture } from './tcpdump';

/** One TLS segment of the probe's connection with data in it. */
export interface WireSegment {
  tUs: number;
  /** From the probe to the gateway. */
  out: boolean;
  /** TCP sequence number of the first payload byte, as on the wire (32 bits). */
  seq: number;
  /** TCP payload bytes. */
  bytes: number;
}

// `tcpdump -r FILE -nn -tt -S --time-stamp-precision=nano` lines on the
// client's Ethernet link, e.g.
//   1796618488.573852123 IP 10.200.0.10.20001 > 10.200.0.1.4443: Flags [P.], seq 3288046532:3288046646, ack 1409411042, win 501, options [nop,nop,TS val 1 ecr 2], length 114
const LINE = /^(\d+)\.(\d+) IP (\S+) > (\S+): Flags \[[^\]]*\], seq (\d+):\d+, .*length (\d+)/;
const SEQ_SPACE = 2 ** 32;
const NS_PER_US = 1000;
const US_PER_S = 1e6;

/** The probe connection's data segments, in time order. */
export function parseWire(text: string, clientPort: number, gatewayPort: number): WireSegment[] {
  const client = `.${clientPort}`;
  const gateway = `.${gatewayPort}`;
  const out: WireSegment[] = [];
  for (const line of text.split('\n')) {
    const m = LINE.exec(line.trim());
    if (!m) continue;
    const [, sec, frac, from, to, seqText, bytesText] = m as unknown as [string, string, string, string, string, string, string];
    const bytes = Number(bytesText);
    if (bytes === 0) continue;
    const tUs = Number(sec) * US_PER_S + Number(frac.padEnd(9, '0').slice(0, 9)) / NS_PER_US;
    const seq = Number(seqText);
    if (from.endsWith(client) && to.endsWith(gateway)) out.push({ tUs, out: true, seq, bytes });
    else if (from.endsWith(gateway) && to.endsWith(client)) out.push({ tUs, out: false, seq, bytes });
  }
  return out.sort((a, b) => a.tUs - b.tUs);
}

/**
 * The RTT of every answered echo, in send order, or the reason the capture
 * cannot be paired with the probe's run.
 *
 * Only bytes a direction has not carried before count: a TCP retransmission
 * repeats sequence numbers and is left out. An echo's request and reply are
 * records of one length (same ICMP size, same cipher both ways), the
 * commonest length the probe sent; records of other lengths (the login,
 * DPD) are not echoes. A segment of k such lengths is k records sent
 * together. Requests leave in send order and replies come back
 * in it (one path, one queue), so the j-th reply answers the j-th echo the
 * probe saw answered; the probe's count of echoes sent checks the pairing.
 */
export function pairWire(segments: readonly WireSegment[], sent: number, unanswered: readonly number[]): { rttUs: number[] } | { problem: string } {
  const fresh = freshBytes(segments);
  const lengths = new Map<number, number>();
  for (const s of fresh) if (s.out) lengths.set(s.bytes, (lengths.get(s.bytes) ?? 0) + 1);
  let record = 0;
  let most = 0;
  for (const [len, n] of lengths) if (n > most) [record, most] = [len, n];
  if (record === 0) return { problem: 'no record from the probe in the capture' };
  const times = (out: boolean): number[] => fresh.filter((s) => s.out === out && s.bytes % record === 0).flatMap((s) => new Array<number>(s.bytes / record).fill(s.tUs));
  const requests = times(true);
  const replies = times(false);
  if (requests.length !== sent) return { problem: `${requests.length} echo records captured leaving, the probe sent ${sent}` };
  const lost = new Set(unanswered);
  const answered: number[] = [];
  for (let i = 0; i < sent; i++) if (!lost.has(i)) answered.push(i);
  if (replies.length < answered.length) return { problem: `${replies.length} echo records captured arriving, the probe had ${answered.length} answers` };
  const rttUs = answered.map((i, j) => replies[j]! - requests[i]!);
  if (rttUs.some((us) => !(us > 0))) return { problem: 'a reply captured before its request' };
  return { rttUs };
}

/** Each segment cut to the bytes its direction had not carried yet; segments with none (retransmissions) left out. */
function freshBytes(segments: readonly WireSegment[]): WireSegment[] {
  const first = new Map<boolean, number>();
  const next = new Map<boolean, number>();
  const out: WireSegment[] = [];
  for (const s of segments) {
    if (!first.has(s.out)) first.set(s.out, s.seq);
    // Offset into the direction's stream; a run carries far less than 4 GiB.
    const start = (s.seq - first.get(s.out)! + SEQ_SPACE) % SEQ_SPACE;
    const end = start + s.bytes;
    const from = Math.max(start, next.get(s.out) ?? 0);
    if (end <= from) continue;
    next.set(s.out, end);
    out.push({ ...s, bytes: end - from });
  }
  return out;
}

/**
 * A capture of the probe's connection (from `clientPort`, which the bench
 * gives the probe: the load tunnel's openconnect shares the namespace and the
 * gateway's port) on one interface of `ns`, written to `file`; stop() returns
 * its text.
 */
export async function startWireCapture(ns: string, dev: string, clientPort: number, gatewayPort: number, file: string): Promise<Capture> {
  // Written to a file, not printed line by line: tcpdump and the bench then
  // wake up once a buffer fills, not at every packet, on the cores the
  // gateways and the probe share.
  const filter = `tcp port ${gatewayPort} and tcp port ${clientPort} and ${TCP_PAYLOAD}`;
  // -Z root: tcpdump would otherwise give up root before opening the file, in a folder only root writes.
  const capture = await startTcpdump(ns, ['-i', dev, '-nn', '--time-stamp-precision=nano', '-B', String(CAPTURE_BUFFER_KIB), '-Z', 'root', '-w', file, filter]);
  return {
    async stop() {
      await capture.stop();
      try {
        return (await execInNs(ns, 'tcpdump', ['-r', file, '-nn', '-tt', '-S', '--time-stamp-precision=nano'])).stdout;
      } finally {
        await rm(file, { force: true });
      }
    },
  };
}
