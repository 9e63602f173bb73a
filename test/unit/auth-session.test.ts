// The session service's login rounds as a shard sees them (messages in,
// replies out), ban scoring of each failed round, per-group routes in the
// CONNECT view; and the cookies: wolfCrypt randomness, exact match only,
// cookie-timeout after a drop, session-timeout across reconnects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SessionRegistry } from '../../src/main/sessions/registry';
import { IpPool } from '../../src/main/sessions/ip-pool';
import { SessionLimits } from '../../src/main/admission/session-limits';
import { SessionService, type Authenticator } from '../../src/main/session-service';
import { PlainBackend } from '../../src/main/auth/plain-backend';
import { OtpChecker } from '../../src/main/auth/otp-checker';
import { totp } from '../../src/main/auth/totp';
import { OathFile, oathLine } from '../../src/main/users/oath-file';
import { PasswordFile } from '../../src/main/users/password-file';
import { hashPassword, randomBytes } from '../../native/lib/wolfcrypt';
import type { LoginReply, ConnectReply, ToShard } from '../../src/workers/messages';

function registry(cookieMs = 300_000, sessionMs: number | null = null) {
  const pool = new IpPool({ v4: { network: '10.9.0.0', prefix: 24 } });
  const limits = new SessionLimits({ maxClients: 0, maxSameClients: 0, pendingTtlMs: 60_000 });
  return new SessionRegistry({ pool, limits, cookieTimeoutMs: cookieMs, sessionTimeoutMs: sessionMs, random: randomBytes });
}

test('cookies: 256 bits from wolfCrypt, all distinct, only the exact cookie opens the session', () => {
  const reg = registry();
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const l = reg.login(`u${i}`, [], 'x', 0);
    assert.ok(l.ok);
    assert.match(l.session.cookie, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(l.session.cookie, 'base64url').length, 32);
    assert.ok(!seen.has(l.session.cookie));
    seen.add(l.session.cookie);
    // One character off, a prefix, or the cookie with padding: none is the cookie.
    const c = l.session.cookie;
    const flipped = c.slice(0, -1) + (c.endsWith('A') ? 'B' : 'A');
    for (const wrong of [flipped, c.slice(0, 42), `${c}=`, c.toUpperCase() === c ? c.toLowerCase() : c.toUpperCase()]) {
      assert.equal(reg.connect(wrong, { shard: 0, conn: i }, 1).ok, false);
    }
  }
});

test('cookie-timeout counts from the drop; session-timeout from the login, whatever the reconnects', () => {
  const reg = registry(1000, 10_000);
  const l = reg.login('alice', [], 'x', 0);
  assert.ok(l.ok);
  const { cookie, id } = l.session;
  assert.ok(reg.connect(cookie, { shard: 0, conn: 1 }, 0).ok);
  reg.closed(id, { shard: 0, conn: 1 }, false, 5000);
  assert.deepEqual(reg.expire(5999), []);
  assert.ok(reg.connect(cookie, { shard: 0, conn: 2 }, 5999).ok, 'reconnect within cookie-timeout');
  // Reconnecting again and again does not extend the session past 10 s.
  for (let t = 6000; t < 10_000; t += 1000) {
    reg.closed(id, { shard: 0, conn: t }, false, t);
    assert.ok(reg.connect(cookie, { shard: 0, conn: t + 1 }, t + 1).ok);
    assert.deepEqual(reg.expire(t + 2), []);
  }
  const ended = reg.expire(10_000);
  assert.equal(ended.length, 1);
  assert.equal(ended[0]!.reason, 'session-timeout');
  assert.equal(reg.connect(cookie, { shard: 0, conn: 99 }, 10_001).ok, false);
  // And one left alone after a drop goes at cookie-timeout.
  const m = reg.login('bob', [], 'x', 20_000);
  assert.ok(m.ok);
  assert.ok(reg.connect(m.session.cookie, { shard: 0, conn: 5 }, 20_000).ok);
  reg.closed(m.session.id, { shard: 0, conn: 5 }, false, 20_100);
  assert.equal(reg.expire(21_100)[0]?.reason, 'cookie-expired');
  assert.equal(reg.connect(m.session.cookie, { shard: 0, conn: 6 }, 21_101).ok, false);
});

test('session service: password round, OTP round, failures scored, per-group routes in the CONNECT view', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-auth-svc-'));
  const posted: ToShard[] = [];
  const failures: string[] = [];
  fs.writeFileSync(path.join(dir, 'eng'), 'route = 10.50.0.0/16\n');
  const key = crypto.randomBytes(20);
  fs.writeFileSync(path.join(dir, 'otp'), `${oathLine('alice', key)}\n`);
  fs.writeFileSync(path.join(dir, 'passwd'), `alice:eng:${await hashPassword('pw', 'sha512')}\n`);
  const backend = new PlainBackend(new PasswordFile(path.join(dir, 'passwd')), new OtpChecker(new OathFile(path.join(dir, 'otp'))));
  const auth: Authenticator = {
    verify: () => Promise.resolve({ ok: false }),
    setup: { backend, ttlMs: 60_000, supDirs: { perGroup: dir }, appendRoutes: false, network: { routes: ['10.0.0.0/8'], noRoutes: [], dns: [] } },
  };
  const service = new SessionService(registry(), auth, (_shard, m) => posted.push(m), {}, {
    before: () => undefined,
    failed: (user) => void failures.push(user),
    succeeded: () => undefined,
  });
  const reply = async (): Promise<LoginReply | ConnectReply> => {
    for (let i = 0; i < 200 && posted.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    const m = posted.shift();
    assert.ok(m && m.type === 'reply');
    return m.result;
  };
  try {
    service.handle({ type: 'login', id: 1, shard: 0, username: 'alice', password: 'wrong', peer: 'p' });
    assert.deepEqual(await reply(), { ok: false, reason: 'wrong user name or password' });
    assert.deepEqual(failures, ['alice']);
    service.handle({ type: 'login', id: 2, shard: 0, username: 'alice', password: 'pw', peer: 'p' });
    const r1 = (await reply()) as LoginReply;
    assert.ok(!r1.ok && r1.next);
    assert.equal(r1.next.fields[0]!.name, 'secondary_password');
    assert.deepEqual(failures, ['alice'], 'a further round is not a failure');
    service.handle({ type: 'login', id: 3, shard: 0, username: '', password: '', context: r1.next.context, secondaryPassword: '000000', peer: 'p' });
    const bad = (await reply()) as LoginReply;
    // (A random 6-digit guess matches the real code one time in a million.)
    assert.ok(!bad.ok && bad.next === undefined);
    assert.deepEqual(failures, ['alice', 'alice'], 'a wrong code scores like a wrong password');
    service.handle({ type: 'login', id: 4, shard: 0, username: 'alice', password: 'pw', peer: 'p' });
    const r2 = (await reply()) as LoginReply;
    assert.ok(!r2.ok && r2.next);
    service.handle({ type: 'login', id: 5, shard: 0, username: '', password: '', context: r2.next.context, secondaryPassword: totp({ key }, Date.now() / 1000), peer: 'p' });
    const ok = (await reply()) as LoginReply;
    assert.ok(ok.ok);
    service.handle({ type: 'connect', id: 6, shard: 0, conn: 1, cookie: ok.cookie, peer: 'p' });
    const c = (await reply()) as ConnectReply;
    assert.ok(c.ok);
    assert.deepEqual(c.session.routes, ['10.50.0.0/16']);
    assert.equal(c.session.group, 'eng');
    assert.equal(c.session.dns, undefined, 'the gateway DNS stays');
  } finally {
    service.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
