// MTU negotiation as ocserv's worker-vpn.c does it, with the underflow that
// once bit ocserv made impossible.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DtlsOverhead,
  IPV6_MIN_MTU,
  MAX_LINK_MTU,
  MIN_DATA_MTU,
  MIN_LINK_MTU_IPV4,
  MIN_LINK_MTU_IPV6,
  cstpReceiveLimit,
  negotiateMtu,
  tunnelMtu,
  type MtuInput,
} from '../../src/protocol/mtu';

test('overhead constants are what gnutls_est_record_overhead_size gives ocserv (+1 type byte)', () => {
  assert.equal(DtlsOverhead.AES_GCM, 38);
  assert.equal(DtlsOverhead.CHACHA20_POLY1305, 30);
  assert.equal(DtlsOverhead.CBC_SHA1_MAX, 66);
});

test('table: ocserv connect_handler + calc_mtu_values', () => {
  const cases: Array<{ name: string; in: MtuInput; link: number; data: number; ipv6Ok: boolean }> = [
    { name: 'defaults, no DTLS: 1500 - IPv4 - UDP', in: {}, link: 1500, data: 1472, ipv6Ok: true },
    { name: 'openconnect over Ethernet, DTLS-PSK AES-GCM', in: { clientBaseMtu: 1500, clientMtu: 1390, dtlsOverhead: DtlsOverhead.AES_GCM }, link: 1500, data: 1434, ipv6Ok: true },
    { name: 'IPv6 transport costs 20 more', in: { clientBaseMtu: 1500, transport: 'ipv6', dtlsOverhead: DtlsOverhead.AES_GCM }, link: 1500, data: 1414, ipv6Ok: true },
    { name: 'configured MTU is a ceiling', in: { configured: 1400, clientBaseMtu: 1500, dtlsOverhead: DtlsOverhead.AES_GCM }, link: 1400, data: 1334, ipv6Ok: true },
    { name: 'client base MTU lowers it', in: { configured: 1500, clientBaseMtu: 1420 }, link: 1420, data: 1392, ipv6Ok: true },
    { name: 'base MTU below the minimum is ignored (ocserv)', in: { clientBaseMtu: 700, clientMtu: 600 }, link: 1500, data: 1472, ipv6Ok: true },
    { name: 'old client: X-CSTP-MTU + worst DTLS overhead', in: { clientMtu: 1300 }, link: 1300 + 28 + 66, data: 1300 + 66, ipv6Ok: true },
    { name: 'old client with a useless X-CSTP-MTU', in: { clientMtu: 100 }, link: 1500, data: 1472, ipv6Ok: true },
    { name: 'base MTU of 0 (ocserv: unset) falls back to X-CSTP-MTU', in: { clientBaseMtu: 0, clientMtu: 1200 }, link: 1294, data: 1266, ipv6Ok: false },
    { name: 'TCP path MTU lowers it', in: { clientBaseMtu: 1500, pathMtu: 1280, dtlsOverhead: DtlsOverhead.AES_GCM }, link: 1280, data: 1214, ipv6Ok: false },
    { name: 'path MTU below the minimum is ignored', in: { pathMtu: 500 }, link: 1500, data: 1472, ipv6Ok: true },
    { name: 'IPv6 tunnel raises the floor to 1280', in: { clientBaseMtu: 1000, ipv6Tunnel: true }, link: 1500, data: 1472, ipv6Ok: true },
    { name: 'IPv4-only floor is 800', in: { clientBaseMtu: 800 }, link: 800, data: 772, ipv6Ok: false },
    { name: 'IPv6 tunnel at the floor cannot carry IPv6 with DTLS: drop IPv6', in: { clientBaseMtu: 1280, ipv6Tunnel: true, dtlsOverhead: DtlsOverhead.AES_GCM }, link: 1280, data: 1214, ipv6Ok: false },
    { name: 'absurd configured MTU (the ocserv underflow) is clamped', in: { configured: 10, dtlsOverhead: DtlsOverhead.CBC_SHA1_MAX }, link: MIN_LINK_MTU_IPV4, data: MIN_LINK_MTU_IPV4 - 28 - 66, ipv6Ok: false },
    { name: 'configured below the floor is raised to it', in: { configured: 600 }, link: MIN_LINK_MTU_IPV4, data: MIN_LINK_MTU_IPV4 - 28, ipv6Ok: false },
    { name: 'jumbo base MTU capped by configured default', in: { clientBaseMtu: 9000 }, link: 1500, data: 1472, ipv6Ok: true },
    { name: 'jumbo configured', in: { configured: 9000, clientBaseMtu: 9000 }, link: 9000, data: 8972, ipv6Ok: true },
    { name: 'silly big client values ignored', in: { clientBaseMtu: 65535, clientMtu: 65535 }, link: 1500, data: 1472, ipv6Ok: true },
    { name: 'absurd DTLS overhead never drives data below the floor', in: { clientBaseMtu: 800, dtlsOverhead: 5000 }, link: 800, data: MIN_DATA_MTU, ipv6Ok: false },
  ];
  for (const c of cases) {
    assert.deepEqual(negotiateMtu(c.in), { linkMtu: c.link, dataMtu: c.data, ipv6Ok: c.ipv6Ok }, c.name);
    assert.equal(tunnelMtu(c.in), c.data, c.name);
  }
});

test('property: never underflows, never exceeds the link, honours the floors', () => {
  const n = fc.oneof(fc.integer({ min: -100000, max: 100000 }), fc.constantFrom(NaN, Infinity, -Infinity, 0.5, 1280, 1500), fc.constant(undefined));
  fc.assert(
    fc.property(n, n, n, n, n, fc.boolean(), fc.boolean(), (configured, base, mtu, pmtu, overhead, v6t, v6) => {
      const r = negotiateMtu({
        configured: configured as number | undefined,
        clientBaseMtu: base as number | undefined,
        clientMtu: mtu as number | undefined,
        pathMtu: pmtu as number | undefined,
        dtlsOverhead: overhead as number | undefined,
        transport: v6t ? 'ipv6' : 'ipv4',
        ipv6Tunnel: v6,
      });
      assert.ok(Number.isInteger(r.linkMtu) && Number.isInteger(r.dataMtu));
      assert.ok(r.linkMtu >= (v6 ? MIN_LINK_MTU_IPV6 : MIN_LINK_MTU_IPV4) && r.linkMtu <= MAX_LINK_MTU);
      assert.ok(r.dataMtu >= MIN_DATA_MTU && r.dataMtu < r.linkMtu);
      assert.equal(r.ipv6Ok, r.dataMtu >= IPV6_MIN_MTU);
    }),
    { numRuns: 5000 },
  );
});

test('CSTP receive limit allows what openconnect itself allows', () => {
  assert.equal(cstpReceiveLimit(1400), 16384);
  assert.equal(cstpReceiveLimit(9000), 16384);
  assert.equal(cstpReceiveLimit(20000), 20000);
});
