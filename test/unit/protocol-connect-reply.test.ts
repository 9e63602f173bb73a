// The CONNECT reply: header spelling and order as ocserv's connect_handler
// writes them, read back by a model of openconnect's cstp.c response loop
// (strncmp on the prefix, strcmp on the rest, one optional space after ':').
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildConnectReply, buildHttpRefusal, encodeBanner, routeText, type TunnelOffer } from '../../src/protocol/connect-reply';
import { ErrorCodes, isWolfguardError } from '../../src/common/errors';

/** Every name openconnect's start_cstp_connection() acts on, after "X-CSTP-" / "X-DTLS-". */
const OPENCONNECT_CSTP = new Set([
  'Keepalive', 'Lease-Duration', 'Session-Timeout', 'Session-Timeout-Remaining', 'Idle-Timeout', 'DPD', 'Rekey-Time',
  'Rekey-Method', 'Content-Encoding', 'Base-MTU', 'MTU', 'DynDNS', 'Address-IP6', 'Address', 'Netmask', 'DNS', 'DNS-IP6',
  'NBNS', 'Default-Domain', 'MSIE-Proxy-PAC-URL', 'Banner', 'Split-DNS', 'Split-Include', 'Split-Include-IP6',
  'Split-Exclude', 'Split-Exclude-IP6',
]);
const OPENCONNECT_DTLS = new Set(['MTU', 'Session-ID', 'App-ID', 'Content-Encoding', 'CipherSuite', 'Port', 'Keepalive', 'DPD', 'Rekey-Method', 'Rekey-Time']);
/** What ocserv sends that openconnect stores but does not act on (Cisco clients do). */
const OCSERV_ONLY = new Set([
  'Version', 'Server-Name', 'Hostname', 'Tunnel-All-DNS', 'Client-Bypass-Protocol', 'Smartcard-Removal-Disconnect',
  'Disconnected-Timeout', 'Keep', 'TCP-Keepalive', 'License',
]);

interface ClientView {
  mtu: number;
  addr?: string;
  netmask?: string;
  addr6?: string;
  netmask6?: string;
  dns: string[];
  includes: string[];
  excludes: string[];
  dpd: number;
  keepalive: number;
  rekeyMethod?: string;
  dtls: Record<string, string>;
  dtls12: boolean;
  banner?: string;
  unknown: string[];
  all: Array<[string, string]>;
}

/** cstp.c start_cstp_connection's response handling, in TypeScript. */
function openconnectReads(reply: string): ClientView {
  assert.ok(reply.endsWith('\r\n\r\n'), 'head ends with an empty line');
  const lines = reply.slice(0, -4).split('\r\n');
  assert.ok(lines[0]!.startsWith('HTTP/1.1 200 '), 'status');
  const v: ClientView = { mtu: 0, dns: [], includes: [], excludes: [], dpd: 0, keepalive: 0, dtls: {}, dtls12: false, unknown: [], all: [] };
  for (const line of lines.slice(1)) {
    assert.ok(!line.includes('\r') && !line.includes('\n'));
    const c = line.indexOf(':');
    if (c < 0) continue;
    const name = line.slice(0, c);
    let value = line.slice(c + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    v.all.push([name, value]);
    let rest: string;
    if (name.startsWith('X-DTLS-') || name.startsWith('X-DTLS12-')) {
      rest = name.slice(name.startsWith('X-DTLS-') ? 7 : 9);
      if (!OPENCONNECT_DTLS.has(rest)) v.unknown.push(name);
      if (rest === 'MTU') v.mtu = Math.max(v.mtu, parseInt(value, 10) || 0);
      else if (rest === 'CipherSuite') v.dtls12 = name.startsWith('X-DTLS12-');
      v.dtls[rest] = value;
      continue;
    }
    if (!name.startsWith('X-CSTP-')) continue;
    rest = name.slice(7);
    if (!OPENCONNECT_CSTP.has(rest) && !OCSERV_ONLY.has(rest)) v.unknown.push(name);
    switch (rest) {
      case 'MTU':
        v.mtu = Math.max(v.mtu, parseInt(value, 10) || 0);
        break;
      case 'Address':
        if (value.includes(':')) v.addr6 = value;
        else v.addr = value;
        break;
      case 'Address-IP6':
        v.netmask6 = value;
        break;
      case 'Netmask':
        if (value.includes(':')) v.netmask6 = value;
        else v.netmask = value;
        break;
      case 'DNS':
      case 'DNS-IP6':
        if (v.dns.length < 3) v.dns.push(value);
        break;
      case 'Split-Include':
      case 'Split-Include-IP6':
        v.includes.push(value);
        break;
      case 'Split-Exclude':
      case 'Split-Exclude-IP6':
        v.excludes.push(value);
        break;
      case 'DPD':
        v.dpd = parseInt(value, 10) || 0;
        break;
      case 'Keepalive':
        v.keepalive = parseInt(value, 10) || 0;
        break;
      case 'Rekey-Method':
        v.rekeyMethod = value;
        break;
      case 'Banner':
        v.banner = value.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
        break;
      default:
    }
  }
  return v;
}

const BASE: TunnelOffer = {
  ipv4: { address: '10.10.0.5', netmask: '255.255.255.0' },
  ipv6: { address: 'fd00:1::5', prefix: 128 },
  mtu: 1434,
  baseMtu: 1500,
  dns: ['10.10.0.1', 'fd00:1::1'],
  defaultDomain: 'corp.example',
  splitInclude: ['10.0.0.0/8', 'fd00::/16'],
  splitExclude: ['10.99.0.0/16'],
  dpd: 90,
  keepalive: 32400,
  idleTimeout: 1200,
  sessionTimeout: null,
  rekeyMethod: 'none',
};

test('golden: a whole reply, header for header as ocserv orders and spells it', () => {
  const want = [
    'HTTP/1.1 200 CONNECTED',
    'X-CSTP-Version: 1',
    'X-CSTP-Server-Name: wolfguard',
    'X-CSTP-Hostname: laptop',
    'X-CSTP-DPD: 90',
    'X-CSTP-Default-Domain: corp.example',
    'X-CSTP-Address: 10.10.0.5',
    'X-CSTP-Netmask: 255.255.255.0',
    'X-CSTP-Address-IP6: fd00:1::5/128',
    'X-CSTP-DNS: 10.10.0.1',
    'X-CSTP-DNS: fd00:1::1',
    'X-CSTP-Split-Include: 10.0.0.0/255.0.0.0',
    'X-CSTP-Split-Include-IP6: fd00::/16',
    'X-CSTP-Tunnel-All-DNS: false',
    'X-CSTP-Client-Bypass-Protocol: false',
    'X-CSTP-Split-Exclude: 10.99.0.0/255.255.0.0',
    'X-CSTP-Keepalive: 32400',
    'X-CSTP-Idle-Timeout: 1200',
    'X-CSTP-Smartcard-Removal-Disconnect: true',
    'X-CSTP-Rekey-Method: none',
    'X-CSTP-Session-Timeout: none',
    'X-CSTP-Disconnected-Timeout: none',
    'X-CSTP-Keep: true',
    'X-CSTP-TCP-Keepalive: true',
    'X-CSTP-License: accept',
    'X-DTLS-DPD: 90',
    'X-DTLS-Port: 443',
    'X-DTLS-Rekey-Time: 172810',
    'X-DTLS-Rekey-Method: ssl',
    'X-DTLS-Keepalive: 32400',
    `X-DTLS-App-ID: ${'ab'.repeat(32)}`,
    'X-DTLS-CipherSuite: PSK-NEGOTIATE',
    'X-CSTP-Base-MTU: 1500',
    'X-CSTP-MTU: 1434',
    'X-CSTP-Banner: Welcome%0Aback',
  ].join('\r\n');
  const got = buildConnectReply({
    ...BASE,
    hostname: 'laptop',
    banner: 'Welcome\nback',
    dtls: { mode: 'psk', port: 443, dpd: 90, keepalive: 32400, rekeyTime: 172810, rekeyMethod: 'ssl', appId: Buffer.alloc(32, 0xab) },
  });
  assert.equal(got, `${want}\r\n\r\n`);
});

test('openconnect reads every header we send, and needs nothing we leave out', () => {
  const offers: TunnelOffer[] = [
    BASE,
    { ...BASE, ipv6: undefined, dns: ['10.10.0.1'] },
    { ...BASE, ipv4: undefined },
    { ...BASE, dtls: { mode: 'legacy', port: 443, sessionId: Buffer.alloc(32, 1), cipherSuite: 'AES256-GCM-SHA384', dtls12: true, mtu: 1400 } },
    { ...BASE, sessionTimeout: 86400, sessionTimeoutRemaining: 3600, rekeyTime: 172800, rekeyMethod: 'ssl', disconnectedTimeout: 300 },
  ];
  for (const o of offers) {
    const v = openconnectReads(buildConnectReply(o));
    assert.deepEqual(v.unknown, [], 'every header name is one openconnect or ocserv uses');
    assert.ok(v.mtu > 0, 'openconnect aborts with "No MTU received"');
    assert.ok(v.addr !== undefined || v.netmask6 !== undefined, 'an address');
    assert.equal(v.dpd, o.dpd);
    assert.equal(v.keepalive, o.keepalive);
  }
});

test('client view: addresses, routes, DNS, DTLS as openconnect stores them', () => {
  const v = openconnectReads(
    buildConnectReply({ ...BASE, dtls: { mode: 'legacy', port: 443, sessionId: Buffer.alloc(32, 0xcd), cipherSuite: 'AES256-GCM-SHA384', dtls12: true, mtu: 1400 } }),
  );
  assert.equal(v.addr, '10.10.0.5');
  assert.equal(v.netmask, '255.255.255.0');
  assert.equal(v.netmask6, 'fd00:1::5/128');
  assert.deepEqual(v.dns, ['10.10.0.1', 'fd00:1::1']);
  assert.deepEqual(v.includes, ['10.0.0.0/255.0.0.0', 'fd00::/16']);
  assert.deepEqual(v.excludes, ['10.99.0.0/255.255.0.0']);
  // openconnect insists on exactly 64 hex digits here.
  assert.equal(v.dtls['Session-ID'], 'cd'.repeat(32));
  assert.equal(v.dtls['CipherSuite'], 'AES256-GCM-SHA384');
  assert.ok(v.dtls12);
  assert.equal(v.dtls['MTU'], '1400');
  assert.equal(v.mtu, 1434, 'openconnect takes the larger of X-CSTP-MTU and X-DTLS-MTU');
  assert.equal(v.rekeyMethod, 'none');
});

test('table: option → headers', () => {
  const has = (o: Partial<TunnelOffer>, ...lines: string[]): void => {
    const r = buildConnectReply({ ...BASE, ...o });
    for (const l of lines) assert.ok(r.includes(`\r\n${l}\r\n`), `${JSON.stringify(o).slice(0, 80)} → ${l}`);
  };
  const lacks = (o: Partial<TunnelOffer>, ...prefixes: string[]): void => {
    const r = buildConnectReply({ ...BASE, ...o });
    for (const p of prefixes) assert.ok(!r.includes(`\r\n${p}`), `${JSON.stringify(o).slice(0, 80)} ↛ ${p}`);
  };
  // Old clients without full IPv6: the address the old way, no IPv6 routes or DNS (ocserv).
  has({ fullIpv6: false, ipv6: { address: 'fd00:1::5', prefix: 64 } }, 'X-CSTP-Address: fd00:1::5', 'X-CSTP-Netmask: fd00:1::/64');
  lacks({ fullIpv6: false }, 'X-CSTP-Address-IP6', 'X-CSTP-Split-Include-IP6', 'X-CSTP-DNS: fd00');
  // No IPv6 address: no IPv6 routes or DNS either.
  lacks({ ipv6: undefined }, 'X-CSTP-Split-Include-IP6', 'X-CSTP-DNS: fd00');
  // Cisco clients want IPv6 DNS separately.
  has({ dnsIp6Header: true }, 'X-CSTP-DNS: 10.10.0.1', 'X-CSTP-DNS-IP6: fd00:1::1');
  // A default route: full tunnel, no includes, all DNS through the tunnel.
  has({ splitInclude: ['default', '10.0.0.0/8'] }, 'X-CSTP-Tunnel-All-DNS: true');
  lacks({ splitInclude: ['0.0.0.0/0'] }, 'X-CSTP-Split-Include');
  has({ tunnelAllDns: true }, 'X-CSTP-Tunnel-All-DNS: true');
  // Timers.
  has({ idleTimeout: 0 }, 'X-CSTP-Idle-Timeout: none');
  has({ idleTimeout: undefined }, 'X-CSTP-Idle-Timeout: none');
  has({ sessionTimeout: 86400 }, 'X-CSTP-Session-Timeout: 86400', 'X-CSTP-Session-Timeout-Remaining: 86400');
  has({ sessionTimeout: 86400, sessionTimeoutRemaining: 10 }, 'X-CSTP-Session-Timeout-Remaining: 10');
  has({ disconnectedTimeout: 300 }, 'X-CSTP-Disconnected-Timeout: 300');
  has({ rekeyTime: 3600, rekeyMethod: 'new-tunnel' }, 'X-CSTP-Rekey-Time: 3600', 'X-CSTP-Rekey-Method: new-tunnel');
  has({ rekeyTime: 0, rekeyMethod: 'ssl' }, 'X-CSTP-Rekey-Method: none');
  lacks({ dpd: 0 }, 'X-CSTP-DPD');
  // Routes written the ocserv way.
  has({ splitInclude: ['192.168.1.0/255.255.255.0', '172.16.0.0/12', '10.1.2.3/32'] }, 'X-CSTP-Split-Include: 192.168.1.0/255.255.255.0', 'X-CSTP-Split-Include: 172.16.0.0/255.240.0.0', 'X-CSTP-Split-Include: 10.1.2.3/255.255.255.255');
  has({ splitExclude: ['2001:DB8:0::/48'] }, 'X-CSTP-Split-Exclude-IP6: 2001:db8::/48');
  has({ nbns: ['10.10.0.2'], splitDns: ['corp.example'] }, 'X-CSTP-NBNS: 10.10.0.2', 'X-CSTP-Split-DNS: corp.example');
  has({ contentEncoding: 'lzs', dtls: { mode: 'psk', port: 443, appId: Buffer.from([1]), contentEncoding: 'oc-lz4' } }, 'X-DTLS-App-ID: 01', 'X-DTLS-Content-Encoding: oc-lz4', 'X-CSTP-Content-Encoding: lzs');
  has({ dtls: { mode: 'legacy', port: 443, sessionId: Buffer.alloc(32), cipherSuite: 'AES256-SHA', dtls12: false, mtu: 1300 } }, 'X-DTLS-CipherSuite: AES256-SHA');
  has({ serverName: 'gw1' }, 'X-CSTP-Server-Name: gw1');
});

test('refused offers: header injection, missing address or MTU, bad sizes', () => {
  const bad: Array<[string, Partial<TunnelOffer>]> = [
    ['CRLF in domain', { defaultDomain: 'x\r\nX-CSTP-Address: 1.2.3.4' }],
    ['LF in server name', { serverName: 'a\nb' }],
    ['NUL in split DNS', { splitDns: ['a\0b'] }],
    ['CR in hostname', { hostname: 'h\r' }],
    ['no address', { ipv4: undefined, ipv6: undefined }],
    ['zero MTU', { mtu: 0 }],
    ['fractional MTU', { mtu: 1400.5 }],
    ['negative keepalive', { keepalive: -1 }],
    ['DNS not an address', { dns: ['dns.example'] }],
    ['IPv4 address that is IPv6', { ipv4: { address: 'fd00::1', netmask: '255.0.0.0' } }],
    ['bad netmask', { ipv4: { address: '10.0.0.1', netmask: 'x' } }],
    ['IPv6 prefix 129', { ipv6: { address: 'fd00::1', prefix: 129 } }],
    ['route with host bits', { splitInclude: ['10.0.0.1/8'] }],
    ['non-contiguous mask', { splitInclude: ['10.0.0.0/255.0.255.0'] }],
    ['route garbage', { splitExclude: ['nonsense'] }],
    ['short session id', { dtls: { mode: 'legacy', port: 443, sessionId: Buffer.alloc(31), cipherSuite: 'AES256-SHA', dtls12: false, mtu: 1300 } }],
    ['empty app id', { dtls: { mode: 'psk', port: 443, appId: Buffer.alloc(0) } }],
    ['app id too long', { dtls: { mode: 'psk', port: 443, appId: Buffer.alloc(33) } }],
    ['port 0', { dtls: { mode: 'psk', port: 0, appId: Buffer.alloc(32) } }],
    ['port 70000', { dtls: { mode: 'psk', port: 70000, appId: Buffer.alloc(32) } }],
    ['suite with CRLF', { dtls: { mode: 'legacy', port: 443, sessionId: Buffer.alloc(32), cipherSuite: 'A\r\nB', dtls12: true, mtu: 1 } }],
  ];
  for (const [name, o] of bad) assert.throws(() => buildConnectReply({ ...BASE, ...o }), (e) => isWolfguardError(e, ErrorCodes.INVALID_ARGUMENT), name);
});

test('banner: %-encoded so any text survives one header line, and openconnect decodes it back', () => {
  const linesWithout = buildConnectReply(BASE).split('\r\n').length;
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (banner) => {
      const r = buildConnectReply({ ...BASE, banner });
      assert.equal(r.split('\r\n').length, linesWithout + 1, 'exactly one more line');
      assert.equal(openconnectReads(r).banner, banner);
    }),
    { numRuns: 500 },
  );
  assert.equal(encodeBanner('100% sure\r\n'), '100%25 sure%0D%0A');
});

test('routeText: table', () => {
  const cases: Array<[string, { v6: boolean; text: string }]> = [
    ['10.0.0.0/8', { v6: false, text: '10.0.0.0/255.0.0.0' }],
    ['0.0.0.0/0', { v6: false, text: '0.0.0.0/0.0.0.0' }],
    ['192.168.7.0/255.255.255.0', { v6: false, text: '192.168.7.0/255.255.255.0' }],
    ['10.1.1.1', { v6: false, text: '10.1.1.1/255.255.255.255' }],
    ['fd00::/8', { v6: true, text: 'fd00::/8' }],
    ['::/0', { v6: true, text: '::/0' }],
  ];
  for (const [input, want] of cases) assert.deepEqual(routeText(input), want, input);
});

test('refusals: what openconnect looks for (status prefix, X-Reason)', () => {
  assert.equal(buildHttpRefusal(503, 'Server configuration error'), 'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\nX-Reason: Server configuration error\r\n\r\n');
  assert.equal(buildHttpRefusal(401), 'HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  assert.ok(buildHttpRefusal(403, 'x').startsWith('HTTP/1.1 403 Forbidden\r\n'));
  assert.ok(buildHttpRefusal(404).startsWith('HTTP/1.1 404 Not Found\r\n'));
  const injected = buildHttpRefusal(503, 'a\r\nSet-Cookie: webvpn=evil\r\n\r\nbody');
  assert.equal(injected.split('\r\n\r\n').length, 2);
  assert.ok(injected.includes('X-Reason: a Set-Cookie: webvpn=evil body\r\n'));
  assert.ok(buildHttpRefusal(503, 'r'.repeat(1000)).includes(`X-Reason: ${'r'.repeat(200)}\r\n\r\n`));
  assert.throws(() => buildHttpRefusal(500 as never), (e) => isWolfguardError(e, ErrorCodes.INVALID_ARGUMENT));
});
