// Recognising our own ICMP echo replies among the tunnel's frames. Pure: any
// bytes in, a match or undefined out (a tunnel also carries DPD, keepalives
// and other hosts' packets; none of them may throw).

const IPV4_VERSION = 4;
const IPV4_MIN_HEADER = 20;
const PROTO_ICMP = 1;
const ICMP_ECHO_REPLY = 0;
const ICMP_ECHO_HEADER = 8;

export interface EchoReply {
  id: number;
  seq: number;
}

/** The id and sequence of an IPv4 ICMP echo reply, else undefined. */
export function parseEchoReplyV4(pkt: Buffer): EchoReply | undefined {
  if (pkt.length < IPV4_MIN_HEADER + ICMP_ECHO_HEADER) return undefined;
  if (pkt[0]! >> 4 !== IPV4_VERSION) return undefined;
  const ihl = (pkt[0]! & 0x0f) * 4;
  if (ihl < IPV4_MIN_HEADER || pkt.length < ihl + ICMP_ECHO_HEADER) return undefined;
  if (pkt[9] !== PROTO_ICMP || pkt[ihl] !== ICMP_ECHO_REPLY) return undefined;
  return { id: pkt.readUInt16BE(ihl + 4), seq: pkt.readUInt16BE(ihl + 6) };
}
