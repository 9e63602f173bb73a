// The rules file: validation errors name the field by JSON path, the fixture
// loads, junk never throws anything but WolfguardError, and hot reload keeps
// counters and bans.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { parseAdmissionRules, validateAdmissionRules, defaultAdmissionRules } from '../../src/main/admission/rules-config';
import { AdmissionEngine } from '../../src/main/admission/engine';
import { ErrorCodes, isWolfguardError, type WolfguardError } from '../../src/common/errors';

const FIXTURE = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'admission', 'rules.json');

function problemsOf(value: unknown): { path: string; message: string; code: string }[] {
  try {
    validateAdmissionRules(value);
  } catch (e) {
    assert.ok(isWolfguardError(e), String(e));
    return (e as WolfguardError).details.problems as { path: string; message: string; code: string }[];
  }
  assert.fail('expected a validation error');
}

const rule = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: 'r1',
  type: 'prefix',
  remote_addr: '10.0.0.0/8',
  action: 'accept',
  ...over,
});

test('the fixture file loads and compiles', () => {
  const r = parseAdmissionRules(fs.readFileSync(FIXTURE, 'utf8'), FIXTURE);
  assert.equal(r.rules.length, 5);
  assert.equal(r.defaultAction, 'rate_limit');
  assert.equal(r.defaultMaxConnectionsPerMinute, 30);
  assert.equal(r.defaultPenaltyMs, 60_000);
  assert.equal(r.blacklistAfterViolations, 3);
  assert.equal(r.blacklistDurationMs, 3_600_000);
  assert.equal(r.dtlsHandshakesPerSecond, 10);
  assert.equal(r.banScore.maxUserBanScore, 200);
  assert.equal(r.rules[1].remoteAddr, '10.99.0.0/16');
  assert.equal(r.rules[1].maxConnectionsPerMinute, 5);
});

test('validation errors name the field', () => {
  const cases: { name: string; value: unknown; path: string; re: RegExp; code?: string }[] = [
    { name: 'not an object', value: [], path: '', re: /must be an object/ },
    { name: 'missing default', value: {}, path: 'default_action', re: /required/ },
    { name: 'bad default', value: { default_action: 'allow' }, path: 'default_action', re: /accept, reject, rate_limit.*"allow"/ },
    { name: 'unknown top key', value: { default_action: 'accept', rulez: [] }, path: 'rulez', re: /unknown key/, code: ErrorCodes.CONFIG_UNKNOWN_KEY },
    { name: 'rate default needs limits', value: { default_action: 'rate_limit' }, path: 'default_rate_limit', re: /required/ },
    {
      name: 'rate limit on accept default',
      value: { default_action: 'accept', default_rate_limit: { max_connections_per_minute: 1, penalty_duration_sec: 1 } },
      path: 'default_rate_limit',
      re: /only allowed/,
    },
    { name: 'bad prefix', value: { default_action: 'accept', rules: [rule(), rule({ id: 'r2', remote_addr: '10.0.0.0/8' }), rule({ id: 'r3', remote_addr: '300.1.1.1/8' })] }, path: 'rules[1].remote_addr', re: /already used by rules\[0\]/ },
    { name: 'bad address', value: { default_action: 'accept', rules: [rule({ remote_addr: '300.1.1.1/8' })] }, path: 'rules[0].remote_addr', re: /not an IPv4 or IPv6/ },
    { name: 'host bits', value: { default_action: 'accept', rules: [rule({ remote_addr: '10.1.0.0/8' })] }, path: 'rules[0].remote_addr', re: /host bits/ },
    { name: 'dup id', value: { default_action: 'accept', rules: [rule(), rule({ remote_addr: '11.0.0.0/8' })] }, path: 'rules[1].id', re: /duplicate id "r1" \(also rules\[0\]\.id\)/ },
    { name: 'reserved id', value: { default_action: 'accept', rules: [rule({ id: 'default' })] }, path: 'rules[0].id', re: /reserved/ },
    { name: 'bad id chars', value: { default_action: 'accept', rules: [rule({ id: 'has space' })] }, path: 'rules[0].id', re: /1 to 64 characters/ },
    { name: 'bad type', value: { default_action: 'accept', rules: [rule({ type: 'port' })] }, path: 'rules[0].type', re: /"prefix"/ },
    { name: 'bad action', value: { default_action: 'accept', rules: [rule({ action: 'drop' })] }, path: 'rules[0].action', re: /one of/ },
    { name: 'rate fields missing', value: { default_action: 'accept', rules: [rule({ action: 'rate_limit', penalty_duration_sec: 5 })] }, path: 'rules[0].max_connections_per_minute', re: /required/ },
    { name: 'rate fields on accept', value: { default_action: 'accept', rules: [rule({ max_connections_per_minute: 5 })] }, path: 'rules[0].max_connections_per_minute', re: /only allowed with action "rate_limit"/ },
    { name: 'zero rate', value: { default_action: 'accept', rules: [rule({ action: 'rate_limit', max_connections_per_minute: 0, penalty_duration_sec: 5 })] }, path: 'rules[0].max_connections_per_minute', re: /between 1 and/ },
    { name: 'fractional', value: { default_action: 'accept', rules: [rule({ action: 'rate_limit', max_connections_per_minute: 2.5, penalty_duration_sec: 5 })] }, path: 'rules[0].max_connections_per_minute', re: /integer/ },
    { name: 'string number', value: { default_action: 'accept', rules: [rule({ action: 'rate_limit', max_connections_per_minute: '5', penalty_duration_sec: 5 })] }, path: 'rules[0].max_connections_per_minute', re: /integer, got "5"/ },
    { name: 'rule not object', value: { default_action: 'accept', rules: [rule(), 7] }, path: 'rules[1]', re: /must be an object/ },
    { name: 'unknown rule key', value: { default_action: 'accept', rules: [rule({ remote_port: 443 })] }, path: 'rules[0].remote_port', re: /unknown key/ },
    { name: 'rules not array', value: { default_action: 'accept', rules: {} }, path: 'rules', re: /must be an array/ },
    { name: 'unknown event', value: { default_action: 'accept', events: [{ name: 'tls_handshake', max_rate_per_second: 1 }] }, path: 'events[0].name', re: /unknown event/ },
    { name: 'dup event', value: { default_action: 'accept', events: [{ name: 'dtls_handshake', max_rate_per_second: 1 }, { name: 'dtls_handshake', max_rate_per_second: 2 }] }, path: 'events[1].name', re: /duplicate/ },
    { name: 'event rate', value: { default_action: 'accept', events: [{ name: 'dtls_handshake', max_rate_per_second: -1 }] }, path: 'events[0].max_rate_per_second', re: /between/ },
    { name: 'ban key', value: { default_action: 'accept', ban_score: { max_ban_scor: 1 } }, path: 'ban_score.max_ban_scor', re: /unknown key/ },
    { name: 'ban value', value: { default_action: 'accept', ban_score: { ban_time_sec: 1e12 } }, path: 'ban_score.ban_time_sec', re: /between/ },
    { name: 'version', value: { default_action: 'accept', version: 2 }, path: 'version', re: /between 1 and 1/ },
    { name: 'blacklist', value: { default_action: 'accept', blacklist_after_violations: -3 }, path: 'blacklist_after_violations', re: /between/ },
  ];
  for (const c of cases) {
    const problems = problemsOf(c.value);
    const p = problems.find((x) => x.path === c.path);
    assert.ok(p, `${c.name}: no problem at ${c.path}; got ${JSON.stringify(problems)}`);
    assert.match(p.message, c.re, c.name);
    if (c.code !== undefined) assert.equal(p.code, c.code, c.name);
  }
});

test('every problem is reported at once, and the message is readable', () => {
  try {
    parseAdmissionRules(JSON.stringify({ default_action: 'nope', rules: [rule({ remote_addr: 'x' })], extra: 1 }), '/etc/wolfguard/admission.json');
    assert.fail('should throw');
  } catch (e) {
    assert.ok(isWolfguardError(e));
    assert.match(e.message, /^admission rules \/etc\/wolfguard\/admission.json: 3 problems:/);
    assert.match(e.message, /rules\[0\]\.remote_addr: invalid address prefix "x"/);
    assert.match(e.message, /extra: unknown key/);
    assert.equal(e.details.source, '/etc/wolfguard/admission.json');
  }
  assert.throws(() => parseAdmissionRules('{"default_action": '), (e: unknown) => isWolfguardError(e, ErrorCodes.CONFIG_INVALID) && /not valid JSON/.test(e.message));
});

test('fuzz: arbitrary JSON and text never throw anything but WolfguardError', () => {
  const check = (f: () => unknown): void => {
    try {
      f();
    } catch (e) {
      assert.ok(isWolfguardError(e), String(e));
    }
  };
  fc.assert(fc.property(fc.jsonValue(), (v) => check(() => validateAdmissionRules(v))), { numRuns: 2000 });
  fc.assert(fc.property(fc.string(), (s) => check(() => parseAdmissionRules(s))), { numRuns: 2000 });
  // structured junk close to the real shape reaches the deeper checks
  const nearRule = fc.record(
    {
      id: fc.oneof(fc.string(), fc.integer(), fc.constant('r')),
      type: fc.oneof(fc.constant('prefix'), fc.string()),
      remote_addr: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string(), fc.tuple(fc.ipV4(), fc.integer({ min: -1, max: 40 })).map(([a, l]) => `${a}/${l}`)),
      action: fc.constantFrom('accept', 'reject', 'rate_limit', 'x'),
      max_connections_per_minute: fc.oneof(fc.integer(), fc.double(), fc.string()),
      penalty_duration_sec: fc.oneof(fc.integer(), fc.double()),
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(fc.array(nearRule, { maxLength: 8 }), fc.constantFrom('accept', 'reject', 'rate_limit'), (rules, d) =>
      check(() => validateAdmissionRules({ default_action: d, rules })),
    ),
    { numRuns: 2000 },
  );
});

test('allow beats the default; longest prefix decides between rules', () => {
  const e = new AdmissionEngine({
    rules: validateAdmissionRules({
      default_action: 'reject',
      rules: [rule({ id: 'lan', remote_addr: '10.0.0.0/8' }), rule({ id: 'quarantine', remote_addr: '10.66.0.0/16', action: 'reject' })],
      ban_score: { max_ban_score: 0 },
    }),
    sessions: { maxClients: 0, maxSameClients: 0, pendingTtlMs: 1 },
  });
  assert.deepEqual(e.checkConnect('10.1.1.1', 0), { allow: true, reason: 'rule_accept', ruleId: 'lan' });
  assert.deepEqual(e.checkConnect('10.66.1.1', 0), { allow: false, reason: 'rule_reject', ruleId: 'quarantine' });
  assert.deepEqual(e.checkConnect('192.0.2.1', 0), { allow: false, reason: 'default_reject', ruleId: 'default' });
  assert.deepEqual(e.checkConnect('::ffff:10.1.1.1', 0), { allow: true, reason: 'rule_accept', ruleId: 'lan' });
  assert.equal(e.checkConnect('garbage', 0).reason, 'bad_address');
});

test('hot reload swaps rules and keeps counters, bans and rate state', () => {
  const rate = { action: 'rate_limit', max_connections_per_minute: 2, penalty_duration_sec: 60 };
  const e = new AdmissionEngine({
    rules: validateAdmissionRules({ default_action: 'accept', rules: [rule({ id: 'net', remote_addr: '192.0.2.0/24', ...rate })], ban_score: { max_ban_score: 0 } }),
    sessions: { maxClients: 0, maxSameClients: 0, pendingTtlMs: 1 },
  });
  e.ban('198.51.100.1', 0);
  e.checkConnect('192.0.2.1', 0);
  e.checkConnect('192.0.2.1', 0);
  assert.equal(e.checkConnect('192.0.2.1', 0).reason, 'rate_limited');
  e.replaceRules(
    validateAdmissionRules({
      default_action: 'accept',
      rules: [rule({ id: 'net', remote_addr: '192.0.2.0/24', ...rate }), rule({ id: 'new', remote_addr: '203.0.113.0/24', action: 'reject' })],
      ban_score: { max_ban_score: 0 },
    }),
  );
  assert.equal(e.checkConnect('192.0.2.1', 1).reason, 'penalty_box', 'rate state survived the reload');
  assert.equal(e.checkConnect('198.51.100.1', 1).reason, 'banned', 'ban survived the reload');
  assert.equal(e.checkConnect('203.0.113.5', 1).ruleId, 'new');
  const net = new Map(e.counters().filter((c) => c.ruleId === 'net').map((c) => [c.reason, c.count]));
  assert.deepEqual(Object.fromEntries(net), { rate_ok: 2, rate_limited: 1, penalty_box: 1 });
  // removing a rule keeps its counters (metrics counters never go back)
  e.replaceRules(defaultAdmissionRules());
  assert.ok(e.counters().some((c) => c.ruleId === 'new' && c.reason === 'rule_reject' && c.count === 1));
  assert.equal(e.checkConnect('203.0.113.5', 2).allow, true);
});

test('allow decisions are shared objects: the allow path allocates no decision', () => {
  const e = new AdmissionEngine({
    rules: validateAdmissionRules({ default_action: 'accept', ban_score: { max_ban_score: 0 } }),
    sessions: { maxClients: 0, maxSameClients: 0, pendingTtlMs: 1 },
  });
  const a = e.checkConnect('192.0.2.1', 0);
  const b = e.checkConnect('2001:db8::1', 0);
  assert.equal(a, b);
  assert.ok(Object.isFrozen(a));
});
