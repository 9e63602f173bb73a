// wolfCrypt helpers against published vectors and Node's own crypto, and
// crypt(3) password hashes as ocpasswd files hold them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { hmac, sha256, randomBytes, drbgHash, cryptHash, verifyPassword, hashPassword, allocatorStats, TlsContext } from '../../native/lib';

test('HMAC-SHA1 and HMAC-SHA256: RFC 2202 / RFC 4231 test case 2, and agreement with node:crypto', () => {
  const key = Buffer.from('Jefe');
  const data = Buffer.from('what do ya want for nothing?');
  assert.equal(hmac('sha1', key, data).toString('hex'), 'effcdf6ae5eb2fa2d27416d5f184df9c259a7c79');
  assert.equal(hmac('sha256', key, data).toString('hex'), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  for (const alg of ['sha1', 'sha256', 'sha384', 'sha512'] as const) {
    for (const klen of [0, 10, 20, 64, 200]) {
      const k = crypto.randomBytes(klen);
      const d = crypto.randomBytes(77);
      assert.ok(hmac(alg, k, d).equals(crypto.createHmac(alg, k).update(d).digest()), `${alg} key ${klen}`);
    }
  }
});

test('SHA-256 matches node:crypto; random bytes differ and have the asked length', () => {
  for (const n of [0, 1, 55, 56, 64, 1000]) {
    const d = crypto.randomBytes(n);
    assert.ok(sha256(d).equals(crypto.createHash('sha256').update(d).digest()));
  }
  const a = randomBytes(32);
  const b = randomBytes(32);
  assert.equal(a.length, 32);
  assert.ok(!a.equals(b));
  assert.throws(() => randomBytes(-1), { code: 'WG_INVALID_ARGUMENT' });
});

test("wolfSSL's random generator is the SHA-256 Hash_DRBG (its per-record draws for TLS 1.2 / DTLS 1.2 explicit IVs cost less than SHA-512's)", () => {
  assert.equal(drbgHash(), 'SHA-256');
});

test('crypt(3): $5$ and $6$ hashes equal what OpenSSL computes (openssl passwd -5/-6 -salt saltstring)', async () => {
  // Cross-checked with an independent implementation: `openssl passwd -5 -salt saltstring 'Hello world!'`.
  assert.equal(
    await cryptHash('Hello world!', '$5$saltstring'),
    '$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5',
  );
  assert.equal(
    await cryptHash('Hello world!', '$6$saltstring'),
    '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1',
  );
  assert.equal(await verifyPassword('Hello world!', '$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5'), true);
  assert.equal(await verifyPassword('hello world!', '$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5'), false);
  assert.equal(await verifyPassword('x', 'not-a-hash'), false);
});

test('new hashes for every method the system supports round-trip', async () => {
  for (const method of ['sha256', 'sha512', 'yescrypt', 'bcrypt'] as const) {
    const h = await hashPassword('s3cret pass', method);
    assert.ok(h.startsWith({ sha256: '$5$', sha512: '$6$', yescrypt: '$y$', bcrypt: '$2b$' }[method]), h);
    assert.equal(await verifyPassword('s3cret pass', h), true, method);
    assert.equal(await verifyPassword('s3cret pasS', h), false, method);
  }
});

test("wolfSSL's allocations go through the mimalloc hooks", () => {
  const before = allocatorStats();
  const ctx = new TlsContext({ role: 'server' });
  const after = allocatorStats();
  ctx.close();
  assert.equal(after.allocator, 'mimalloc');
  assert.ok(after.allocs > before.allocs, 'creating a context allocated through the hooks');
  assert.ok(allocatorStats().frees > before.frees, 'freeing it freed through the hooks');
});
