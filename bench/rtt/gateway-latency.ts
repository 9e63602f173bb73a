// What the gateway itself adds to a probe's round trip, from packet
// timestamps taken inside the gateway's namespace (tcpdump, kernel software
// timestamps): inbound, the probe's TLS record arriving on the outer bridge
// → its ICMP echo request leaving on the lan link; outbound, the echo reply
// arriving on the lan link → the TLS record carrying it leaving on the
// bridge. The probe's process, the client's kernel and the lan host are in
// neither span; on this shared 2-core VM they made most of the RTT's tail
// (tuning.md, "Where the idle RTT goes"). Parsing and pairing are pure.
import { CAPTURE_BUFFER_KIB, startTcpdump, TCP_PAYLOAD, type Capture } from './tcpdump';

export interface CapturedPacket {
  tUs: number;
  kind: 'tlsIn' | 'tlsOut' | 'echoRequest' | 'echoReply';
}

/** The probe's connection and tunnel address, and the devices to look at. */
export interface ProbeFlow {
  clientPort: number;
  gatewayPort: number;
  tunnelAddress: string;
  outerDev: string;
  lanDev: string;
}

// `tcpdump -i any -nn -tt --time-stamp-precision=nano -q` lines, e.g.
//   1796618488.573852123 br0   In  IP 10.200.0.10.41234 > 10.200.0.1.4443: tcp 114
//   1796618488.573907001 lan0  Out IP 10.78.0.2 > 10.201.0.2: ICMP echo request, id 7, seq 3, length 64
const LINE = /^(\d+)\.(\d+) (\S+) +(In|Out) +IP (\S+) > (\S+): (.*)$/;
const NS_PER_US = 1000;
const US_PER_S = 1e6;

/** The probe's packets in a capture, in time order; every other line is left out. */
export function parseCapture(text: string, flow: ProbeFlow): CapturedPacket[] {
  const out: CapturedPacket[] = [];
  const client = `.${flow.clientPort}`;
  const gateway = `.${flow.gatewayPort}`;
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const [, sec, frac, dev, dir, from, to, rest] = m as unknown as [string, string, string, string, string, string, string, string];
    const tUs = Number(sec) * US_PER_S + Number(frac.padEnd(9, '0').slice(0, 9)) / NS_PER_US;
    if (dev === flow.outerDev && rest.startsWith('tcp ') && Number(rest.slice(4)) > 0) {
      if (dir === 'In' && from.endsWith(client) && to.endsWith(gateway)) out.push({ tUs, kind: 'tlsIn' });
      else if (dir === 'Out' && from.endsWith(gateway) && to.endsWith(client)) out.push({ tUs, kind: 'tlsOut' });
    } else if (dev === flow.lanDev) {
      if (dir === 'Out' && from === flow.tunnelAddress && rest.startsWith('ICMP echo request')) out.push({ tUs, kind: 'echoRequest' });
      else if (dir === 'In' && to === flow.tunnelAddress && rest.startsWith('ICMP echo reply')) out.push({ tUs, kind: 'echoReply' });
    }
  }
  return out.sort((a, b) => a.tUs - b.tUs);
}

/**
 * Each echo request with the record that brought it (the last one before
 * it), each record out with the reply it carries (the last reply before it):
 * one echo is in flight at a time (1 ms apart, answered in well under that),
 * so order pairs them. A record or reply used once is not used again.
 */
export function pairSpans(packets: readonly CapturedPacket[]): { inboundUs: number[]; outboundUs: number[]; totalUs: number[] } {
  const inboundUs: number[] = [];
  const outboundUs: number[] = [];
  // Both spans of one echo: its inbound span, waiting for the outbound one.
  const totalUs: number[] = [];
  let tlsIn: number | undefined;
  let reply: number | undefined;
  let inbound: number | undefined;
  for (const p of packets) {
    if (p.kind === 'tlsIn') tlsIn = p.tUs;
    else if (p.kind === 'echoReply') reply = p.tUs;
    else if (p.kind === 'echoRequest' && tlsIn !== undefined) {
      inbound = p.tUs - tlsIn;
      inboundUs.push(inbound);
      tlsIn = undefined;
    } else if (p.kind === 'tlsOut' && reply !== undefined) {
      const outbound = p.tUs - reply;
      outboundUs.push(outbound);
      if (inbound !== undefined) totalUs.push(inbound + outbound);
      inbound = undefined;
      reply = undefined;
    }
  }
  return { inboundUs, outboundUs, totalUs };
}

/**
 * Starts tcpdump on every interface of `ns` for the probe's packets (TLS
 * records with a payload on `gatewayPort`, ICMP) and resolves once it listens.
 */
export function startCapture(ns: string, gatewayPort: number): Promise<Capture> {
  const filter = `(tcp port ${gatewayPort} and ${TCP_PAYLOAD}) or icmp`;
  return startTcpdump(ns, ['-i', 'any', '-nn', '-tt', '--time-stamp-precision=nano', '-q', '-l', '-B', String(CAPTURE_BUFFER_KIB), filter]);
}
