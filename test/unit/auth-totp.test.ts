// TOTP: RFC 6238 appendix B, the ±1 step window, replay refusal, base32 and
// the otpauth:// URI, against the published vectors and node:crypto.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import fc from 'fast-check';
import { base32Decode, base32Encode, hotp, otpauthUri, totp, totpStep, verifyTotp } from '../../src/main/auth/totp';
import { OtpChecker } from '../../src/main/auth/otp-checker';
import { isWolfguardError } from '../../src/common/errors';

const SEED_SHA1 = Buffer.from('12345678901234567890');
const SEED_SHA256 = Buffer.from('12345678901234567890123456789012');
const SEED_SHA512 = Buffer.from('1234567890123456789012345678901234567890123456789012345678901234');

// RFC 6238 appendix B: time, then the 8-digit codes for SHA-1, SHA-256, SHA-512.
const RFC6238 = [
  [59, '94287082', '46119246', '90693936'],
  [1111111109, '07081804', '68084774', '25091201'],
  [1111111111, '14050471', '67062674', '99943326'],
  [1234567890, '89005924', '91819424', '93441116'],
  [2000000000, '69279037', '90698825', '38618901'],
  [20000000000, '65353130', '77737706', '47863826'],
] as const;

test('RFC 6238 appendix B vectors (SHA-1, and SHA-256/512)', () => {
  for (const [t, sha1, sha256, sha512] of RFC6238) {
    assert.equal(totp({ key: SEED_SHA1, digits: 8 }, t), sha1, `SHA-1 T=${t}`);
    assert.equal(totp({ key: SEED_SHA256, digits: 8, hash: 'sha256' }, t), sha256, `SHA-256 T=${t}`);
    assert.equal(totp({ key: SEED_SHA512, digits: 8, hash: 'sha512' }, t), sha512, `SHA-512 T=${t}`);
  }
});

test('RFC 4226 appendix D HOTP values', () => {
  const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];
  expected.forEach((code, i) => assert.equal(hotp(SEED_SHA1, i), code));
});

test('HOTP agrees with a node:crypto reference for random keys and counters', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.integer({ min: 6, max: 8 }), (key, counter, digits) => {
      const msg = Buffer.alloc(8);
      msg.writeBigUInt64BE(counter);
      const mac = crypto.createHmac('sha1', key).update(msg).digest();
      const off = mac[19]! & 15;
      const want = String((mac.readUInt32BE(off) & 0x7fffffff) % 10 ** digits).padStart(digits, '0');
      assert.equal(hotp(key, counter, digits), want);
    }),
    { numRuns: 300 },
  );
});

test('the window accepts now-1, now, now+1 and nothing further', () => {
  const p = { key: SEED_SHA1 };
  const now = 1_700_000_015;
  const step = totpStep(now);
  const cases: Array<[number, boolean]> = [
    [-3, false],
    [-2, false],
    [-1, true],
    [0, true],
    [1, true],
    [2, false],
    [3, false],
  ];
  for (const [delta, ok] of cases) {
    const code = hotp(SEED_SHA1, step + delta);
    const r = verifyTotp(p, code, now, undefined);
    // A code of a far step may collide with a near one by chance; these steps do not.
    assert.equal(r.ok, ok, `step ${delta}`);
    if (r.ok) assert.equal(r.step, step + delta);
  }
});

test('replay: the same code, or an older step, is refused after use', () => {
  const p = { key: SEED_SHA1 };
  const now = 1_700_000_015;
  const step = totpStep(now);
  const current = hotp(SEED_SHA1, step);
  const first = verifyTotp(p, current, now, undefined);
  assert.deepEqual(first, { ok: true, step });
  assert.deepEqual(verifyTotp(p, current, now, step), { ok: false, reason: 'replayed' });
  assert.deepEqual(verifyTotp(p, hotp(SEED_SHA1, step - 1), now, step), { ok: false, reason: 'replayed' });
  assert.deepEqual(verifyTotp(p, hotp(SEED_SHA1, step + 1), now, step), { ok: true, step: step + 1 });
});

test('malformed and wrong codes', () => {
  const p = { key: SEED_SHA1 };
  const now = 1_700_000_015;
  const good = totp(p, now);
  const table: Array<[string, string]> = [
    ['', 'malformed'],
    ['12345', 'malformed'],
    ['1234567', 'malformed'],
    [' 123456', 'malformed'],
    ['12a456', 'malformed'],
    ['١٢٣٤٥٦', 'malformed'],
    [String((Number(good) + 1) % 1_000_000).padStart(6, '0'), 'wrong'],
  ];
  for (const [code, reason] of table) {
    const r = verifyTotp(p, code, now, undefined);
    assert.equal(r.ok, false, code);
    if (!r.ok && reason === 'malformed') assert.equal(r.reason, reason, code);
  }
  assert.throws(() => hotp(SEED_SHA1, -1), (e) => isWolfguardError(e));
  assert.throws(() => hotp(SEED_SHA1, 0, 9), (e) => isWolfguardError(e));
});

test('OtpChecker: per-user replay state, unknown users, counter-based lines', () => {
  const keyA = crypto.randomBytes(20);
  const keyB = crypto.randomBytes(20);
  const entries = new Map([
    ['alice', { user: 'alice', key: keyA, digits: 6, stepSeconds: 30, type: 'HOTP/T30' }],
    ['bob', { user: 'bob', key: keyB, digits: 6, stepSeconds: 30, type: 'HOTP/T30' }],
    ['carol', { user: 'carol', key: keyB, digits: 6, type: 'HOTP' }],
  ]);
  const c = new OtpChecker({ lookup: (u: string) => entries.get(u) });
  const now = 1_700_000_000_000;
  const a = totp({ key: keyA }, now / 1000);
  const b = totp({ key: keyB }, now / 1000);
  assert.deepEqual(c.check('alice', a, now), { ok: true });
  assert.deepEqual(c.check('alice', a, now + 1000), { ok: false, reason: 'replayed' });
  // Bob's state is his own.
  assert.deepEqual(c.check('bob', b, now), { ok: true });
  assert.deepEqual(c.check('dave', a, now), { ok: false, reason: 'no-secret' });
  assert.deepEqual(c.check('carol', b, now), { ok: false, reason: 'no-secret' });
  // The next step's code works for alice 30 s later.
  assert.deepEqual(c.check('alice', totp({ key: keyA }, now / 1000 + 30), now + 30_000), { ok: true });
});

test('base32 round-trips and decodes what apps show', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
      if (b.length === 0) return;
      assert.deepEqual(base32Decode(base32Encode(b)), Buffer.from(b));
    }),
  );
  // RFC 4648 §10.
  assert.equal(base32Encode(Buffer.from('foobar')), 'MZXW6YTBOI');
  assert.deepEqual(base32Decode('mzxw 6ytb oi======'), Buffer.from('foobar'));
  assert.deepEqual(base32Decode('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'), SEED_SHA1);
  for (const bad of ['', 'MZ1W', 'MZX!']) assert.throws(() => base32Decode(bad), (e) => isWolfguardError(e), bad);
});

test('otpauth URI', () => {
  const u = new URL(otpauthUri({ issuer: 'wolfguard vpn', user: 'alice@corp', key: SEED_SHA1 }));
  assert.equal(u.protocol, 'otpauth:');
  assert.equal(u.host, 'totp');
  assert.equal(decodeURIComponent(u.pathname), '/wolfguard vpn:alice@corp');
  assert.equal(u.searchParams.get('secret'), 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
  assert.equal(u.searchParams.get('issuer'), 'wolfguard vpn');
  assert.equal(u.searchParams.get('digits'), '6');
  assert.equal(u.searchParams.get('period'), '30');
  assert.equal(u.searchParams.get('algorithm'), 'SHA1');
});
