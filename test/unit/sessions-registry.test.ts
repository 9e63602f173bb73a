// The life of a session with no sockets: login, connect, reconnect elsewhere,
// drop, cookie expiry, logout, session timeout, limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SessionRegistry } from '../../src/main/sessions/registry';
import { IpPool } from '../../src/main/sessions/ip-pool';
import { SessionLimits } from '../../src/main/admission/session-limits';

function registry(o: { maxSame?: number; cookieMs?: number; sessionMs?: number | null; prefix?: number } = {}) {
  const pool = new IpPool({ v4: { network: '10.9.0.0', prefix: o.prefix ?? 24 } });
  const limits = new SessionLimits({ maxClients: 0, maxSameClients: o.maxSame ?? 0, pendingTtlMs: 60_000 });
  return { pool, reg: new SessionRegistry({ pool, limits, cookieTimeoutMs: o.cookieMs ?? 300_000, sessionTimeoutMs: o.sessionMs ?? null, random: randomBytes }) };
}

test('login → connect → drop → reconnect with the cookie keeps the addresses; logout ends it', () => {
  const { reg, pool } = registry();
  const l = reg.login('alice', ['staff'], '192.0.2.7', 0);
  assert.ok(l.ok);
  const cookie = l.session.cookie;
  assert.ok(cookie.length >= 43, 'a 256-bit cookie');
  const c1 = reg.connect(cookie, { shard: 0, conn: 1 }, 10);
  assert.ok(c1.ok && !c1.displaced);
  assert.equal(c1.session.addresses.ipv4, '10.9.0.2');
  assert.equal(reg.closed(l.session.id, { shard: 0, conn: 1 }, false, 20), undefined);
  assert.equal(reg.byCookie(cookie)!.state, 'dropped');
  const c2 = reg.connect(cookie, { shard: 1, conn: 7 }, 30);
  assert.ok(c2.ok);
  assert.equal(c2.session.addresses.ipv4, '10.9.0.2', 'same address after reconnect');
  const e = reg.closed(l.session.id, { shard: 1, conn: 7 }, true, 40);
  assert.equal(e?.reason, 'logout');
  assert.equal(reg.byCookie(cookie), undefined, 'cookie rejected after logout');
  assert.equal(pool.used, 0, 'lease returned');
  assert.equal(reg.connect(cookie, { shard: 0, conn: 9 }, 50).ok, false);
});

test('a reconnect while the old connection still looks alive displaces it; its late close report is ignored', () => {
  const { reg } = registry();
  const l = reg.login('bob', [], 'x', 0);
  assert.ok(l.ok);
  reg.connect(l.session.cookie, { shard: 0, conn: 1 }, 1);
  const c = reg.connect(l.session.cookie, { shard: 1, conn: 2 }, 2);
  assert.ok(c.ok);
  assert.deepEqual(c.displaced, { shard: 0, conn: 1 });
  assert.equal(reg.closed(l.session.id, { shard: 0, conn: 1 }, true, 3), undefined, 'the old connection cannot log the session out');
  assert.equal(reg.byCookie(l.session.cookie)!.state, 'connected');
});

test('cookies of dropped sessions expire after the cookie timeout; connected sessions do not', () => {
  const { reg } = registry({ cookieMs: 1000 });
  const a = reg.login('a', [], 'x', 0);
  const b = reg.login('b', [], 'x', 0);
  assert.ok(a.ok && b.ok);
  reg.connect(b.session.cookie, { shard: 0, conn: 1 }, 0);
  assert.deepEqual(reg.expire(999), []);
  const gone = reg.expire(1000);
  assert.deepEqual(gone.map((e) => [e.session.user, e.reason, e.kick]), [['a', 'cookie-expired', undefined]]);
  assert.equal(reg.size, 1);
});

test('the session timeout counts from the login: reconnecting does not reset it, and the live tunnel is kicked', () => {
  const { reg } = registry({ sessionMs: 5000 });
  const l = reg.login('c', [], 'x', 0);
  assert.ok(l.ok);
  reg.connect(l.session.cookie, { shard: 2, conn: 4 }, 4000);
  reg.closed(l.session.id, { shard: 2, conn: 4 }, false, 4500);
  assert.ok(reg.connect(l.session.cookie, { shard: 2, conn: 5 }, 4900).ok);
  const e = reg.expire(5000);
  assert.deepEqual(e.map((x) => [x.reason, x.kick]), [['session-timeout', { shard: 2, conn: 5 }]]);
  assert.equal(reg.connect(l.session.cookie, { shard: 2, conn: 6 }, 5001).ok, false);
});

test('max-same-clients refuses a second login of the user, never the session\'s own reconnect; pool exhaustion is refused', () => {
  const { reg } = registry({ maxSame: 1, prefix: 30 });
  const l = reg.login('d', [], 'x', 0);
  assert.ok(l.ok);
  assert.deepEqual(reg.login('d', [], 'x', 1), { ok: false, reason: 'too many sessions for this user' });
  assert.ok(reg.connect(l.session.cookie, { shard: 0, conn: 1 }, 2).ok);
  reg.closed(l.session.id, { shard: 0, conn: 1 }, false, 3);
  assert.ok(reg.connect(l.session.cookie, { shard: 0, conn: 2 }, 4).ok, 'own reconnect is fine');
  // A /30 has one client lease (.2): the next user finds no address.
  assert.deepEqual(reg.login('e', [], 'x', 5), { ok: false, reason: 'no free tunnel address' });
});
