// What a client's `CONNECT /CSCOSSLC/tunnel` says about itself (protocol.md
// §2). Header names are matched case-insensitively; values are checked,
// because they size buffers (MTU) and pick ciphers (DTLS).
//
// What openconnect sends is in its cstp.c (start_cstp_connection); what ocserv
// reads, and how leniently, is in worker-http.c (header_value_check) and
// http-heads.gperf. Where ocserv silently ignores a bad value that only
// informs (host name, previous address), so do we; where a value is malformed
// in a way no real client produces (non-numeric MTU, bad hex), we refuse with
// WolfguardError(PROTOCOL) naming the header.
import { ErrorCodes, WolfguardError } from '../common/errors';
import { parseAddressInto, FAMILY_V4, FAMILY_V6 } from '../common/address';

/**
 * ocserv once overflowed a buffer on a long cookie. Ours are ~43 characters
 * (32 bytes base64url), Cisco's a few hundred.
 */
export const MAX_COOKIE_CHARS = 512;
/** ocserv MAX_HOSTNAME_SIZE is 64 with the domain stripped; a full DNS name is at most 253. */
export const MAX_HOSTNAME_CHARS = 253;
/** ocserv keeps 63 characters of the User-Agent; we keep a little more for logs. */
export const MAX_USER_AGENT_CHARS = 256;
/** Device type / platform strings (ocserv MAX_AGENT_NAME - 1). */
export const MAX_DEVICE_CHARS = 63;
/** Longest cipher-suite list we look at. openconnect's is ~200 characters. */
export const MAX_CIPHER_LIST_CHARS = 2048;
/** Longest single cipher-suite name. */
const MAX_CIPHER_NAME_CHARS = 64;
/** X-DTLS-Master-Secret: 48 bytes as 96 hex digits (ocserv TLS_MASTER_SIZE). */
export const DTLS_MASTER_SECRET_BYTES = 48;
/** A number header is a 16-bit quantity at most. */
const MAX_HEADER_NUMBER = 0xffff;
/** The cipher-suite token openconnect sends to ask for DTLS-PSK (ocserv DTLS_PROTO_INDICATOR). */
export const PSK_NEGOTIATE = 'PSK-NEGOTIATE';

export type ClientKind = 'openconnect' | 'openconnect-v3' | 'anyconnect' | 'unknown';

export interface ConnectRequestInfo {
  /** The `webvpn` cookie: the session. */
  cookie?: string;
  /** The `webvpncontext` cookie, when the client echoes it. */
  context?: string;
  hostname?: string;
  baseMtu?: number;
  mtu?: number;
  /** From X-CSTP-Address-Type; both when the header is absent. */
  addressTypes: Array<'IPv4' | 'IPv6'>;
  fullIpv6: boolean;
  /** X-CSTP-Address on reconnect: the addresses the client had. */
  previousAddress?: string;
  previousAddress6?: string;
  dtlsMasterSecret?: Buffer;
  dtlsCipherSuites: string[];
  dtls12CipherSuites: string[];
  /** True when either cipher-suite header offers PSK-NEGOTIATE. */
  dtlsPsk: boolean;
  /** X-CSTP-Accept-Encoding, lowercased, e.g. ['oc-lz4', 'lzs', 'deflate']. */
  acceptEncoding?: string[];
  dtlsAcceptEncoding?: string[];
  userAgent?: string;
  /** Which client family the User-Agent names (ocserv's AGENT_* detection). */
  clientKind: ClientKind;
  /** X-AnyConnect-Identifier-DeviceType */
  deviceType?: string;
  /** X-AnyConnect-Identifier-Platform */
  platform?: string;
  /** apple-ios or android platform: ocserv uses the mobile DPD/idle timers then. */
  mobile: boolean;
}

function bad(header: string, why: string): WolfguardError {
  return new WolfguardError(ErrorCodes.PROTOCOL, `${header}: ${why}`, { header });
}

function printable(s: string): boolean {
  return /^[\x20-\x7e]*$/.test(s);
}

function headerNumber(header: string, v: string): number {
  const t = v.trim();
  if (!/^\d{1,5}$/.test(t)) throw bad(header, `not a number: ${JSON.stringify(t.slice(0, 32))}`);
  const n = Number(t);
  if (n > MAX_HEADER_NUMBER) throw bad(header, `${n} is out of range`);
  return n;
}

function suites(header: string, v: string): string[] {
  if (v.length > MAX_CIPHER_LIST_CHARS) throw bad(header, `longer than ${MAX_CIPHER_LIST_CHARS} characters`);
  const list = v
    .split(':')
    .map((x) => x.trim())
    .filter((x) => x.length > 0);
  for (const s of list) {
    if (s.length > MAX_CIPHER_NAME_CHARS || !/^[A-Za-z0-9_+.-]+$/.test(s)) {
      throw bad(header, `bad cipher suite name ${JSON.stringify(s.slice(0, MAX_CIPHER_NAME_CHARS))}`);
    }
  }
  return list;
}

function encodings(header: string, v: string): string[] {
  if (v.length > MAX_CIPHER_LIST_CHARS) throw bad(header, `longer than ${MAX_CIPHER_LIST_CHARS} characters`);
  const list = v
    .split(',')
    .map((x) => x.trim().toLowerCase())
    .filter((x) => x.length > 0);
  for (const e of list) if (!/^[a-z0-9_.-]{1,32}$/.test(e)) throw bad(header, `bad encoding name ${JSON.stringify(e.slice(0, 32))}`);
  return list;
}

/** ocserv valid_hostname(): letters, digits, '-', '_' and dots; not starting with '-'. */
function validHostname(s: string): boolean {
  return s.length > 0 && s.length <= MAX_HOSTNAME_CHARS && /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(s);
}

/** RFC 6265 cookie-octet: what may stand in a cookie value unquoted. */
const COOKIE_VALUE = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$/;

function readCookies(value: string, out: ConnectRequestInfo): void {
  for (const part of value.split(';')) {
    const p = part.trim();
    const eq = p.indexOf('=');
    if (eq <= 0) continue;
    const name = p.slice(0, eq).trim();
    if (name !== 'webvpn' && name !== 'webvpncontext') continue;
    let v = p.slice(eq + 1).trim();
    if (v.length > MAX_COOKIE_CHARS) throw bad('Cookie', `${name} cookie longer than ${MAX_COOKIE_CHARS} characters`);
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    if (!COOKIE_VALUE.test(v)) throw bad('Cookie', `${name} cookie holds characters a cookie may not`);
    // The first one wins, as browsers order the most specific first.
    if (name === 'webvpn') {
      if (out.cookie === undefined && v !== '') out.cookie = v;
    } else if (out.context === undefined && v !== '') {
      out.context = v;
    }
  }
}

/** ocserv worker-http.c User-Agent prefixes, in its order. */
function classifyAgent(ua: string): ClientKind {
  const l = ua.toLowerCase();
  const ocPrefix = 'open anyconnect vpn agent v';
  if (l.startsWith(ocPrefix)) {
    const major = parseInt(l.slice(ocPrefix.length), 10);
    return Number.isFinite(major) && major <= 3 ? 'openconnect-v3' : 'openconnect';
  }
  if (l.startsWith('cisco anyconnect')) return 'anyconnect';
  if (l.startsWith('openconnect vpn agent')) return 'openconnect';
  if (l.startsWith('anyconnect-compatible openconnect')) return 'openconnect';
  if (l.startsWith('anyconnect')) return 'anyconnect';
  if (l.startsWith('cisco svc ipphone client')) return 'anyconnect';
  return 'unknown';
}

function previousAddress(value: string, out: ConnectRequestInfo): void {
  const t = value.trim();
  if (t.length === 0 || t.length > 64) return;
  const family = parseAddressInto(t, new Uint32Array(4));
  if (t.includes('%')) return;
  if (family === FAMILY_V4) out.previousAddress = t;
  else if (family === FAMILY_V6) out.previousAddress6 = t;
}

/** Node's `req.rawHeaders` (name, value, name, value...) in, what the client asked for out. */
export function parseConnectRequest(rawHeaders: readonly string[]): ConnectRequestInfo {
  if (!Array.isArray(rawHeaders) || rawHeaders.length % 2 !== 0) {
    throw new WolfguardError(ErrorCodes.PROTOCOL, 'CONNECT headers are not name/value pairs');
  }
  const out: ConnectRequestInfo = {
    addressTypes: ['IPv4', 'IPv6'],
    fullIpv6: false,
    dtlsCipherSuites: [],
    dtls12CipherSuites: [],
    dtlsPsk: false,
    clientKind: 'unknown',
    mobile: false,
  };
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    const value = rawHeaders[i + 1];
    if (typeof name !== 'string' || typeof value !== 'string') {
      throw new WolfguardError(ErrorCodes.PROTOCOL, 'CONNECT header name or value is not text');
    }
    switch (name.toLowerCase()) {
      case 'cookie':
        readCookies(value, out);
        break;
      case 'x-cstp-hostname': {
        const h = value.trim();
        if (validHostname(h)) out.hostname = h;
        break;
      }
      case 'x-cstp-base-mtu':
        out.baseMtu = headerNumber(name, value);
        break;
      case 'x-cstp-mtu':
        out.mtu = headerNumber(name, value);
        break;
      case 'x-cstp-address-type': {
        // ocserv looks for the substrings; keep the client's order.
        const types: Array<'IPv4' | 'IPv6'> = [];
        for (const t of value.split(',').map((x) => x.trim())) {
          if ((t === 'IPv4' || t === 'IPv6') && !types.includes(t)) types.push(t);
        }
        out.addressTypes = types;
        break;
      }
      case 'x-cstp-full-ipv6-capability':
        out.fullIpv6 = value.trim().toLowerCase() === 'true';
        break;
      case 'x-cstp-address':
        previousAddress(value, out);
        break;
      case 'x-dtls-master-secret': {
        const t = value.trim();
        if (!/^[0-9a-fA-F]+$/.test(t) || t.length !== DTLS_MASTER_SECRET_BYTES * 2) {
          throw bad(name, `not ${DTLS_MASTER_SECRET_BYTES} bytes of hex`);
        }
        out.dtlsMasterSecret = Buffer.from(t, 'hex');
        break;
      }
      case 'x-dtls-ciphersuite':
        out.dtlsCipherSuites = suites(name, value);
        break;
      case 'x-dtls12-ciphersuite':
        out.dtls12CipherSuites = suites(name, value);
        break;
      case 'x-cstp-accept-encoding':
        out.acceptEncoding = encodings(name, value);
        break;
      case 'x-dtls-accept-encoding':
        out.dtlsAcceptEncoding = encodings(name, value);
        break;
      case 'user-agent': {
        const ua = value.slice(0, MAX_USER_AGENT_CHARS);
        if (!printable(ua)) throw bad(name, 'holds control characters');
        out.userAgent = ua;
        out.clientKind = classifyAgent(ua);
        break;
      }
      case 'x-anyconnect-identifier-devicetype':
        // ocserv drops an over-long value rather than truncating it.
        if (value.length <= MAX_DEVICE_CHARS && printable(value)) out.deviceType = value;
        break;
      case 'x-anyconnect-identifier-platform':
        if (value.length <= MAX_DEVICE_CHARS && printable(value)) {
          out.platform = value;
          const l = value.toLowerCase();
          out.mobile = l.startsWith('apple-ios') || l.startsWith('android');
        }
        break;
      default:
    }
  }
  out.dtlsPsk = out.dtlsCipherSuites.includes(PSK_NEGOTIATE) || out.dtls12CipherSuites.includes(PSK_NEGOTIATE);
  return out;
}
