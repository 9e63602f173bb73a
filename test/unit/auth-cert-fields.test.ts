// Reading the user name and groups out of client certificates: subject DN
// attributes by OID, SAN e-mails, OIDs, and malformed DER (never anything but
// a WolfguardError).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { OID_CN, OID_OU, OID_UID, certificateIdentity, oidToText } from '../../src/main/auth/cert-fields';
import { SAN_EMAIL, certGroups, certUser, parseCertOid } from '../../src/main/auth/cert-backend';
import { ErrorCodes, isWolfguardError } from '../../src/common/errors';

let dir: string;
const der = new Map<string, Buffer>();

function selfSigned(name: string, subj: string, ext: string[] = []): Buffer {
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '1', '-utf8', '-subj', subj];
  for (const e of ext) args.push('-addext', e);
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  return new X509Certificate(fs.readFileSync(path.join(dir, `${name}.pem`))).raw;
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-certfields-'));
  der.set('full', selfSigned('full', '/C=DE/O=wolfguard/OU=eng/OU=ops/OU=eng/CN=alice/UID=alice.uid', ['subjectAltName=DNS:host.test,email:alice@example.test,email:a2@example.test']));
  der.set('plain', selfSigned('plain', '/CN=bob'));
  der.set('utf8', selfSigned('utf8', '/CN=Jürgen Ñandú 名前'));
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('subject attributes come out by OID in certificate order, with SAN e-mails and a SHA-256 fingerprint', () => {
  const id = certificateIdentity(der.get('full')!);
  assert.deepEqual(id.subject, [
    { oid: '2.5.4.6', value: 'DE' },
    { oid: '2.5.4.10', value: 'wolfguard' },
    { oid: OID_OU, value: 'eng' },
    { oid: OID_OU, value: 'ops' },
    { oid: OID_OU, value: 'eng' },
    { oid: OID_CN, value: 'alice' },
    { oid: OID_UID, value: 'alice.uid' },
  ]);
  assert.deepEqual(id.emails, ['alice@example.test', 'a2@example.test']);
  assert.match(id.fingerprint, /^[0-9a-f]{64}$/);
  assert.notEqual(id.fingerprint, certificateIdentity(der.get('plain')!).fingerprint);
  assert.deepEqual(certificateIdentity(der.get('plain')!), { subject: [{ oid: OID_CN, value: 'bob' }], emails: [], fingerprint: certificateIdentity(der.get('plain')!).fingerprint });
});

test('UTF8String names survive', () => {
  assert.equal(certUser(certificateIdentity(der.get('utf8')!), { userOid: OID_CN }), 'Jürgen Ñandú 名前');
});

test('user name by cert-user-oid (CN, UID, SAN(rfc822name)); groups by cert-group-oid, once each', () => {
  const id = certificateIdentity(der.get('full')!);
  const table: Array<[string, string | undefined]> = [
    [OID_CN, 'alice'],
    [OID_UID, 'alice.uid'],
    [SAN_EMAIL, 'alice@example.test'],
    ['2.5.4.12', undefined], // title: absent
  ];
  for (const [userOid, want] of table) assert.equal(certUser(id, { userOid }), want, userOid);
  assert.deepEqual(certGroups(id, { userOid: OID_CN, groupOid: OID_OU }), ['eng', 'ops']);
  assert.deepEqual(certGroups(id, { userOid: OID_CN }), []);
  assert.equal(certUser(certificateIdentity(der.get('plain')!), { userOid: SAN_EMAIL }), undefined);
});

test('OID contents decode to dotted text, including multi-byte and large first arcs', () => {
  const table: Array<[number[], string]> = [
    [[0x55, 0x04, 0x03], '2.5.4.3'],
    [[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01], '0.9.2342.19200300.100.1.1'],
    [[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01], '1.2.840.113549.1.9.1'],
    [[0x88, 0x37, 0x03], '2.999.3'],
  ];
  for (const [bytes, text] of table) assert.equal(oidToText(Uint8Array.from(bytes)), text);
  for (const bad of [[], [0x55, 0x84]]) {
    assert.throws(() => oidToText(Uint8Array.from(bad)), (e: unknown) => isWolfguardError(e) && e.code === ErrorCodes.TLS_BAD_CERT);
  }
});

test('cert-user-oid / cert-group-oid values are validated', () => {
  const table: Array<[string, boolean, string | undefined]> = [
    ['2.5.4.3', true, '2.5.4.3'],
    [' 0.9.2342.19200300.100.1.1 ', true, '0.9.2342.19200300.100.1.1'],
    ['SAN(rfc822name)', true, SAN_EMAIL],
    ['san(RFC822NAME)', true, SAN_EMAIL],
    ['SAN(rfc822name)', false, undefined],
    ['CN', true, undefined],
    ['2.5.4.', true, undefined],
    ['3.1', true, undefined],
    ['2.05.4', true, undefined],
    ['', true, undefined],
  ];
  for (const [v, san, want] of table) {
    const r = parseCertOid(v, san);
    if (want === undefined) assert.equal(r.ok, false, v);
    else assert.deepEqual(r, { ok: true, oid: want }, v);
  }
});

test('fuzz: truncated, mutated or random bytes throw only TLS_BAD_CERT, or parse', () => {
  const real = der.get('full')!;
  const only = (f: () => unknown): void => {
    try {
      f();
    } catch (e) {
      assert.ok(isWolfguardError(e) && e.code === ErrorCodes.TLS_BAD_CERT, String(e));
    }
  };
  fc.assert(
    fc.property(fc.nat(real.length), fc.array(fc.tuple(fc.nat(real.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), (cut, edits) => {
      const b = Buffer.from(real.subarray(0, cut));
      for (const [i, v] of edits) if (i < b.length) b[i] = v;
      only(() => certificateIdentity(b));
    }),
    { numRuns: 3000 },
  );
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => only(() => certificateIdentity(b))), { numRuns: 2000 });
  // A mutation that still parses must at least not invent a length beyond the input.
  assert.throws(() => certificateIdentity(real.subarray(0, real.length - 1)), (e: unknown) => isWolfguardError(e));
});
