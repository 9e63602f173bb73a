// Legacy Cisco DTLS, the pure parts: which suite a CONNECT gets, when the
// mode is offered at all, and the three ocserv keys that switch the DTLS
// modes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LEGACY_SUITES, LEGACY_WOLFSSL_CIPHERS, bulkCipherOf, chooseLegacySuite, planLegacyDtls, type LegacyChoiceInput } from '../../src/workers/dtls-legacy';
import { parseConfig } from '../../src/main/config/load';

// What openconnect 9.01 (GnuTLS) sends, and what Cisco Secure Client sends.
const OPENCONNECT_DTLS12 = ['ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES128-GCM-SHA256', 'AES256-GCM-SHA384', 'AES128-GCM-SHA256'];
const OPENCONNECT_DTLS = ['PSK-NEGOTIATE', 'OC-DTLS1_2-AES256-GCM', 'OC-DTLS1_2-AES128-GCM', 'AES256-SHA', 'AES128-SHA'];

const cases: Array<{ name: string; input: LegacyChoiceInput; want: string | undefined; dtls12?: boolean }> = [
  { name: 'openconnect: AES256-GCM-SHA384 from the DTLS 1.2 list', input: { dtls12CipherSuites: OPENCONNECT_DTLS12, dtlsCipherSuites: OPENCONNECT_DTLS }, want: 'AES256-GCM-SHA384', dtls12: true },
  { name: 'order of the client list does not matter (server priority)', input: { dtls12CipherSuites: ['AES128-GCM-SHA256', 'AES256-GCM-SHA384'], dtlsCipherSuites: [] }, want: 'AES256-GCM-SHA384' },
  { name: 'only AES128 offered', input: { dtls12CipherSuites: ['AES128-GCM-SHA256'], dtlsCipherSuites: [] }, want: 'AES128-GCM-SHA256' },
  { name: 'only ECDHE-RSA offered: accepted', input: { dtls12CipherSuites: ['ECDHE-RSA-AES128-GCM-SHA256'], dtlsCipherSuites: [] }, want: 'ECDHE-RSA-AES128-GCM-SHA256' },
  { name: 'plain RSA preferred over ECDHE-RSA', input: { dtls12CipherSuites: ['ECDHE-RSA-AES256-GCM-SHA384', 'AES128-GCM-SHA256'], dtlsCipherSuites: [] }, want: 'AES128-GCM-SHA256' },
  { name: 'no DTLS 1.2 list: the old names', input: { dtls12CipherSuites: [], dtlsCipherSuites: OPENCONNECT_DTLS }, want: 'OC-DTLS1_2-AES256-GCM', dtls12: false },
  { name: 'DTLS 0.9 only: nothing (wolfSSL has no DTLS 0.9)', input: { dtls12CipherSuites: [], dtlsCipherSuites: ['AES256-SHA', 'AES128-SHA', 'DES-CBC3-SHA'] }, want: undefined },
  { name: 'PSK-NEGOTIATE is not a legacy suite', input: { dtls12CipherSuites: ['PSK-NEGOTIATE'], dtlsCipherSuites: ['PSK-NEGOTIATE'] }, want: undefined },
  { name: 'nothing offered', input: { dtls12CipherSuites: [], dtlsCipherSuites: [] }, want: undefined },
  { name: 'names are exact (case matters, as in ocserv strcmp)', input: { dtls12CipherSuites: ['aes256-gcm-sha384'], dtlsCipherSuites: [] }, want: undefined },
  {
    name: 'match-tls-dtls-ciphers: the TLS channel uses AES-128-GCM',
    input: { dtls12CipherSuites: OPENCONNECT_DTLS12, dtlsCipherSuites: [], tlsCipher: 'TLS13-AES128-GCM-SHA256', matchTlsCipher: true },
    want: 'AES128-GCM-SHA256',
  },
  {
    name: 'match-tls-dtls-ciphers off: server priority',
    input: { dtls12CipherSuites: OPENCONNECT_DTLS12, dtlsCipherSuites: [], tlsCipher: 'TLS13-AES128-GCM-SHA256', matchTlsCipher: false },
    want: 'AES256-GCM-SHA384',
  },
  {
    name: 'match-tls-dtls-ciphers with a TLS cipher no legacy suite has: server priority',
    input: { dtls12CipherSuites: OPENCONNECT_DTLS12, dtlsCipherSuites: [], tlsCipher: 'TLS13-CHACHA20-POLY1305-SHA256', matchTlsCipher: true },
    want: 'AES256-GCM-SHA384',
  },
];

for (const c of cases) {
  test(`chooseLegacySuite: ${c.name}`, () => {
    const got = chooseLegacySuite(c.input);
    assert.equal(got?.name, c.want);
    if (c.dtls12 !== undefined) assert.equal(got?.dtls12, c.dtls12);
  });
}

test('bulkCipherOf reads wolfSSL, IANA and OpenSSL names', () => {
  assert.equal(bulkCipherOf('TLS13-AES256-GCM-SHA384'), 'aes-256-gcm');
  assert.equal(bulkCipherOf('TLS_AES_128_GCM_SHA256'), 'aes-128-gcm');
  assert.equal(bulkCipherOf('ECDHE-ECDSA-AES128-GCM-SHA256'), 'aes-128-gcm');
  assert.equal(bulkCipherOf('TLS13-CHACHA20-POLY1305-SHA256'), undefined);
});

test('every legacy suite resumes one of the suites the legacy context allows', () => {
  const allowed = new Set(LEGACY_WOLFSSL_CIPHERS.split(':'));
  for (const s of LEGACY_SUITES) assert.ok(allowed.has(s.wolfssl), s.name);
});

test('chooseLegacySuite: any lists, never throws, picks only what the client offered', () => {
  const name = fc.oneof(fc.constantFrom(...LEGACY_SUITES.map((s) => s.name), 'PSK-NEGOTIATE', 'AES256-SHA'), fc.string({ maxLength: 40 }));
  fc.assert(
    fc.property(fc.array(name, { maxLength: 8 }), fc.array(name, { maxLength: 8 }), fc.option(fc.string({ maxLength: 40 })), fc.boolean(), (d12, d, tls, match) => {
      const got = chooseLegacySuite({ dtls12CipherSuites: d12, dtlsCipherSuites: d, tlsCipher: tls, matchTlsCipher: match });
      if (got) assert.ok((got.dtls12 ? d12 : d).includes(got.name));
      else assert.ok(!LEGACY_SUITES.some((s) => (s.dtls12 ? d12 : d).includes(s.name)));
    }),
  );
});

const ID = Buffer.alloc(32, 7);
const SECRET = Buffer.alloc(48, 9);

test('planLegacyDtls: the session id is the given id, the secret the client\'s, the suite wolfSSL\'s name', () => {
  const plan = planLegacyDtls({ dtls12CipherSuites: OPENCONNECT_DTLS12, dtlsCipherSuites: OPENCONNECT_DTLS, masterSecret: SECRET, sessionId: ID });
  assert.ok(plan);
  assert.equal(plan.suite.name, 'AES256-GCM-SHA384');
  assert.deepEqual(plan.session, { sessionId: ID, masterSecret: SECRET, cipherSuite: 'AES256-GCM-SHA384' });
  const old = planLegacyDtls({ dtls12CipherSuites: [], dtlsCipherSuites: ['OC-DTLS1_2-AES128-GCM'], masterSecret: SECRET, sessionId: ID });
  assert.equal(old?.session.cipherSuite, 'AES128-GCM-SHA256', 'OC-DTLS1_2 names are the same DTLS 1.2 suites');
});

test('planLegacyDtls: no master secret, wrong sizes or no common suite: no legacy mode', () => {
  const base = { dtls12CipherSuites: OPENCONNECT_DTLS12, dtlsCipherSuites: [] };
  assert.equal(planLegacyDtls({ ...base, sessionId: ID }), undefined);
  assert.equal(planLegacyDtls({ ...base, masterSecret: SECRET.subarray(1), sessionId: ID }), undefined);
  assert.equal(planLegacyDtls({ ...base, masterSecret: SECRET, sessionId: ID.subarray(1) }), undefined);
  assert.equal(planLegacyDtls({ dtls12CipherSuites: ['AES256-SHA'], dtlsCipherSuites: [], masterSecret: SECRET, sessionId: ID }), undefined);
});

const MINIMAL = ['server-cert = /c.pem', 'server-key = /k.pem', 'auth = "plain[passwd=/etc/ocserv/ocpasswd]"', 'ipv4-network = 10.1.0.0/16', 'udp-port = 443'];
const OPTS = { source: '/etc/ocserv/ocserv.conf', baseDir: '/etc/ocserv' };

const configCases: Array<{ lines: string[]; psk: boolean; legacy: boolean; match: boolean }> = [
  { lines: [], psk: true, legacy: true, match: false },
  { lines: ['dtls-psk = false'], psk: false, legacy: true, match: false },
  { lines: ['dtls-legacy = false'], psk: true, legacy: false, match: false },
  { lines: ['match-tls-dtls-ciphers = true', 'dtls-psk = true'], psk: true, legacy: true, match: true },
];
for (const c of configCases) {
  test(`config: ${c.lines.join(', ') || 'defaults'} → psk ${c.psk}, legacy ${c.legacy}, match ${c.match}; no warning`, () => {
    const { config, warnings } = parseConfig([...MINIMAL, ...c.lines].join('\n') + '\n', OPTS);
    assert.equal(config.dtlsPsk, c.psk);
    assert.equal(config.dtlsLegacy, c.legacy);
    assert.equal(config.matchTlsDtlsCiphers, c.match);
    assert.deepEqual(warnings, []);
    assert.deepEqual(config.ignoredKeys, []);
  });
}

test('config: a dtls-psk that is not a boolean names the key', () => {
  assert.throws(() => parseConfig([...MINIMAL, 'dtls-psk = maybe'].join('\n') + '\n', OPTS), (e: Error) => e.name === 'WolfguardError' && /dtls-psk/.test(e.message));
});
