// The raw `HTTP/1.1 200 CONNECTED` reply that opens a tunnel (protocol.md §2),
// with header names spelled exactly as openconnect's cstp.c compares them and
// values formatted as ocserv's worker-vpn.c writes them. Written raw, not via
// Node's ServerResponse: the status text and header case are part of the
// protocol. No value may carry CR or LF (header injection).
import { ErrorCodes, WolfguardError } from '../common/errors';
import { netmaskFromPrefix, parsePrefix, FAMILY_V4 } from '../common/address';

export interface TunnelOffer {
  ipv4?: { address: string; netmask: string };
  ipv6?: { address: string; prefix: number };
  mtu: number;
  baseMtu?: number;
  dns: string[];
  defaultDomain?: string;
  /** CIDR text, IPv4 and IPv6 mixed; IPv4 is sent as net/dotted-mask like Cisco. */
  splitInclude: string[];
  splitExclude: string[];
  dpd: number;
  keepalive: number;
  idleTimeout?: number;
  sessionTimeout?: number;
  disconnectedTimeout?: number;
  rekeyTime?: number;
  rekeyMethod?: 'ssl' | 'new-tunnel' | 'none';
  banner?: string;
  tunnelAllDns?: boolean;
  serverName?: string;
  /** Extra DTLS headers (the DTLS issue fills these). */
  dtls?: Array<[string, string]>;
}

const SERVER_NAME = 'wolfguard';

function clean(name: string, v: string | number): string {
  const s = String(v);
  if (/[\r\n\0]/.test(s)) throw new WolfguardError(ErrorCodes.PROTOCOL, `header ${name} would carry a line break`);
  return s;
}

/** IPv4 routes as "net/255.255.255.0"; IPv6 as "net/len". */
export function routeText(cidr: string): { v6: boolean; text: string } {
  const p = parsePrefix(cidr);
  if (p.family === FAMILY_V4) {
    const [net] = cidr.split('/');
    return { v6: false, text: `${net}/${netmaskFromPrefix(p.length)}` };
  }
  return { v6: true, text: cidr };
}

export function buildConnectReply(o: TunnelOffer): string {
  const h: string[] = ['HTTP/1.1 200 CONNECTED'];
  const add = (name: string, v: string | number) => h.push(`${name}: ${clean(name, v)}`);
  add('X-CSTP-Version', 1);
  add('X-CSTP-Server-Name', o.serverName ?? SERVER_NAME);
  add('X-CSTP-DPD', o.dpd);
  if (o.defaultDomain !== undefined) add('X-CSTP-Default-Domain', o.defaultDomain);
  if (o.ipv4) {
    add('X-CSTP-Address', o.ipv4.address);
    add('X-CSTP-Netmask', o.ipv4.netmask);
  }
  if (o.ipv6) add('X-CSTP-Address-IP6', `${o.ipv6.address}/${o.ipv6.prefix}`);
  for (const d of o.dns) add('X-CSTP-DNS', d);
  for (const [list, kind] of [
    [o.splitInclude, 'Include'],
    [o.splitExclude, 'Exclude'],
  ] as const) {
    for (const r of list) {
      const t = routeText(r);
      if (t.v6 && !o.ipv6) continue;
      add(t.v6 ? `X-CSTP-Split-${kind}-IP6` : `X-CSTP-Split-${kind}`, t.text);
    }
  }
  add('X-CSTP-Tunnel-All-DNS', o.tunnelAllDns ? 'true' : 'false');
  add('X-CSTP-Keepalive', o.keepalive);
  add('X-CSTP-Idle-Timeout', o.idleTimeout !== undefined && o.idleTimeout > 0 ? o.idleTimeout : 'none');
  if (o.rekeyMethod && o.rekeyMethod !== 'none' && o.rekeyTime) {
    add('X-CSTP-Rekey-Time', o.rekeyTime);
    add('X-CSTP-Rekey-Method', o.rekeyMethod);
  } else {
    add('X-CSTP-Rekey-Method', 'none');
  }
  if (o.sessionTimeout !== undefined && o.sessionTimeout > 0) {
    add('X-CSTP-Lease-Duration', o.sessionTimeout);
    add('X-CSTP-Session-Timeout', o.sessionTimeout);
  } else {
    add('X-CSTP-Lease-Duration', 'none');
    add('X-CSTP-Session-Timeout', 'none');
  }
  add('X-CSTP-Disconnected-Timeout', o.disconnectedTimeout !== undefined && o.disconnectedTimeout > 0 ? o.disconnectedTimeout : 'none');
  add('X-CSTP-Keep', 'true');
  add('X-CSTP-TCP-Keepalive', 'true');
  add('X-CSTP-License', 'accept');
  for (const [n, v] of o.dtls ?? []) add(n, v);
  if (o.baseMtu !== undefined) add('X-CSTP-Base-MTU', o.baseMtu);
  add('X-CSTP-MTU', o.mtu);
  if (o.banner !== undefined) add('X-CSTP-Banner', o.banner);
  return `${h.join('\r\n')}\r\n\r\n`;
}

const REASONS: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' };

/** A refusal written raw on a connection that is about to close. */
export function buildHttpRefusal(status: 400 | 401 | 403 | 404 | 503, reason?: string): string {
  const lines = [`HTTP/1.1 ${status} ${REASONS[status]}`, 'Content-Length: 0', 'Connection: close'];
  if (reason !== undefined) lines.push(`X-Reason: ${reason.replace(/[\r\n\0]/g, ' ').slice(0, 200)}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}
