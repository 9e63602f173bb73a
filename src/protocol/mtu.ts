// The tunnel MTU offered to a client. Inside a TLS 1.2/1.3 AES-GCM record
// over TCP over IP, each packet costs the CSTP header plus the TLS record
// overhead; the client tells us the path MTU it sees (X-CSTP-Base-MTU).
// ocserv learned the hard way (MTU integer underflow) that these numbers come
// from the network: every subtraction here is clamped.

/** CSTP header in front of each packet. */
export const CSTP_OVERHEAD = 8;
/** TLS record header (5) + AES-GCM explicit nonce (8, TLS 1.2) + tag (16) + TLS 1.3 content type (1), rounded up. */
export const TLS_RECORD_OVERHEAD = 32;
/** IPv4 (20) or IPv6 (40) + TCP (20) with timestamps (12): the larger. */
export const TCP_IP_OVERHEAD = 72;
/** The tunnel MTU is never set below IPv6's minimum, which every client must carry. */
export const MIN_TUNNEL_MTU = 1280;
/** ...nor above a full Ethernet payload. */
export const MAX_TUNNEL_MTU = 1500;
/** Path MTU assumed when the client does not say (Ethernet). */
export const DEFAULT_BASE_MTU = 1500;

export function tunnelMtu(o: { configured: number | null; clientBaseMtu?: number | undefined; clientMtu?: number | undefined }): number {
  const base = o.clientBaseMtu ?? DEFAULT_BASE_MTU;
  let mtu = base - TCP_IP_OVERHEAD - TLS_RECORD_OVERHEAD - CSTP_OVERHEAD;
  if (o.clientMtu !== undefined) mtu = Math.min(mtu, o.clientMtu);
  if (o.configured !== null) mtu = Math.min(mtu, o.configured);
  return Math.max(MIN_TUNNEL_MTU, Math.min(MAX_TUNNEL_MTU, mtu));
}
