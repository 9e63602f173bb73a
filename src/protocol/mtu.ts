// The MTU offered to a client, computed the way ocserv's worker-vpn.c does it
// (connect_handler + calc_mtu_values + DATA_MTU):
//
//   link MTU  = configured MTU (the TUN device's, default 1500),
//               lowered to the client's X-CSTP-Base-MTU when that is usable,
//               else to X-CSTP-MTU + the largest DTLS overhead (old clients),
//               else to the TCP path MTU when the caller knows it.
//               -> sent as X-CSTP-Base-MTU
//   data MTU  = link MTU - IP header - UDP header - DTLS record overhead
//               (the overhead is 0 when DTLS is off, as in ocserv)
//               -> sent as X-CSTP-MTU (and X-DTLS-MTU in legacy DTLS)
//
// openconnect sets its tun device to the larger of X-CSTP-MTU and X-DTLS-MTU.
// The numbers come from the network, and ocserv once underflowed here (data
// MTU computed from a tiny link MTU). So the link MTU is never below
// MIN_LINK_MTU_* (ocserv's MIN_MTU: 1280 when an IPv6 address is handed out,
// 800 otherwise) and the data MTU is never below MIN_DATA_MTU; when the data
// MTU ends up below IPv6's 1280, IPv6 must not be offered (ocserv drops it for
// that client rather than lie about the MTU): see `ipv6Ok`.

/** ocserv CSTP_OVERHEAD: the CSTP header in front of each packet on TLS. */
export const CSTP_OVERHEAD = 8;
/** ocserv CSTP_DTLS_OVERHEAD: the one type byte in front of each packet on DTLS. */
export const DTLS_TYPE_OVERHEAD = 1;
export const IPV4_HEADER_BYTES = 20;
export const IPV6_HEADER_BYTES = 40;
export const TCP_HEADER_BYTES = 20;
export const UDP_HEADER_BYTES = 8;
/** DTLS record header: type 1 + version 2 + epoch 2 + sequence 6 + length 2. */
export const DTLS_RECORD_HEADER_BYTES = 13;
/** TLS record header: type 1 + version 2 + length 2. */
export const TLS_RECORD_HEADER_BYTES = 5;
/** AES-GCM explicit nonce in a (D)TLS 1.2 record. */
const GCM_EXPLICIT_NONCE_BYTES = 8;
const AEAD_TAG_BYTES = 16;
const SHA1_MAC_BYTES = 20;
const AES_BLOCK_BYTES = 16;

/**
 * Per-packet DTLS overhead (record header + crypto + our type byte), as
 * gnutls_est_record_overhead_size() estimates it for ocserv, plus
 * DTLS_TYPE_OVERHEAD. Pass one of these as `dtlsOverhead`.
 */
export const DtlsOverhead = {
  /** PSK-NEGOTIATE or legacy DTLS 1.2 with AES-GCM: 13 + 8 + 16 + 1 = 38. */
  AES_GCM: DTLS_RECORD_HEADER_BYTES + GCM_EXPLICIT_NONCE_BYTES + AEAD_TAG_BYTES + DTLS_TYPE_OVERHEAD,
  /** DTLS 1.2 ChaCha20-Poly1305 (no explicit nonce): 13 + 16 + 1 = 30. */
  CHACHA20_POLY1305: DTLS_RECORD_HEADER_BYTES + AEAD_TAG_BYTES + DTLS_TYPE_OVERHEAD,
  /**
   * Legacy AES-CBC + HMAC-SHA1, worst case (explicit IV + full padding block):
   * 13 + 20 + 2*16 + 1 = 66. ocserv's MAX_DTLS_CRYPTO_OVERHEAD, used to
   * back-compute an old client's link MTU from its X-CSTP-MTU.
   */
  CBC_SHA1_MAX: DTLS_RECORD_HEADER_BYTES + SHA1_MAC_BYTES + 2 * AES_BLOCK_BYTES + DTLS_TYPE_OVERHEAD,
} as const;

/** ocserv MIN_MTU when the client gets an IPv6 address (IPv6's minimum link MTU). */
export const MIN_LINK_MTU_IPV6 = 1280;
/** ocserv MIN_MTU for IPv4-only clients. */
export const MIN_LINK_MTU_IPV4 = 800;
/** IPv6 needs this much inside the tunnel (RFC 8200 §5). */
export const IPV6_MIN_MTU = 1280;
/** Never offer less than what every IPv4 host must accept (RFC 791). */
export const MIN_DATA_MTU = 576;
/** ocserv ignores client MTUs above MAX_MSG_SIZE (16 KiB): nothing is that big on a wire. */
export const MAX_LINK_MTU = 16 * 1024;
/** A TUN device's default MTU, ocserv's fallback when it cannot read the device's. */
export const DEFAULT_LINK_MTU = 1500;

export interface MtuInput {
  /** Configured link MTU (ocserv `mtu`), null/undefined for the default. */
  configured?: number | null | undefined;
  /** X-CSTP-Base-MTU: the client's path MTU. */
  clientBaseMtu?: number | undefined;
  /** X-CSTP-MTU: what old clients send instead of a base MTU. */
  clientMtu?: number | undefined;
  /** The TCP connection's path MTU (TCP_INFO tcpi_pmtu), when known. */
  pathMtu?: number | undefined;
  /** Address family of the client's connection to us. Default 'ipv4'. */
  transport?: 'ipv4' | 'ipv6';
  /** A DtlsOverhead value when DTLS is offered; 0 or absent when it is not. */
  dtlsOverhead?: number | undefined;
  /** True when an IPv6 address will be offered (raises the minimum link MTU). */
  ipv6Tunnel?: boolean;
}

export interface MtuResult {
  /** X-CSTP-Base-MTU */
  linkMtu: number;
  /** X-CSTP-MTU (and X-DTLS-MTU in legacy DTLS mode) */
  dataMtu: number;
  /** False when the data MTU cannot carry IPv6: do not offer IPv6 then. */
  ipv6Ok: boolean;
}

function usable(n: number | null | undefined): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n > 0 && n <= MAX_LINK_MTU;
}

export function negotiateMtu(input: MtuInput): MtuResult {
  const v6Transport = input.transport === 'ipv6';
  const min = input.ipv6Tunnel ? MIN_LINK_MTU_IPV6 : MIN_LINK_MTU_IPV4;
  const dtlsProto = (v6Transport ? IPV6_HEADER_BYTES : IPV4_HEADER_BYTES) + UDP_HEADER_BYTES;
  const dtlsCrypto = input.dtlsOverhead !== undefined && Number.isFinite(input.dtlsOverhead) && input.dtlsOverhead > 0 ? Math.floor(input.dtlsOverhead) : 0;

  let link = usable(input.configured) ? input.configured : DEFAULT_LINK_MTU;
  if (usable(input.clientBaseMtu) && input.clientBaseMtu >= min) {
    link = Math.min(link, input.clientBaseMtu);
  } else if (!usable(input.clientBaseMtu) && usable(input.clientMtu)) {
    // Old clients give the plaintext MTU they can carry; ocserv assumes the
    // worst DTLS overhead to turn it back into a link MTU.
    const back = input.clientMtu + dtlsProto + DtlsOverhead.CBC_SHA1_MAX;
    if (back >= min) link = Math.min(link, back);
  }
  if (usable(input.pathMtu) && input.pathMtu >= min) link = Math.min(link, input.pathMtu);
  link = Math.max(link, min);

  const data = Math.max(MIN_DATA_MTU, link - dtlsProto - dtlsCrypto);
  return { linkMtu: link, dataMtu: data, ipv6Ok: data >= IPV6_MIN_MTU };
}

/** The data MTU alone (X-CSTP-MTU); see negotiateMtu for the whole answer. */
export function tunnelMtu(input: MtuInput): number {
  return negotiateMtu(input).dataMtu;
}

/**
 * Largest CSTP payload worth accepting from a client given the data MTU we
 * offered: openconnect itself reads up to MAX(16384, mtu) per record, so a
 * reader should allow at least that much slack rather than the exact MTU.
 */
export const CSTP_RECEIVE_FLOOR = 16 * 1024;
export function cstpReceiveLimit(dataMtu: number): number {
  return Math.max(CSTP_RECEIVE_FLOOR, dataMtu);
}
