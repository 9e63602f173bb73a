// What a client's `CONNECT /CSCOSSLC/tunnel` says about itself (protocol.md
// §2). Header names are matched case-insensitively on input; values are
// checked, because they size buffers (MTU) and pick ciphers (DTLS).
import { ErrorCodes, WolfguardError } from '../common/errors';

/** ocserv once overflowed on a long cookie: ours are 43 characters, Cisco's < 512. */
export const MAX_COOKIE_CHARS = 512;
/** Smallest and largest MTU a client may announce (IPv4 minimum datagram .. jumbo). */
export const MIN_CLIENT_MTU = 576;
export const MAX_CLIENT_MTU = 9000;
/** X-DTLS-Master-Secret: 48 bytes as 96 hex digits. */
const MASTER_SECRET_BYTES = 48;

export interface ConnectRequestInfo {
  cookie?: string;
  hostname?: string;
  baseMtu?: number;
  mtu?: number;
  addressTypes: Array<'IPv4' | 'IPv6'>;
  fullIpv6: boolean;
  previousAddress?: string;
  previousAddress6?: string;
  dtlsMasterSecret?: Buffer;
  dtlsCipherSuites: string[];
  dtls12CipherSuites: string[];
  acceptEncoding?: string;
  dtlsAcceptEncoding?: string;
  userAgent?: string;
}

function bad(header: string, why: string): WolfguardError {
  return new WolfguardError(ErrorCodes.PROTOCOL, `${header}: ${why}`, { header });
}

function mtu(header: string, v: string): number {
  if (!/^\d{1,5}$/.test(v.trim())) throw bad(header, 'not a number');
  const n = Number(v.trim());
  if (n < MIN_CLIENT_MTU || n > MAX_CLIENT_MTU) throw bad(header, `outside ${MIN_CLIENT_MTU}..${MAX_CLIENT_MTU}`);
  return n;
}

function suites(header: string, v: string): string[] {
  const list = v.split(':').map((x) => x.trim()).filter((x) => x.length > 0);
  for (const s of list) if (!/^[A-Za-z0-9_+.-]{1,64}$/.test(s)) throw bad(header, `bad cipher suite name ${JSON.stringify(s.slice(0, 64))}`);
  return list;
}

/** Node's `req.rawHeaders` (name, value, name, value...) in, what the client asked for out. */
export function parseConnectRequest(rawHeaders: string[]): ConnectRequestInfo {
  const out: ConnectRequestInfo = { addressTypes: ['IPv4', 'IPv6'], fullIpv6: false, dtlsCipherSuites: [], dtls12CipherSuites: [] };
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    switch (name.toLowerCase()) {
      case 'cookie': {
        const m = /(?:^|;\s*)webvpn=([^;]*)/.exec(value);
        if (m) {
          if (m[1]!.length > MAX_COOKIE_CHARS) throw bad('Cookie', `webvpn cookie longer than ${MAX_COOKIE_CHARS} characters`);
          out.cookie = m[1]!;
        }
        break;
      }
      case 'x-cstp-hostname':
        if (value.length > 255 || /[\x00-\x1f]/.test(value)) throw bad(name, 'not a host name');
        out.hostname = value;
        break;
      case 'x-cstp-base-mtu':
        out.baseMtu = mtu(name, value);
        break;
      case 'x-cstp-mtu':
        out.mtu = mtu(name, value);
        break;
      case 'x-cstp-address-type': {
        const types = value.split(',').map((t) => t.trim());
        out.addressTypes = types.filter((t): t is 'IPv4' | 'IPv6' => t === 'IPv4' || t === 'IPv6');
        break;
      }
      case 'x-cstp-full-ipv6-capability':
        out.fullIpv6 = value.trim().toLowerCase() === 'true';
        break;
      case 'x-cstp-address':
        if (value.length <= 64) {
          if (value.includes(':')) out.previousAddress6 = value.trim();
          else out.previousAddress = value.trim();
        }
        break;
      case 'x-dtls-master-secret':
        if (!/^[0-9a-fA-F]{96}$/.test(value.trim())) throw bad(name, `not ${MASTER_SECRET_BYTES} bytes of hex`);
        out.dtlsMasterSecret = Buffer.from(value.trim(), 'hex');
        break;
      case 'x-dtls-ciphersuite':
        out.dtlsCipherSuites = suites(name, value);
        break;
      case 'x-dtls12-ciphersuite':
        out.dtls12CipherSuites = suites(name, value);
        break;
      case 'x-cstp-accept-encoding':
        out.acceptEncoding = value.slice(0, 128);
        break;
      case 'x-dtls-accept-encoding':
        out.dtlsAcceptEncoding = value.slice(0, 128);
        break;
      case 'user-agent':
        out.userAgent = value.slice(0, 256);
        break;
      default:
    }
  }
  return out;
}
