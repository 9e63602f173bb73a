// The engine's memo of address texts (parsed form, rate key, matched rule):
// it must never change a decision, only its cost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdmissionEngine } from '../../src/main/admission/engine';
import { validateAdmissionRules } from '../../src/main/admission/rules-config';

const SESSIONS = { maxClients: 0, maxSameClients: 0, pendingTtlMs: 1 };
/** More distinct addresses than the memo holds (65,536), so it starts over at least once. */
const OVERFLOW = 70_000;

function engine(rules: unknown): AdmissionEngine {
  return new AdmissionEngine({ rules: validateAdmissionRules(rules), sessions: SESSIONS });
}

test('past the memo size, returning addresses keep their rule and their rate state', () => {
  const e = engine({
    default_action: 'accept',
    rules: [{ id: 'net', type: 'prefix', remote_addr: '192.0.2.0/24', action: 'rate_limit', max_connections_per_minute: 2, penalty_duration_sec: 60 }],
    ban_score: { max_ban_score: 0 },
  });
  assert.equal(e.checkConnect('192.0.2.7', 0).reason, 'rate_ok');
  for (let i = 0; i < OVERFLOW; i++) e.checkConnect(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 0);
  assert.equal(e.checkConnect('192.0.2.7', 0).reason, 'rate_ok', 'same rule after the memo started over');
  assert.equal(e.checkConnect('192.0.2.7', 0).reason, 'rate_limited', 'and the same bucket');
  assert.equal(e.checkConnect('10.0.0.1', 0).reason, 'default_accept');
});

test('IPv6 peers of one /64 share a rate key through the memo; text forms of one address agree', () => {
  const e = engine({
    default_action: 'rate_limit',
    default_rate_limit: { max_connections_per_minute: 2, penalty_duration_sec: 60 },
    ban_score: { max_ban_score: 0 },
  });
  assert.equal(e.checkConnect('2001:db8:1:2::1', 0).allow, true);
  assert.equal(e.checkConnect('2001:db8:1:2::ffff', 0).allow, true);
  assert.equal(e.checkConnect('2001:0db8:0001:0002:0000:0000:0000:0009', 0).reason, 'rate_limited', 'third of the /64, another spelling');
  assert.equal(e.checkConnect('2001:db8:1:3::1', 0).allow, true, 'the next /64 has its own bucket');
});

test('garbage is refused every time and never remembered as an address', () => {
  const e = engine({ default_action: 'accept', ban_score: { max_ban_score: 0 } });
  for (let i = 0; i < 3; i++) assert.equal(e.checkConnect('not-an-address', 0).reason, 'bad_address');
  assert.equal(e.checkConnect('192.0.2.1', 0).reason, 'default_accept');
});

test('a rules reload re-matches remembered peers; a ban is seen at once', () => {
  const e = engine({ default_action: 'accept', ban_score: { max_ban_score: 0 } });
  assert.equal(e.checkConnect('198.51.100.9', 0).allow, true);
  e.replaceRules(validateAdmissionRules({ default_action: 'accept', rules: [{ id: 'r', type: 'prefix', remote_addr: '198.51.100.0/24', action: 'reject' }], ban_score: { max_ban_score: 0 } }));
  assert.equal(e.checkConnect('198.51.100.9', 1).reason, 'rule_reject');
  e.replaceRules(validateAdmissionRules({ default_action: 'accept', ban_score: { max_ban_score: 0 } }));
  assert.equal(e.checkConnect('198.51.100.9', 2).allow, true);
  e.ban('198.51.100.9', 2, 1000);
  assert.equal(e.checkConnect('198.51.100.9', 3).reason, 'banned');
  assert.equal(e.unban('198.51.100.9'), true);
  assert.equal(e.checkConnect('198.51.100.9', 4).allow, true);
});

/** Sum of counters() for one rule id and reason. */
function count(e: AdmissionEngine, ruleId: string, reason: string): number {
  return e.counters().find((c) => c.ruleId === ruleId && c.reason === reason)?.count ?? 0;
}

test('decision counters stay exact: counted per memo slot, handed to the rule they were made under', () => {
  const e = engine({
    default_action: 'accept',
    rules: [
      { id: 'deny', type: 'prefix', remote_addr: '203.0.113.0/24', action: 'reject' },
      { id: 'lim', type: 'prefix', remote_addr: '198.51.100.0/24', action: 'rate_limit', max_connections_per_minute: 1000, penalty_duration_sec: 1 },
    ],
    ban_score: { max_ban_score: 0 },
  });
  for (let i = 0; i < 5; i++) e.checkConnect('203.0.113.5', 0);
  for (let i = 0; i < 7; i++) e.checkConnect('198.51.100.5', 0);
  for (let i = 0; i < 3; i++) e.checkConnect('192.0.2.5', 0);
  assert.equal(count(e, 'deny', 'rule_reject'), 5);
  assert.equal(count(e, 'lim', 'rate_ok'), 7);
  assert.equal(count(e, 'default', 'default_accept'), 3);
  // Read twice: flushing must not count anything again.
  assert.equal(count(e, 'deny', 'rule_reject'), 5);
  // A reload moves the address to another rule: earlier decisions stay with 'deny'.
  e.replaceRules(validateAdmissionRules({ default_action: 'accept', ban_score: { max_ban_score: 0 } }));
  for (let i = 0; i < 2; i++) e.checkConnect('203.0.113.5', 1);
  assert.equal(count(e, 'deny', 'rule_reject'), 5);
  assert.equal(count(e, 'default', 'default_accept'), 5);
  // The memo starting over (more distinct addresses than it holds) loses no count.
  for (let i = 0; i < OVERFLOW; i++) e.checkConnect(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 1);
  assert.equal(count(e, 'default', 'default_accept'), 5 + OVERFLOW);
});

test('a remembered rate-limit slot that went to another address is not used for this one', () => {
  // 16 addresses tracked: the 17th takes the slot of the one idle longest.
  const e = new AdmissionEngine({
    rules: validateAdmissionRules({ default_action: 'rate_limit', default_rate_limit: { max_connections_per_minute: 1, penalty_duration_sec: 1 }, ban_score: { max_ban_score: 0 } }),
    sessions: SESSIONS,
    addressCapacity: 16,
  });
  assert.equal(e.checkConnect('192.0.2.1', 0).allow, true, 'uses its one token');
  // 16 others, each later, each with its one token used: 192.0.2.1 (idle longest) is overwritten.
  for (let i = 0; i < 16; i++) assert.equal(e.checkConnect(`198.51.100.${i + 1}`, 1 + i).allow, true);
  // Its remembered slot now holds an address with an empty bucket; a fresh slot has a full one.
  assert.equal(e.checkConnect('192.0.2.1', 20).allow, true, 'a new bucket, not the other address’s');
  assert.equal(e.checkConnect('192.0.2.1', 21).reason, 'rate_limited', 'and that bucket is its own from now on');
});

test('unban clears the rate state a remembered slot pointed to', () => {
  const e = engine({ default_action: 'rate_limit', default_rate_limit: { max_connections_per_minute: 1, penalty_duration_sec: 600 }, ban_score: { max_ban_score: 0 } });
  assert.equal(e.checkConnect('192.0.2.9', 0).allow, true);
  assert.equal(e.checkConnect('192.0.2.9', 1).reason, 'rate_limited');
  assert.equal(e.checkConnect('192.0.2.9', 2).reason, 'penalty_box');
  assert.equal(e.unban('192.0.2.9'), true);
  assert.equal(e.checkConnect('192.0.2.9', 3).allow, true);
});

test('ban points through the memo: connection points add up to a ban, unban lifts it', () => {
  const e = engine({ default_action: 'accept', ban_score: { max_ban_score: 3, points_connection: 1, ban_time_sec: 60, ban_reset_time_sec: 600 } });
  assert.equal(e.checkConnect('192.0.2.44', 0).allow, true);
  assert.equal(e.checkConnect('192.0.2.44', 1).allow, true);
  assert.equal(e.checkConnect('192.0.2.44', 2).reason, 'ban_score');
  assert.equal(e.isBanned('192.0.2.44', 3), true);
  assert.equal(e.unban('192.0.2.44'), true);
  assert.equal(e.checkConnect('192.0.2.44', 4).allow, true);
});
