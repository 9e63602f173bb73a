// The CONNECT request as openconnect 9 writes it (cstp.c
// start_cstp_connection), as Node hands it over (req.rawHeaders), and what
// hostile headers can do (only a WolfguardError naming the header).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_COOKIE_CHARS, parseConnectRequest } from '../../src/protocol/connect-request';
import { ErrorCodes, WolfguardError } from '../../src/common/errors';

const SECRET = '00112233445566778899AABBCCDDEEFF'.repeat(3);

/** openconnect 9.12 with DTLS, IPv6, compression (cstp.c order, header spelling). */
const OPENCONNECT_9: string[] = [
  'Host', 'vpn.example.com',
  'User-Agent', 'AnyConnect-compatible OpenConnect VPN Agent v9.12-2',
  'Cookie', 'webvpn=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=',
  'X-CSTP-Version', '1',
  'X-CSTP-Hostname', 'laptop',
  'X-CSTP-Protocol', 'Copyright (c) 2004 Cisco Systems, Inc.',
  'X-CSTP-Accept-Encoding', 'oc-lz4,lzs,deflate',
  'X-CSTP-Base-MTU', '1500',
  'X-CSTP-MTU', '1390',
  'X-CSTP-Address-Type', 'IPv6,IPv4',
  'X-CSTP-Address', '10.10.0.5',
  'X-CSTP-Full-IPv6-Capability', 'true',
  'X-CSTP-Address', 'fd00::5',
  'X-DTLS-Master-Secret', SECRET,
  'X-DTLS-CipherSuite', 'PSK-NEGOTIATE:OC-DTLS1_2-AES256-GCM:OC-DTLS1_2-AES128-GCM:AES256-SHA:AES128-SHA',
  'X-DTLS12-CipherSuite', 'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-GCM-SHA256',
  'X-DTLS-Accept-Encoding', 'oc-lz4,lzs',
];

test('openconnect 9 CONNECT parses completely', () => {
  const r = parseConnectRequest(OPENCONNECT_9);
  assert.deepEqual(r, {
    cookie: 'Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=',
    hostname: 'laptop',
    baseMtu: 1500,
    mtu: 1390,
    addressTypes: ['IPv6', 'IPv4'],
    fullIpv6: true,
    previousAddress: '10.10.0.5',
    previousAddress6: 'fd00::5',
    dtlsMasterSecret: Buffer.from(SECRET, 'hex'),
    dtlsCipherSuites: ['PSK-NEGOTIATE', 'OC-DTLS1_2-AES256-GCM', 'OC-DTLS1_2-AES128-GCM', 'AES256-SHA', 'AES128-SHA'],
    dtls12CipherSuites: ['ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES128-GCM-SHA256', 'AES256-GCM-SHA384', 'AES128-GCM-SHA256'],
    dtlsPsk: true,
    acceptEncoding: ['oc-lz4', 'lzs', 'deflate'],
    dtlsAcceptEncoding: ['oc-lz4', 'lzs'],
    userAgent: 'AnyConnect-compatible OpenConnect VPN Agent v9.12-2',
    clientKind: 'openconnect',
    mobile: false,
  });
  assert.equal(r.dtlsMasterSecret!.length, 48);
});

test('header names are case-insensitive; defaults when headers are missing', () => {
  const lower = OPENCONNECT_9.map((v, i) => (i % 2 === 0 ? v.toLowerCase() : v));
  assert.deepEqual(parseConnectRequest(lower), parseConnectRequest(OPENCONNECT_9));
  assert.deepEqual(parseConnectRequest([]), {
    addressTypes: ['IPv4', 'IPv6'],
    fullIpv6: false,
    dtlsCipherSuites: [],
    dtls12CipherSuites: [],
    dtlsPsk: false,
    clientKind: 'unknown',
    mobile: false,
  });
});

test('table: values read as ocserv reads them', () => {
  const cases: Array<{ name: string; headers: string[]; want: Record<string, unknown> }> = [
    { name: 'IPv4 only (openconnect --disable-ipv6)', headers: ['X-CSTP-Address-Type', 'IPv4'], want: { addressTypes: ['IPv4'] } },
    { name: 'full IPv6 is "true" only', headers: ['X-CSTP-Full-IPv6-Capability', 'false'], want: { fullIpv6: false } },
    { name: 'cookie among others, webvpncontext too', headers: ['Cookie', 'a=b; webvpncontext=ctx; webvpn=sess'], want: { cookie: 'sess', context: 'ctx' } },
    { name: 'webvpncontext is not webvpn', headers: ['Cookie', 'webvpncontext=ctx'], want: { cookie: undefined, context: 'ctx' } },
    { name: 'two Cookie headers', headers: ['Cookie', 'x=1', 'cookie', 'webvpn=s2'], want: { cookie: 's2' } },
    { name: 'empty webvpn cookie is no cookie', headers: ['Cookie', 'webvpn='], want: { cookie: undefined } },
    { name: 'invalid host name is ignored (ocserv)', headers: ['X-CSTP-Hostname', 'bad host;rm -rf'], want: { hostname: undefined } },
    { name: 'invalid previous address is ignored', headers: ['X-CSTP-Address', 'not-an-ip'], want: { previousAddress: undefined, previousAddress6: undefined } },
    { name: 'legacy DTLS only', headers: ['X-DTLS-CipherSuite', 'AES256-SHA:AES128-SHA'], want: { dtlsPsk: false, dtlsCipherSuites: ['AES256-SHA', 'AES128-SHA'] } },
    { name: 'PSK in the DTLS12 header', headers: ['X-DTLS12-CipherSuite', 'PSK-NEGOTIATE'], want: { dtlsPsk: true } },
    { name: 'lowercase master secret', headers: ['X-DTLS-Master-Secret', SECRET.toLowerCase()], want: { dtlsMasterSecret: Buffer.from(SECRET, 'hex') } },
    { name: 'MTU with spaces', headers: ['X-CSTP-MTU', ' 1400 '], want: { mtu: 1400 } },
    { name: 'zero MTU is passed on (mtu.ts ignores it)', headers: ['X-CSTP-Base-MTU', '0'], want: { baseMtu: 0 } },
    { name: 'Cisco AnyConnect', headers: ['User-Agent', 'Cisco AnyConnect VPN Agent for Windows 4.10.05095'], want: { clientKind: 'anyconnect' } },
    { name: 'openconnect v3', headers: ['User-Agent', 'Open AnyConnect VPN Agent v3.02'], want: { clientKind: 'openconnect-v3' } },
    { name: 'openconnect v7', headers: ['User-Agent', 'Open AnyConnect VPN Agent v7.08'], want: { clientKind: 'openconnect' } },
    {
      name: 'mobile identifiers',
      headers: ['X-AnyConnect-Identifier-DeviceType', 'Pixel 7', 'X-AnyConnect-Identifier-Platform', 'android'],
      want: { deviceType: 'Pixel 7', platform: 'android', mobile: true },
    },
    { name: 'over-long device type is dropped (ocserv)', headers: ['X-AnyConnect-Identifier-DeviceType', 'x'.repeat(64)], want: { deviceType: undefined } },
    { name: 'long user agent is cut', headers: ['User-Agent', 'a'.repeat(1000)], want: { userAgent: 'a'.repeat(256) } },
  ];
  for (const c of cases) {
    const r = parseConnectRequest(c.headers) as unknown as Record<string, unknown>;
    for (const [k, v] of Object.entries(c.want)) assert.deepEqual(r[k], v, `${c.name}: ${k}`);
  }
});

test('table: malformed values are refused with PROTOCOL naming the header', () => {
  const cases: Array<{ headers: string[]; header: string }> = [
    { headers: ['X-CSTP-MTU', '1400abc'], header: 'X-CSTP-MTU' },
    { headers: ['X-CSTP-MTU', '-1'], header: 'X-CSTP-MTU' },
    { headers: ['x-cstp-base-mtu', '99999'], header: 'x-cstp-base-mtu' },
    { headers: ['X-CSTP-Base-MTU', ''], header: 'X-CSTP-Base-MTU' },
    { headers: ['X-CSTP-Base-MTU', '1e3'], header: 'X-CSTP-Base-MTU' },
    { headers: ['X-DTLS-Master-Secret', SECRET.slice(0, 94)], header: 'X-DTLS-Master-Secret' },
    { headers: ['X-DTLS-Master-Secret', SECRET + '00'], header: 'X-DTLS-Master-Secret' },
    { headers: ['X-DTLS-Master-Secret', SECRET.slice(0, 95) + 'g'], header: 'X-DTLS-Master-Secret' },
    { headers: ['X-DTLS-CipherSuite', 'AES256-SHA:bad suite'], header: 'X-DTLS-CipherSuite' },
    { headers: ['X-DTLS12-CipherSuite', 'x'.repeat(5000)], header: 'X-DTLS12-CipherSuite' },
    { headers: ['X-CSTP-Accept-Encoding', 'lzs,<script>'], header: 'X-CSTP-Accept-Encoding' },
    { headers: ['Cookie', `webvpn=${'A'.repeat(MAX_COOKIE_CHARS + 1)}`], header: 'Cookie' },
    { headers: ['Cookie', 'webvpn=a\\b'], header: 'Cookie' },
    { headers: ['User-Agent', 'evil\u0000agent'], header: 'User-Agent' },
  ];
  for (const c of cases) {
    assert.throws(
      () => parseConnectRequest(c.headers),
      (e) => e instanceof WolfguardError && e.code === ErrorCodes.PROTOCOL && e.message.startsWith(`${c.header}:`) && e.details['header'] === c.header,
      JSON.stringify(c.headers).slice(0, 80),
    );
  }
  assert.throws(() => parseConnectRequest(['Cookie']), (e) => e instanceof WolfguardError && e.code === ErrorCodes.PROTOCOL);
});

test('cookie length cap (ocserv overflowed here): exactly the cap passes', () => {
  assert.equal(parseConnectRequest(['Cookie', `webvpn=${'A'.repeat(MAX_COOKIE_CHARS)}`]).cookie?.length, MAX_COOKIE_CHARS);
});

const headerName = fc.constantFrom(
  'Cookie',
  'X-CSTP-Hostname',
  'X-CSTP-Base-MTU',
  'X-CSTP-MTU',
  'X-CSTP-Address-Type',
  'X-CSTP-Full-IPv6-Capability',
  'X-CSTP-Address',
  'X-DTLS-Master-Secret',
  'X-DTLS-CipherSuite',
  'X-DTLS12-CipherSuite',
  'X-CSTP-Accept-Encoding',
  'X-DTLS-Accept-Encoding',
  'User-Agent',
  'X-AnyConnect-Identifier-DeviceType',
  'X-AnyConnect-Identifier-Platform',
  'X-Other',
);

test('fuzz: random headers only yield a result or WolfguardError(PROTOCOL)', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(headerName, fc.oneof(fc.string({ maxLength: 120 }), fc.stringMatching(/^[0-9A-Fa-f]{90,100}$/), fc.nat().map(String))), { maxLength: 12 }), (pairs) => {
      try {
        const r = parseConnectRequest(pairs.flat());
        if (r.cookie !== undefined) assert.ok(r.cookie.length <= MAX_COOKIE_CHARS);
        if (r.dtlsMasterSecret !== undefined) assert.equal(r.dtlsMasterSecret.length, 48);
        for (const t of r.addressTypes) assert.ok(t === 'IPv4' || t === 'IPv6');
      } catch (e) {
        if (!(e instanceof WolfguardError) || e.code !== ErrorCodes.PROTOCOL) throw e;
      }
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(fc.array(fc.string({ maxLength: 40 }), { maxLength: 9 }), (raw) => {
      try {
        parseConnectRequest(raw);
      } catch (e) {
        if (!(e instanceof WolfguardError)) throw e;
      }
    }),
    { numRuns: 1000 },
  );
});
