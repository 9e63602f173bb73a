// Hand-built IP packets for data-plane tests (ICMP/ICMPv6 echo), and a tiny
// CSTP frame reader for the client side.

function checksum(buf: Buffer, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length % 2) sum += buf[buf.length - 1]! << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

function v4(a: string): Buffer {
  return Buffer.from(a.split('.').map(Number));
}

export function icmpEchoV4(src: string, dst: string, id: number, seq: number, data: Buffer): Buffer {
  const icmp = Buffer.alloc(8 + data.length);
  icmp[0] = 8; // echo request
  icmp.writeUInt16BE(id, 4);
  icmp.writeUInt16BE(seq, 6);
  data.copy(icmp, 8);
  icmp.writeUInt16BE(checksum(icmp), 2);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + icmp.length, 2);
  ip[8] = 64; // TTL
  ip[9] = 1; // ICMP
  v4(src).copy(ip, 12);
  v4(dst).copy(ip, 16);
  ip.writeUInt16BE(checksum(ip), 10);
  return Buffer.concat([ip, icmp]);
}

export interface UdpV4Options {
  /** IP identification. */
  id: number;
  /** Don't Fragment (default true, as a connected socket sends). */
  df?: boolean;
  /** Put this in the UDP checksum instead of the right one (0: none). */
  udpChecksum?: number;
}

/** An IPv4 UDP datagram with right checksums (unless told otherwise). */
export function udpV4(src: string, dst: string, sport: number, dport: number, data: Buffer, o: UdpV4Options): Buffer {
  const udp = Buffer.alloc(8 + data.length);
  udp.writeUInt16BE(sport, 0);
  udp.writeUInt16BE(dport, 2);
  udp.writeUInt16BE(udp.length, 4);
  data.copy(udp, 8);
  const pseudo = Buffer.concat([v4(src), v4(dst), Buffer.from([0, 17]), Buffer.from([udp.length >> 8, udp.length & 0xff])]);
  const sum = checksum(Buffer.concat([pseudo, udp]));
  udp.writeUInt16BE(o.udpChecksum ?? (sum === 0 ? 0xffff : sum), 6);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + udp.length, 2);
  ip.writeUInt16BE(o.id & 0xffff, 4);
  if (o.df ?? true) ip[6] = 0x40;
  ip[8] = 64;
  ip[9] = 17;
  v4(src).copy(ip, 12);
  v4(dst).copy(ip, 16);
  ip.writeUInt16BE(checksum(ip), 10);
  return Buffer.concat([ip, udp]);
}

/** Whether an IPv4 UDP datagram's header and UDP checksums are right. */
export function udpV4ChecksumsOk(p: Buffer): boolean {
  if (checksum(p.subarray(0, 20)) !== 0) return false;
  const udp = p.subarray(20);
  const pseudo = Buffer.concat([p.subarray(12, 20), Buffer.from([0, 17]), Buffer.from([udp.length >> 8, udp.length & 0xff])]);
  return udp.readUInt16BE(6) !== 0 && checksum(Buffer.concat([pseudo, udp])) === 0;
}

function v6(a: string): Buffer {
  const [head, tail] = a.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

/** An IPv6 UDP datagram with a right checksum (unless told otherwise). */
export function udpV6(src: string, dst: string, sport: number, dport: number, data: Buffer, o: { flowLabel?: number; udpChecksum?: number } = {}): Buffer {
  const udp = Buffer.alloc(8 + data.length);
  udp.writeUInt16BE(sport, 0);
  udp.writeUInt16BE(dport, 2);
  udp.writeUInt16BE(udp.length, 4);
  data.copy(udp, 8);
  const ip = Buffer.alloc(40);
  ip.writeUInt32BE((6 << 28) | ((o.flowLabel ?? 0) & 0xfffff), 0);
  ip.writeUInt16BE(udp.length, 4);
  ip[6] = 17;
  ip[7] = 64;
  v6(src).copy(ip, 8);
  v6(dst).copy(ip, 24);
  const sum = checksum(Buffer.concat([v6Pseudo(ip, udp.length), udp]));
  udp.writeUInt16BE(o.udpChecksum ?? (sum === 0 ? 0xffff : sum), 6);
  return Buffer.concat([ip, udp]);
}

function v6Pseudo(ip: Buffer, udpLength: number): Buffer {
  const tail = Buffer.alloc(8);
  tail.writeUInt32BE(udpLength, 0);
  tail[7] = 17;
  return Buffer.concat([ip.subarray(8, 40), tail]);
}

/** Whether a UDP datagram's checksums are right (IPv4: the header's too; a UDP checksum of 0 is not). */
export function udpChecksumsOk(p: Buffer): boolean {
  if (p[0]! >> 4 !== 6) return udpV4ChecksumsOk(p);
  const udp = p.subarray(40);
  return udp.readUInt16BE(6) !== 0 && checksum(Buffer.concat([v6Pseudo(p, udp.length), udp])) === 0;
}

export function icmpEchoV6(src: string, dst: string, id: number, seq: number, data: Buffer): Buffer {
  const icmp = Buffer.alloc(8 + data.length);
  icmp[0] = 128; // echo request
  icmp.writeUInt16BE(id, 4);
  icmp.writeUInt16BE(seq, 6);
  data.copy(icmp, 8);
  const pseudo = Buffer.alloc(40);
  v6(src).copy(pseudo, 0);
  v6(dst).copy(pseudo, 16);
  pseudo.writeUInt32BE(icmp.length, 32);
  pseudo[39] = 58;
  icmp.writeUInt16BE(checksum(Buffer.concat([pseudo, icmp])), 2);
  const ip = Buffer.alloc(40);
  ip[0] = 0x60;
  ip.writeUInt16BE(icmp.length, 4);
  ip[6] = 58; // ICMPv6
  ip[7] = 64; // hop limit
  v6(src).copy(ip, 8);
  v6(dst).copy(ip, 24);
  return Buffer.concat([ip, icmp]);
}

export function cstpFrame(type: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.from([0x53, 0x54, 0x46, 0x01, payload.length >> 8, payload.length & 0xff, type, 0]);
  return Buffer.concat([h, payload]);
}

/** Accumulates a CSTP byte stream and yields complete frames. */
export class FrameReader {
  #buf = Buffer.alloc(0);
  push(chunk: Buffer): Array<{ type: number; payload: Buffer }> {
    this.#buf = Buffer.concat([this.#buf, chunk]);
    const out: Array<{ type: number; payload: Buffer }> = [];
    while (this.#buf.length >= 8) {
      const len = this.#buf.readUInt16BE(4);
      if (this.#buf.length < 8 + len) break;
      out.push({ type: this.#buf[6]!, payload: this.#buf.subarray(8, 8 + len) });
      this.#buf = this.#buf.subarray(8 + len);
    }
    return out;
  }
}

/** TLS_PSK_WITH_AES_128_GCM_SHA256 and _256_GCM_SHA384: the suites of openconnect's PSK-NEGOTIATE. */
const PSK_GCM_SUITES = [0x00a8, 0x00a9];

/**
 * A DTLS 1.2 ClientHello as openconnect's PSK-NEGOTIATE sends it (session_id
 * = the App-ID), with `cookie` (empty on the first flight), PSK GCM suites,
 * no extensions. Built by hand so a test sees the server's raw answer.
 */
export function dtlsClientHello(sessionId: Buffer, cookie: Buffer = Buffer.alloc(0), random: Buffer = Buffer.alloc(32, 0x5a)): Buffer {
  const suites = Buffer.alloc(2 + 2 * PSK_GCM_SUITES.length);
  suites.writeUInt16BE(2 * PSK_GCM_SUITES.length, 0);
  PSK_GCM_SUITES.forEach((s, i) => suites.writeUInt16BE(s, 2 + 2 * i));
  const body = Buffer.concat([Buffer.from([0xfe, 0xfd]), random, Buffer.from([sessionId.length]), sessionId, Buffer.from([cookie.length]), cookie, suites, Buffer.from([1, 0])]);
  const hs = Buffer.alloc(12);
  hs[0] = 1; // client_hello
  hs.writeUIntBE(body.length, 1, 3);
  hs.writeUInt16BE(0, 4); // message_seq
  hs.writeUIntBE(0, 6, 3); // fragment_offset
  hs.writeUIntBE(body.length, 9, 3); // fragment_length
  const rec = Buffer.alloc(13);
  rec[0] = 22; // handshake
  rec[1] = 0xfe;
  rec[2] = 0xfd;
  rec.writeUInt16BE(hs.length + body.length, 11);
  return Buffer.concat([rec, hs, body]);
}

/** The handshake message type of each DTLS record in a datagram (0 for non-handshake records). */
export function dtlsHandshakeTypes(d: Buffer): number[] {
  const out: number[] = [];
  for (let off = 0; off + 13 <= d.length; ) {
    const len = d.readUInt16BE(off + 11);
    out.push(d[off] === 22 && d[off + 3] === 0 && d[off + 4] === 0 ? d[off + 13]! : 0);
    off += 13 + len;
  }
  return out;
}
