// Connection rate limits, the penalty box and the blacklist, driven by an
// injected clock: every time below is a number we choose, nothing sleeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAddressInto } from '../../src/common/address';
import {
  ConnectionRateLimiter,
  EventRateLimiter,
  RATE_ALLOW,
  RATE_BLACKLIST,
  RATE_LIMITED,
  RATE_PENALTY,
} from '../../src/main/admission/rate-limit';
import { AdmissionEngine } from '../../src/main/admission/engine';
import { validateAdmissionRules } from '../../src/main/admission/rules-config';

const MIN = 60_000;
const SEC = 1000;

function key(ip: string): Uint32Array {
  const k = new Uint32Array(4);
  assert.notEqual(parseAddressInto(ip, k), 0, ip);
  return k;
}

function limiter(blacklistAfter = 0, capacity = 1024): ConnectionRateLimiter {
  return new ConnectionRateLimiter({ capacity, violationMemoryMs: 60 * MIN, blacklistAfterViolations: blacklistAfter });
}

test('5/min: a burst of 5, the 6th is refused and starts the penalty', () => {
  const l = limiter();
  const a = key('192.0.2.1');
  for (let i = 0; i < 5; i++) assert.equal(l.check(a, 1000 + i, 5, 60 * SEC), RATE_ALLOW, `attempt ${i + 1}`);
  assert.equal(l.check(a, 1005, 5, 60 * SEC), RATE_LIMITED);
  assert.equal(l.penaltyRemaining(a, 1005), 60 * SEC);
  assert.equal(l.violationCount(a, 1005), 1);
});

test('tokens refill at the configured rate: one per 12 s at 5/min', () => {
  const l = limiter();
  const a = key('192.0.2.2');
  for (let i = 0; i < 5; i++) l.check(a, 0, 5, 0);
  // penalty 0: refusals are violations but block nothing afterwards
  assert.equal(l.check(a, 11_999, 5, 0), RATE_LIMITED);
  assert.equal(l.check(a, 12_000, 5, 0), RATE_ALLOW);
  assert.equal(l.check(a, 12_001, 5, 0), RATE_LIMITED);
  assert.equal(l.check(a, 24_000, 5, 0), RATE_ALLOW);
  // a long idle period refills to the burst size, not beyond
  const t = 24_000 + 10 * MIN;
  for (let i = 0; i < 5; i++) assert.equal(l.check(a, t, 5, 0), RATE_ALLOW);
  assert.equal(l.check(a, t, 5, 0), RATE_LIMITED);
});

test('penalty box: refused until it expires, retries neither extend it nor count as violations', () => {
  const l = limiter();
  const a = key('198.51.100.7');
  for (let i = 0; i < 5; i++) l.check(a, 0, 5, 60 * SEC);
  assert.equal(l.check(a, 0, 5, 60 * SEC), RATE_LIMITED);
  for (let t = 1000; t < 60 * SEC; t += 5000) assert.equal(l.check(a, t, 5, 60 * SEC), RATE_PENALTY, `t=${t}`);
  assert.equal(l.violationCount(a, 59_999), 1);
  assert.equal(l.check(a, 59_999, 5, 60 * SEC), RATE_PENALTY);
  assert.equal(l.check(a, 60 * SEC, 5, 60 * SEC), RATE_ALLOW, 'penalty over, bucket refilled during it');
});

test('other addresses are not affected by one address being limited', () => {
  const l = limiter();
  const bad = key('192.0.2.10');
  const good = key('192.0.2.11');
  for (let i = 0; i < 6; i++) l.check(bad, 0, 5, 60 * SEC);
  assert.equal(l.check(bad, 1, 5, 60 * SEC), RATE_PENALTY);
  assert.equal(l.check(good, 1, 5, 60 * SEC), RATE_ALLOW);
});

test('blacklist after N violations; old violations are forgotten', () => {
  const l = new ConnectionRateLimiter({ capacity: 64, violationMemoryMs: 10 * MIN, blacklistAfterViolations: 3 });
  const a = key('203.0.113.5');
  let t = 0;
  const violate = (): number => {
    let r = l.check(a, t, 2, SEC);
    while (r === RATE_ALLOW) r = l.check(a, t, 2, SEC);
    t += MIN; // past the penalty, bucket full again
    return r;
  };
  assert.equal(violate(), RATE_LIMITED);
  assert.equal(violate(), RATE_LIMITED);
  assert.equal(violate(), RATE_BLACKLIST);
  // counting restarts after a blacklisting, and violations older than the memory are dropped
  assert.equal(violate(), RATE_LIMITED);
  t += 11 * MIN;
  assert.equal(violate(), RATE_LIMITED);
  assert.equal(l.violationCount(a, t), 1);
});

test('a clock stepping back never refills or throws', () => {
  const l = limiter();
  const a = key('192.0.2.50');
  for (let i = 0; i < 5; i++) l.check(a, 100_000, 5, 0);
  assert.equal(l.check(a, 50_000, 5, 0), RATE_LIMITED);
  assert.equal(l.check(a, 100_000 + 12_000, 5, 0), RATE_ALLOW);
});

test('memory is bounded: a flood of distinct sources never exceeds the capacity and keeps penalised entries', () => {
  const l = limiter(0, 256);
  const victim = key('192.0.2.99');
  for (let i = 0; i < 6; i++) l.check(victim, 0, 5, 10 * MIN);
  assert.equal(l.check(victim, 0, 5, 10 * MIN), RATE_PENALTY);
  const k = new Uint32Array(4);
  for (let i = 0; i < 50_000; i++) {
    parseAddressInto(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, k);
    assert.equal(l.check(k, 1000 + i, 5, 10 * MIN), RATE_ALLOW);
    assert.ok(l.size <= l.capacity);
  }
  assert.equal(l.capacity, 256);
  assert.ok(l.evictions > 0);
  assert.equal(l.check(victim, 60_000, 5, 10 * MIN), RATE_PENALTY, 'the penalised address was not evicted by the flood');
});

test('sweep drops idle entries only: not penalised, not remembered violators, not recently seen', () => {
  const l = limiter();
  const idle = key('192.0.2.1');
  const punished = key('192.0.2.2');
  l.check(idle, 0, 5, 0);
  for (let i = 0; i < 6; i++) l.check(punished, 0, 5, 5 * MIN);
  assert.equal(l.size, 2);
  assert.equal(l.sweep(30 * SEC), 0, 'nothing idle yet');
  assert.equal(l.sweep(MIN), 1, 'the idle one is full again and goes');
  assert.equal(l.size, 1);
  assert.equal(l.check(punished, MIN, 5, 5 * MIN), RATE_PENALTY);
  assert.equal(l.sweep(61 * MIN + 1), 1, 'penalty over and violation forgotten');
  assert.equal(l.size, 0);
});

test('DTLS handshake rate per address per second', () => {
  const e = new EventRateLimiter(64);
  const a = key('192.0.2.7');
  const b = key('2001:db8::7');
  for (let i = 0; i < 10; i++) assert.equal(e.check(a, 0, 10), true);
  assert.equal(e.check(a, 0, 10), false);
  assert.equal(e.check(b, 0, 10), true);
  assert.equal(e.check(a, 99, 10), false);
  assert.equal(e.check(a, 100, 10), true);
  assert.equal(e.sweep(2000), 2);
  assert.equal(e.size, 0);
});

function engineWith(rules: unknown): AdmissionEngine {
  return new AdmissionEngine({
    rules: validateAdmissionRules(rules),
    sessions: { maxClients: 0, maxSameClients: 0, pendingTtlMs: MIN },
  });
}

test('engine: rate-limited peer is refused (rate_limited, then penalty_box) while another peer is accepted', () => {
  const e = engineWith({
    default_action: 'rate_limit',
    default_rate_limit: { max_connections_per_minute: 5, penalty_duration_sec: 60 },
    ban_score: { max_ban_score: 0 },
  });
  for (let i = 0; i < 5; i++) assert.equal(e.checkConnect('192.0.2.1', 0).allow, true);
  const refused = e.checkConnect('192.0.2.1', 1);
  assert.deepEqual(refused, { allow: false, reason: 'rate_limited', ruleId: 'default', ip: '192.0.2.1', retryAfterMs: 60_000 });
  const boxed = e.checkConnect('192.0.2.1', 30_001);
  assert.equal(boxed.reason, 'penalty_box');
  assert.equal(boxed.retryAfterMs, 30_000);
  assert.equal(e.checkConnect('192.0.2.2', 30_001).allow, true);
  assert.equal(e.checkConnect('192.0.2.1', 60_001).allow, true);
});

test('engine: third violation blacklists the address for blacklist_duration_sec; unban lifts it', () => {
  const e = engineWith({
    default_action: 'rate_limit',
    default_rate_limit: { max_connections_per_minute: 1, penalty_duration_sec: 10 },
    blacklist_after_violations: 3,
    blacklist_duration_sec: 3600,
    ban_score: { max_ban_score: 0 },
  });
  let t = 0;
  const reasons: string[] = [];
  for (let round = 0; round < 3; round++) {
    assert.equal(e.checkConnect('198.51.100.1', t).allow, true);
    reasons.push(e.checkConnect('198.51.100.1', t).reason);
    t += 60_000;
  }
  assert.deepEqual(reasons, ['rate_limited', 'rate_limited', 'blacklisted']);
  const d = e.checkConnect('198.51.100.1', t);
  assert.equal(d.reason, 'blacklisted');
  assert.equal(d.ruleId, 'ban');
  assert.equal(e.listBans(t).length, 1);
  assert.equal(e.listBans(t)[0].prefix, '198.51.100.1/32');
  assert.equal(e.checkConnect('198.51.100.1', 3600_000 + 120_000 + 1).allow, true, 'blacklisting expired');
  // again, then manual unban
  for (let round = 0; round < 3; round++) {
    e.checkConnect('198.51.100.1', t + 4000_000 + round * 60_000);
    e.checkConnect('198.51.100.1', t + 4000_000 + round * 60_000);
  }
  assert.equal(e.isBanned('198.51.100.1', t + 4200_000), true);
  assert.equal(e.unban('198.51.100.1'), true);
  assert.equal(e.checkConnect('198.51.100.1', t + 4200_000).allow, true);
});

test('engine: IPv6 peers are limited per /64 by default', () => {
  const e = engineWith({
    default_action: 'rate_limit',
    default_rate_limit: { max_connections_per_minute: 2, penalty_duration_sec: 60 },
    ban_score: { max_ban_score: 0 },
  });
  assert.equal(e.checkConnect('2001:db8:1:2::1', 0).allow, true);
  assert.equal(e.checkConnect('2001:db8:1:2::2', 0).allow, true);
  assert.equal(e.checkConnect('2001:db8:1:2:ffff::3', 0).reason, 'rate_limited');
  assert.equal(e.checkConnect('2001:db8:1:3::1', 0).allow, true, 'another /64');
});

test('engine: DTLS handshakes over max_rate_per_second get no reply', () => {
  const e = engineWith({ default_action: 'accept', events: [{ name: 'dtls_handshake', max_rate_per_second: 3 }] });
  const got = [0, 0, 0, 0].map(() => e.checkDtlsHandshake('192.0.2.9', 5).allow);
  assert.deepEqual(got, [true, true, true, false]);
  assert.equal(e.checkDtlsHandshake('192.0.2.9', 5).reason, 'dtls_rate_limited');
  assert.equal(e.checkDtlsHandshake('192.0.2.9', 1005).allow, true);
  assert.equal(e.checkDtlsHandshake('not an ip', 1005).reason, 'bad_address');
});
