// The raw `HTTP/1.1 200 CONNECTED` reply that opens a tunnel (protocol.md §2).
//
// Header names are spelled exactly as openconnect's cstp.c compares them
// (start_cstp_connection: strncmp on "X-CSTP-"/"X-DTLS-"/"X-DTLS12-", then
// strcmp on the rest: case matters), and values, order and defaults follow
// ocserv's worker-vpn.c connect_handler. Written raw, not via Node's
// ServerResponse: the status text and header case are part of the protocol.
// No value may carry CR, LF or NUL (header injection): such an offer is a bug
// in the caller and throws WolfguardError(INVALID_ARGUMENT). The banner is
// the exception: openconnect %-decodes it (script.c set_banner), so line
// breaks travel %-encoded.
import { ErrorCodes, WolfguardError } from '../common/errors';
import { FAMILY_V4, FAMILY_V6, formatAddress, formatPrefix, maskInPlace, netmaskFromPrefix, parseAddressInto, parsePrefix } from '../common/address';

export const CONNECTED_STATUS_LINE = 'HTTP/1.1 200 CONNECTED';
const DEFAULT_SERVER_NAME = 'wolfguard';
/** ocserv DTLS_PROTO_INDICATOR: the X-DTLS-CipherSuite value of the PSK mode. */
export const DTLS_PSK_CIPHERSUITE = 'PSK-NEGOTIATE';
/** openconnect dtls_session_id[32]: X-DTLS-Session-ID must be exactly 64 hex digits. */
export const DTLS_SESSION_ID_BYTES = 32;
/** openconnect dtls_app_id[32]: X-DTLS-App-ID is 1..32 bytes of hex (ocserv sends 32). */
export const DTLS_APP_ID_MAX_BYTES = 32;
/** openconnect keeps 3 DNS and 3 NBNS servers and ignores the rest. */
export const CLIENT_MAX_DNS = 3;
/** ocserv's routes that mean "everything": no split includes, tunnel all DNS. */
const DEFAULT_ROUTES = new Set(['default', '0.0.0.0/0']);
const MAX_BANNER_CHARS = 8192;

interface DtlsOfferCommon {
  /** X-DTLS-Port */
  port: number;
  /** X-DTLS-DPD (ocserv: the same as CSTP DPD) */
  dpd?: number;
  /** X-DTLS-Keepalive */
  keepalive?: number;
  /** X-DTLS-Rekey-Time (ocserv: CSTP rekey time + 10) */
  rekeyTime?: number;
  /** X-DTLS-Rekey-Method, ocserv's private extension, sent only with a rekey time. */
  rekeyMethod?: 'ssl' | 'new-tunnel';
  /** X-DTLS-Content-Encoding: openconnect rejects anything but these two. */
  contentEncoding?: 'lzs' | 'oc-lz4';
}

/** DTLS-PSK (what openconnect uses when offered): X-DTLS-App-ID + PSK-NEGOTIATE. */
export interface DtlsPskOffer extends DtlsOfferCommon {
  mode: 'psk';
  /** Goes into the DTLS ClientHello session_id; how the server finds the session. */
  appId: Uint8Array;
}

/** Legacy Cisco DTLS: X-DTLS-Session-ID + the chosen suite + X-DTLS-MTU. */
export interface DtlsLegacyOffer extends DtlsOfferCommon {
  mode: 'legacy';
  sessionId: Uint8Array;
  /** e.g. "AES256-GCM-SHA384" (DTLS 1.2 names) or "AES256-SHA" / "OC-DTLS1_2-AES256-GCM". */
  cipherSuite: string;
  /** Send the suite as X-DTLS12-CipherSuite (openconnect then runs DTLS 1.2). */
  dtls12: boolean;
  /** X-DTLS-MTU: ocserv sends it in legacy mode only (data MTU). */
  mtu: number;
}

export type DtlsOffer = DtlsPskOffer | DtlsLegacyOffer;

export interface TunnelOffer {
  ipv4?: { address: string; netmask: string };
  ipv6?: { address: string; prefix: number };
  /**
   * The client sent X-CSTP-Full-IPv6-Capability: true (default true). Without
   * it ocserv sends the IPv6 address the old way (X-CSTP-Address +
   * X-CSTP-Netmask: net/prefix) and no IPv6 routes or DNS.
   */
  fullIpv6?: boolean;
  /** X-CSTP-MTU: the data MTU (mtu.ts negotiateMtu().dataMtu). */
  mtu: number;
  /** X-CSTP-Base-MTU: the link MTU (negotiateMtu().linkMtu). */
  baseMtu?: number;
  /** X-CSTP-Hostname: ocserv echoes the host name it accepted. */
  hostname?: string;
  dns: string[];
  /**
   * Write IPv6 servers as X-CSTP-DNS-IP6. ocserv does so only for Cisco
   * AnyConnect; older openconnect only knows X-CSTP-DNS (9.x reads both).
   */
  dnsIp6Header?: boolean;
  nbns?: string[];
  /** X-CSTP-Split-DNS: domains to resolve through the tunnel. */
  splitDns?: string[];
  defaultDomain?: string;
  /**
   * CIDR text, IPv4 and IPv6 mixed ("10.0.0.0/8", "10.0.0.0/255.0.0.0",
   * "2001:db8::/32"). IPv4 goes out as net/dotted-mask like ocserv's
   * ip_route_sanity_check() leaves it; IPv6 as addr/prefix. "default" or
   * "0.0.0.0/0" means a full tunnel (no includes, all DNS tunnelled).
   */
  splitInclude: string[];
  splitExclude: string[];
  /** Seconds; 0 leaves X-CSTP-DPD out. */
  dpd: number;
  keepalive: number;
  /** Seconds; absent or 0 is "none". */
  idleTimeout?: number | null;
  sessionTimeout?: number | null;
  /** Seconds left of the session (reconnects); defaults to sessionTimeout. */
  sessionTimeoutRemaining?: number;
  /** ocserv always sends "none"; openconnect ignores it. */
  disconnectedTimeout?: number | null;
  rekeyTime?: number;
  /** Advertise only what is implemented; 'none' (or no rekeyTime) sends "none". */
  rekeyMethod?: 'ssl' | 'new-tunnel' | 'none';
  banner?: string;
  tunnelAllDns?: boolean;
  /** X-CSTP-Client-Bypass-Protocol (Cisco clients; ocserv sends it always). */
  clientBypassProtocol?: boolean;
  serverName?: string;
  /** X-CSTP-Content-Encoding: only when the client offered it; openconnect rejects others. */
  contentEncoding?: 'deflate' | 'lzs' | 'oc-lz4';
  dtls?: DtlsOffer;
}

function invalid(message: string): WolfguardError {
  return new WolfguardError(ErrorCodes.INVALID_ARGUMENT, message);
}

function clean(name: string, v: string | number): string {
  const s = String(v);
  if (/[\r\n\0]/.test(s)) throw invalid(`header ${name} would carry a line break or NUL`);
  return s;
}

function count(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw invalid(`header ${name}: ${v} is not a non-negative integer`);
  return v;
}

function address(name: string, text: string, family?: number): string {
  const f = parseAddressInto(text, new Uint32Array(4));
  if (f === 0 || text.includes('%') || (family !== undefined && f !== family)) throw invalid(`header ${name}: ${JSON.stringify(text)} is not an address of the right family`);
  return text;
}

function dottedMaskLength(mask: string): number | undefined {
  const w = new Uint32Array(4);
  if (parseAddressInto(mask, w) !== FAMILY_V4 || mask.includes(':')) return undefined;
  const m = w[3]!;
  const len = m === 0 ? 0 : 32 - Math.log2((~m >>> 0) + 1);
  return Number.isInteger(len) ? len : undefined;
}

/** One route as ocserv writes it: IPv4 "net/255.255.255.0", IPv6 "net/len". */
export function routeText(cidr: string): { v6: boolean; text: string } {
  const slash = cidr.indexOf('/');
  if (slash > 0 && cidr.slice(slash + 1).includes('.')) {
    const len = dottedMaskLength(cidr.slice(slash + 1));
    if (len === undefined) throw invalid(`route ${JSON.stringify(cidr)} has a non-contiguous netmask`);
    cidr = `${cidr.slice(0, slash)}/${len}`;
  }
  const p = parsePrefix(cidr);
  if (p.family === FAMILY_V4) return { v6: false, text: `${formatAddress(p.words, FAMILY_V4)}/${netmaskFromPrefix(p.length)}` };
  return { v6: true, text: formatPrefix(p) };
}

/** %-encode what cannot stand in a header line; openconnect decodes %XX in the banner. */
export function encodeBanner(banner: string): string {
  if (banner.length > MAX_BANNER_CHARS) throw invalid(`banner longer than ${MAX_BANNER_CHARS} characters`);
  return banner.replace(/[%\x00-\x1f\x7f]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

function hex(name: string, bytes: Uint8Array, min: number, max: number): string {
  if (bytes.length < min || bytes.length > max) throw invalid(`${name} must be ${min === max ? min : `${min}..${max}`} bytes, not ${bytes.length}`);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

function ipv6Network(addr: string, prefix: number): string {
  const w = new Uint32Array(4);
  parseAddressInto(addr, w);
  maskInPlace(w, FAMILY_V6, prefix);
  return formatAddress(w, FAMILY_V6);
}

export function buildConnectReply(o: TunnelOffer): string {
  const h: string[] = [CONNECTED_STATUS_LINE];
  const add = (name: string, v: string | number): void => {
    h.push(`${name}: ${clean(name, v)}`);
  };
  const timeout = (name: string, v: number | null | undefined): void => add(name, v !== undefined && v !== null && count(name, v) > 0 ? v : 'none');

  if (o.ipv4 === undefined && o.ipv6 === undefined) throw invalid('a tunnel offer needs an IPv4 or IPv6 address (openconnect aborts without one)');
  count('X-CSTP-MTU', o.mtu);
  if (o.mtu === 0) throw invalid('X-CSTP-MTU must be positive (openconnect aborts on "No MTU received")');
  const fullIpv6 = o.fullIpv6 !== false;
  const withV6 = o.ipv6 !== undefined && fullIpv6;
  const withV4 = o.ipv4 !== undefined;

  add('X-CSTP-Version', 1);
  add('X-CSTP-Server-Name', o.serverName ?? DEFAULT_SERVER_NAME);
  if (o.hostname !== undefined) add('X-CSTP-Hostname', o.hostname);
  if (count('X-CSTP-DPD', o.dpd) > 0) add('X-CSTP-DPD', o.dpd);
  if (o.defaultDomain !== undefined) add('X-CSTP-Default-Domain', o.defaultDomain);

  if (o.ipv4) {
    add('X-CSTP-Address', address('X-CSTP-Address', o.ipv4.address, FAMILY_V4));
    add('X-CSTP-Netmask', address('X-CSTP-Netmask', o.ipv4.netmask, FAMILY_V4));
  }
  if (o.ipv6) {
    const p = o.ipv6.prefix;
    if (!Number.isInteger(p) || p < 0 || p > 128) throw invalid(`IPv6 prefix ${p} outside 0..128`);
    address('X-CSTP-Address-IP6', o.ipv6.address, FAMILY_V6);
    if (fullIpv6) {
      add('X-CSTP-Address-IP6', `${o.ipv6.address}/${p}`);
    } else {
      add('X-CSTP-Address', o.ipv6.address);
      add('X-CSTP-Netmask', `${ipv6Network(o.ipv6.address, p)}/${p}`);
    }
  }

  for (const d of o.dns) {
    const v6 = d.includes(':');
    address('X-CSTP-DNS', d);
    if (v6 ? !withV6 : !withV4) continue;
    add(v6 && o.dnsIp6Header ? 'X-CSTP-DNS-IP6' : 'X-CSTP-DNS', d);
  }
  for (const d of o.nbns ?? []) {
    const v6 = d.includes(':');
    address('X-CSTP-NBNS', d);
    if (v6 ? !withV6 : !withV4) continue;
    add('X-CSTP-NBNS', d);
  }
  for (const d of o.splitDns ?? []) add('X-CSTP-Split-DNS', d);

  const fullTunnel = o.splitInclude.some((r) => DEFAULT_ROUTES.has(r.trim()));
  const routes = (list: string[], kind: 'Include' | 'Exclude'): void => {
    for (const r of list) {
      const t = routeText(r.trim());
      if (t.v6 ? !withV6 : !withV4) continue;
      add(t.v6 ? `X-CSTP-Split-${kind}-IP6` : `X-CSTP-Split-${kind}`, t.text);
    }
  };
  if (!fullTunnel) routes(o.splitInclude, 'Include');
  add('X-CSTP-Tunnel-All-DNS', fullTunnel || o.tunnelAllDns === true ? 'true' : 'false');
  add('X-CSTP-Client-Bypass-Protocol', o.clientBypassProtocol === true ? 'true' : 'false');
  routes(o.splitExclude, 'Exclude');

  add('X-CSTP-Keepalive', count('X-CSTP-Keepalive', o.keepalive));
  timeout('X-CSTP-Idle-Timeout', o.idleTimeout);
  add('X-CSTP-Smartcard-Removal-Disconnect', 'true');
  if (o.rekeyMethod !== undefined && o.rekeyMethod !== 'none' && o.rekeyTime !== undefined && count('X-CSTP-Rekey-Time', o.rekeyTime) > 0) {
    add('X-CSTP-Rekey-Time', o.rekeyTime);
    add('X-CSTP-Rekey-Method', o.rekeyMethod);
  } else {
    add('X-CSTP-Rekey-Method', 'none');
  }
  if (o.sessionTimeout !== undefined && o.sessionTimeout !== null && count('X-CSTP-Session-Timeout', o.sessionTimeout) > 0) {
    add('X-CSTP-Session-Timeout', o.sessionTimeout);
    add('X-CSTP-Session-Timeout-Remaining', count('X-CSTP-Session-Timeout-Remaining', o.sessionTimeoutRemaining ?? o.sessionTimeout));
  } else {
    add('X-CSTP-Session-Timeout', 'none');
  }
  timeout('X-CSTP-Disconnected-Timeout', o.disconnectedTimeout);
  add('X-CSTP-Keep', 'true');
  add('X-CSTP-TCP-Keepalive', 'true');
  add('X-CSTP-License', 'accept');

  if (o.dtls) addDtls(o.dtls, add);

  if (o.baseMtu !== undefined) add('X-CSTP-Base-MTU', count('X-CSTP-Base-MTU', o.baseMtu));
  add('X-CSTP-MTU', o.mtu);
  if (o.banner !== undefined) add('X-CSTP-Banner', encodeBanner(o.banner));
  if (o.dtls?.contentEncoding !== undefined) add('X-DTLS-Content-Encoding', o.dtls.contentEncoding);
  if (o.contentEncoding !== undefined) add('X-CSTP-Content-Encoding', o.contentEncoding);
  return `${h.join('\r\n')}\r\n\r\n`;
}

function addDtls(d: DtlsOffer, add: (name: string, v: string | number) => void): void {
  const port = count('X-DTLS-Port', d.port);
  if (port === 0 || port > 0xffff) throw invalid(`X-DTLS-Port ${port} is not a port`);
  if (d.dpd !== undefined && count('X-DTLS-DPD', d.dpd) > 0) add('X-DTLS-DPD', d.dpd);
  add('X-DTLS-Port', port);
  if (d.rekeyTime !== undefined && count('X-DTLS-Rekey-Time', d.rekeyTime) > 0) {
    add('X-DTLS-Rekey-Time', d.rekeyTime);
    if (d.rekeyMethod !== undefined) add('X-DTLS-Rekey-Method', d.rekeyMethod);
  }
  if (d.keepalive !== undefined) add('X-DTLS-Keepalive', count('X-DTLS-Keepalive', d.keepalive));
  if (d.mode === 'psk') {
    add('X-DTLS-App-ID', hex('X-DTLS-App-ID', d.appId, 1, DTLS_APP_ID_MAX_BYTES));
    add('X-DTLS-CipherSuite', DTLS_PSK_CIPHERSUITE);
  } else {
    add('X-DTLS-Session-ID', hex('X-DTLS-Session-ID', d.sessionId, DTLS_SESSION_ID_BYTES, DTLS_SESSION_ID_BYTES));
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(d.cipherSuite)) throw invalid(`DTLS cipher suite ${JSON.stringify(d.cipherSuite)} is not a suite name`);
    add(d.dtls12 ? 'X-DTLS12-CipherSuite' : 'X-DTLS-CipherSuite', d.cipherSuite);
    add('X-DTLS-MTU', count('X-DTLS-MTU', d.mtu));
  }
}

export type RefusalStatus = 400 | 401 | 403 | 404 | 405 | 503;

const REASON_PHRASES: Record<RefusalStatus, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  503: 'Service Unavailable',
};
const MAX_REASON_CHARS = 200;

/**
 * A refusal written raw on a connection that is about to close. openconnect
 * matches "HTTP/1.1 503 " and then reads lines up to "X-Reason: " to show
 * why; "HTTP/1.1 401 " makes it stop reconnecting (the cookie is dead).
 * The reason is free text from our side; line breaks become spaces.
 */
export function buildHttpRefusal(status: RefusalStatus, reason?: string): string {
  const phrase = REASON_PHRASES[status];
  if (phrase === undefined) throw invalid(`no refusal for HTTP status ${String(status)}`);
  const lines = [`HTTP/1.1 ${status} ${phrase}`, 'Content-Length: 0', 'Connection: close'];
  if (reason !== undefined) {
    const r = reason.replace(/[\x00-\x1f\x7f]+/g, ' ').trim().slice(0, MAX_REASON_CHARS);
    if (r.length > 0) lines.push(`X-Reason: ${r}`);
  }
  return `${lines.join('\r\n')}\r\n\r\n`;
}
