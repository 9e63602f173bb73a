// ocserv-style ban points (thresholds, ban time, reset time), per-user scores,
// and the manual ban list, all on an injected clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAddressInto } from '../../src/common/address';
import { IpBanScores, OCSERV_BAN_DEFAULTS, UserBanScores, type BanScoreConfig } from '../../src/main/admission/ban-score';
import { AdmissionEngine } from '../../src/main/admission/engine';
import { validateAdmissionRules } from '../../src/main/admission/rules-config';
import { ErrorCodes, isWolfguardError } from '../../src/common/errors';

const SEC = 1000;
const cfg: BanScoreConfig = { ...OCSERV_BAN_DEFAULTS, maxUserBanScore: 30 };

function key(ip: string): Uint32Array {
  const k = new Uint32Array(4);
  parseAddressInto(ip, k);
  return k;
}

test('ocserv defaults: 80 points, 10 per wrong password, 1 per connection, 300 s ban, 1200 s reset', () => {
  assert.deepEqual(
    { ...OCSERV_BAN_DEFAULTS },
    { maxBanScore: 80, banResetTimeMs: 1200 * SEC, banTimeMs: 300 * SEC, pointsWrongPassword: 10, pointsConnection: 1, pointsKkdcp: 1, maxUserBanScore: 0 },
  );
});

test('threshold: the eighth wrong password (80 points) bans; the seventh does not', () => {
  const s = new IpBanScores(64, cfg);
  const a = key('192.0.2.1');
  for (let i = 1; i <= 7; i++) assert.equal(s.addPoints(a, i * SEC, 10), false, `failure ${i}`);
  assert.equal(s.isBanned(a, 7 * SEC), false);
  assert.equal(s.addPoints(a, 8 * SEC, 10), true);
  assert.equal(s.isBanned(a, 8 * SEC), true);
  assert.equal(s.banRemaining(a, 8 * SEC), 300 * SEC);
});

test('table: ban time, no extension while banned, score reset time', () => {
  type Step = [atSec: number, points: number, bannedAfter: boolean];
  const cases: { name: string; steps: Step[]; checks: [atSec: number, banned: boolean][] }[] = [
    {
      name: 'ban lasts ban_time from the last point added before the ban',
      steps: [[0, 40, false], [100, 40, true]],
      checks: [[100 + 299, true], [100 + 300, true], [100 + 301, false]],
    },
    {
      name: 'points while banned do not extend the ban (a polling client gets back in)',
      steps: [[0, 80, true], [200, 10, true], [290, 10, true]],
      checks: [[300, true], [301, false]],
    },
    {
      name: 'score older than ban_reset_time restarts from zero',
      steps: [[0, 70, false], [1201, 10, false]],
      checks: [[1201, false]],
    },
    {
      name: 'within the reset time points accumulate',
      steps: [[0, 70, false], [1199, 10, true]],
      checks: [[1199 + 300, true]],
    },
    {
      name: 'a served ban restarts the count (ocserv would leave a gap of free attempts)',
      steps: [[0, 80, true], [301, 10, false], [302, 60, false], [303, 10, true]],
      checks: [[303 + 300, true], [303 + 301, false]],
    },
  ];
  for (const c of cases) {
    const s = new IpBanScores(64, cfg);
    const a = key('198.51.100.1');
    for (const [at, pts, banned] of c.steps) assert.equal(s.addPoints(a, at * SEC, pts), banned, `${c.name}: +${pts} at ${at}s`);
    for (const [at, banned] of c.checks) assert.equal(s.isBanned(a, at * SEC), banned, `${c.name}: at ${at}s`);
  }
});

test('max_ban_score 0 disables scoring entirely', () => {
  const s = new IpBanScores(64, { ...cfg, maxBanScore: 0 });
  const a = key('192.0.2.1');
  assert.equal(s.addPoints(a, 0, 1_000_000), false);
  assert.equal(s.isBanned(a, 0), false);
  assert.equal(s.size, 0);
});

test('sweep forgets entries once ban and reset time are both over; reset() is an unban', () => {
  const s = new IpBanScores(64, cfg);
  const a = key('192.0.2.1');
  const b = key('192.0.2.2');
  s.addPoints(a, 0, 80);
  s.addPoints(b, 0, 10);
  assert.equal(s.sweep(1000 * SEC), 0);
  assert.equal(s.sweep(1201 * SEC), 2);
  s.addPoints(a, 2000 * SEC, 80);
  assert.equal(s.isBanned(a, 2000 * SEC), true);
  assert.equal(s.reset(a), true);
  assert.equal(s.isBanned(a, 2000 * SEC), false);
});

test('per-user scores: threshold, success clears, bounded table keeps banned users', () => {
  const u = new UserBanScores(4, cfg);
  assert.equal(u.addPoints('alice', 0, 10), false);
  assert.equal(u.addPoints('alice', 1, 10), false);
  assert.equal(u.addPoints('alice', 2, 10), true);
  assert.equal(u.isBanned('alice', 3), true);
  assert.equal(u.isBanned('bob', 3), false);
  for (let i = 0; i < 100; i++) u.addPoints(`spray${i}`, 10 + i, 10);
  assert.ok(u.size <= 4);
  assert.equal(u.isBanned('alice', 200), true, 'a flood of names did not push the banned user out');
  assert.equal(u.reset('alice'), true);
  assert.equal(u.isBanned('alice', 200), false);
  assert.equal(new UserBanScores(4, { ...cfg, maxUserBanScore: 0 }).addPoints('x', 0, 1e6), false);
});

function engine(extra: Record<string, unknown> = {}): AdmissionEngine {
  return new AdmissionEngine({
    rules: validateAdmissionRules({
      default_action: 'accept',
      ban_score: { max_ban_score: 80, points_connection: 1, max_user_ban_score: 50 },
      ...extra,
    }),
    sessions: { maxClients: 0, maxSameClients: 0, pendingTtlMs: 60 * SEC },
  });
}

test('engine: wrong passwords ban the address (connections refused with ban_score) and lock the user', () => {
  const e = engine();
  let t = 0;
  // each login attempt = one connection (1 point) + one wrong password (10 points)
  for (let i = 0; i < 7; i++) {
    assert.equal(e.checkConnect('192.0.2.1', t).allow, true, `attempt ${i}`);
    const r = e.recordAuthFailure('192.0.2.1', 'mallory', t);
    assert.equal(r.ipBanned, false);
    t += SEC;
  }
  // 77 points now; the next connection adds 1 (78), the next failure 10 (88)
  assert.equal(e.checkConnect('192.0.2.1', t).allow, true);
  assert.deepEqual(e.recordAuthFailure('192.0.2.1', 'mallory', t), { ipBanned: true, userBanned: true });
  const d = e.checkConnect('192.0.2.1', t + SEC);
  assert.equal(d.allow, false);
  assert.equal(d.reason, 'ban_score');
  assert.equal(d.ruleId, 'ban_score');
  assert.equal(e.checkDtlsHandshake('192.0.2.1', t + SEC).reason, 'ban_score');
  assert.equal(e.checkConnect('192.0.2.2', t + SEC).allow, true, 'other addresses unaffected');
  assert.equal(e.checkUserAuth('mallory', t + SEC).reason, 'user_banned');
  assert.equal(e.checkUserAuth('alice', t + SEC).allow, true);
  assert.equal(e.listBans(t + SEC)[0].reason, 'ban_score');
  assert.equal(e.listBans(t + SEC)[0].prefix, '192.0.2.1/32');
  assert.equal(e.listUserBans(t + SEC)[0].user, 'mallory');
  // the ban ends after ban_time (300 s)
  assert.equal(e.checkConnect('192.0.2.1', t + 301 * SEC).allow, true);
  e.recordAuthSuccess('mallory');
  assert.equal(e.checkUserAuth('mallory', t + 2 * SEC).allow, true);
});

test('engine: manual ban and unban of addresses and prefixes, with expiry', () => {
  const e = engine({ ban_score: { max_ban_score: 0 } });
  assert.equal(e.ban('203.0.113.9', 0).prefix, '203.0.113.9/32');
  e.ban('2001:db8:bad::/48', 0, 100 * SEC);
  const d = e.checkConnect('203.0.113.9', 5);
  assert.deepEqual(d, { allow: false, reason: 'banned', ruleId: 'ban', ip: '203.0.113.9', retryAfterMs: Infinity });
  assert.equal(e.checkConnect('203.0.113.10', 5).allow, true);
  assert.equal(e.checkConnect('2001:db8:bad:1::1', 5).reason, 'banned');
  assert.equal(e.checkDtlsHandshake('2001:db8:bad:1::1', 5).reason, 'banned');
  assert.equal(e.checkConnect('2001:db8:bad:1::1', 100 * SEC).allow, true, 'timed ban expired');
  assert.equal(e.listBans(100 * SEC).length, 1);
  assert.equal(e.unban('203.0.113.9'), true);
  assert.equal(e.unban('203.0.113.9'), false, 'nothing left to lift');
  assert.equal(e.checkConnect('203.0.113.9', 100 * SEC).allow, true);
  // a narrower ban inside a wider one; lifting the narrow one leaves the wide one
  e.ban('10.0.0.0/8', 0);
  e.ban('10.1.0.0/16', 0, 10 * SEC);
  assert.equal(e.checkConnect('10.1.2.3', 20 * SEC).reason, 'banned', 'expired narrow ban falls back to the wider one');
  assert.equal(e.unban('10.0.0.0/8'), true);
  assert.equal(e.checkConnect('10.1.2.3', 20 * SEC).allow, true);
  // errors
  assert.throws(() => e.ban('10.0.0.1/8', 0), (err: unknown) => isWolfguardError(err, ErrorCodes.INVALID_ARGUMENT));
  assert.throws(() => e.ban('10.0.0.1', 0, 0), (err: unknown) => isWolfguardError(err, ErrorCodes.INVALID_ARGUMENT));
});

test('engine: a full ban list refuses manual bans with a coded error and sweep() clears expired ones', () => {
  const e = new AdmissionEngine({
    rules: validateAdmissionRules({ default_action: 'accept' }),
    sessions: { maxClients: 0, maxSameClients: 0, pendingTtlMs: SEC },
    maxBans: 2,
  });
  e.ban('192.0.2.1', 0, 10 * SEC);
  e.ban('192.0.2.2', 0);
  assert.throws(() => e.ban('192.0.2.3', 0), (err: unknown) => isWolfguardError(err, ErrorCodes.ADMISSION_BAN_LIST_FULL));
  assert.equal(e.ban('192.0.2.3', 10 * SEC).prefix, '192.0.2.3/32', 'an expired entry made room');
  assert.equal(e.sweep(20 * SEC).expiredBans, 0);
  assert.equal(e.ban('192.0.2.2', 20 * SEC, SEC).prefix, '192.0.2.2/32', 'replacing an existing ban needs no room');
  assert.equal(e.sweep(21 * SEC).expiredBans, 1);
  assert.equal(e.listBans(21 * SEC).length, 1);
});
