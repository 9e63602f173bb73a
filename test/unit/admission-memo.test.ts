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
