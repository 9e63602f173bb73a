// The `state` config value (src/main/state/state-url.ts): table-driven, plus
// a property test that any text gives a spec or a WolfguardError, never
// another exception, and that credentials never reach describeState().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describeState, parseStateUrl, type StateSpec } from '../../src/main/state/state-url';
import { ErrorCodes, isWolfguardError } from '../../src/common/errors';
import { parseConfig } from '../../src/main/config/load';

test('accepted forms', () => {
  const cases: Array<[string, StateSpec]> = [
    ['local', { kind: 'local' }],
    ['', { kind: 'local' }],
    ['redis://127.0.0.1:6380/2', { kind: 'redis', url: 'redis://127.0.0.1:6380/2', tls: false, host: '127.0.0.1', port: 6380, db: 2 }],
    ['redis://redis.example', { kind: 'redis', url: 'redis://redis.example', tls: false, host: 'redis.example', port: 6379, db: 0 }],
    ['rediss://u:p%40ss@[::1]:7000/', { kind: 'redis', url: 'rediss://u:p%40ss@[::1]:7000/', tls: true, host: '::1', port: 7000, db: 0, username: 'u', password: 'p@ss' }],
    ['redis://:secret@h:1/0', { kind: 'redis', url: 'redis://:secret@h:1/0', tls: false, host: 'h', port: 1, db: 0, password: 'secret' }],
    ['redis+unix:///run/redis/redis.sock', { kind: 'redis-unix', path: '/run/redis/redis.sock', db: 0 }],
    ['redis+unix:///tmp/r.sock?db=3', { kind: 'redis-unix', path: '/tmp/r.sock', db: 3 }],
    ['redis-sentinel://s1:26379,s2,[fd00::5]:26380/mymaster/1', { kind: 'redis-sentinel', sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }, { host: 'fd00::5', port: 26380 }], name: 'mymaster', db: 1 }],
    ['redis-sentinel://:pw@s1/m', { kind: 'redis-sentinel', sentinels: [{ host: 's1', port: 26379 }], name: 'm', db: 0, password: 'pw' }],
    ['redis-cluster://n1:7000,n2:7001', { kind: 'redis-cluster', nodes: [{ host: 'n1', port: 7000 }, { host: 'n2', port: 7001 }] }],
    ['  redis-cluster://n1/ ', { kind: 'redis-cluster', nodes: [{ host: 'n1', port: 6379 }] }],
  ];
  for (const [text, want] of cases) assert.deepEqual(parseStateUrl(text), want, text);
});

test('refused forms name the problem', () => {
  const cases: Array<[string, RegExp]> = [
    ['redis', /expected "local"/],
    ['memcached://h', /unknown scheme/],
    ['redis://h:0', /bad port/],
    ['redis://h:70000', /bad port/],
    ['redis://h:1/x', /database must be a number/],
    ['redis://h1,h2', /one host only/],
    ['redis://h a', /white space/],
    ['redis://u:%zz@h', /percent-encoding/],
    ['redis+unix://relative.sock', /absolute/],
    ['redis+unix:///s?x=1', /db=N/],
    ['redis-sentinel://s1', /master-name/],
    ['redis-sentinel://s1/bad name', /white space|master name/],
    ['redis-cluster://n1/3', /no databases/],
    ['redis-cluster://n1,,n2', /empty host/],
    ['redis://bad_host!', /bad host/],
  ];
  for (const [text, re] of cases) {
    assert.throws(
      () => parseStateUrl(text),
      (e: unknown) => isWolfguardError(e) && e.code === ErrorCodes.CONFIG_INVALID && re.test(e.message),
      text,
    );
  }
});

test('describeState shows where, never the password', () => {
  assert.equal(describeState(parseStateUrl('redis://u:hunter2@h:1/4')), 'redis://h:1/4');
  assert.equal(describeState(parseStateUrl('redis-sentinel://:hunter2@a,b:2/m')), 'redis-sentinel://a:26379,b:2/m/0');
  assert.equal(describeState(parseStateUrl('redis-cluster://:hunter2@a')), 'redis-cluster://a:6379');
  assert.equal(describeState(parseStateUrl('redis+unix:///x.sock')), 'redis+unix:///x.sock?db=0');
  assert.equal(describeState(parseStateUrl('rediss://[::1]')), 'rediss://[::1]:6379/0');
  assert.equal(describeState(parseStateUrl('local')), 'local');
});

test('property: any text parses or fails with CONFIG_INVALID; passwords stay out of descriptions', () => {
  const scheme = fc.constantFrom('redis://', 'rediss://', 'redis+unix://', 'redis-sentinel://', 'redis-cluster://', '', 'x://');
  fc.assert(
    fc.property(scheme, fc.string({ maxLength: 60 }), (s, rest) => {
      const text = s + rest;
      try {
        const spec = parseStateUrl(text);
        const d = describeState(spec);
        if ('password' in spec && spec.password !== undefined && spec.password.length > 3) assert.ok(!d.includes(`:${spec.password}@`));
      } catch (e) {
        assert.ok(isWolfguardError(e) && e.code === ErrorCodes.CONFIG_INVALID, `${JSON.stringify(text)}: ${String(e)}`);
      }
    }),
    { numRuns: 3000 },
  );
});

test('config keys: state and node-id are read and checked; "local" means no shared state', () => {
  const base = 'auth = "plain[passwd=/etc/ocserv/passwd]"\nserver-cert = /c.pem\nserver-key = /k.pem\nipv4-network = 10.1.0.0/24\n';
  const opts = { source: '/etc/ocserv/ocserv.conf', baseDir: '/etc/ocserv' };
  const plain = parseConfig(base, opts).config;
  assert.equal(plain.state, undefined);
  assert.equal(plain.nodeId, undefined);
  assert.equal(parseConfig(`${base}state = local\n`, opts).config.state, undefined);
  const c = parseConfig(`${base}state = redis://10.0.0.5:6379/1\nnode-id = gw-1.dc2\n`, opts).config;
  assert.equal(c.state, 'redis://10.0.0.5:6379/1');
  assert.equal(c.nodeId, 'gw-1.dc2');
  const bad: Array<[string, RegExp]> = [
    ['state = redis://h:99999', /line 5: state: .*bad port/],
    ['state = mysql://h', /line 5: state: .*unknown scheme/],
    ['node-id = a b', /line 5: node-id: expected 1 to 64/],
    [`node-id = ${'x'.repeat(65)}`, /node-id: expected/],
  ];
  for (const [line, re] of bad) {
    assert.throws(
      () => parseConfig(`${base}${line}\n`, opts),
      (e: unknown) => isWolfguardError(e) && e.code === ErrorCodes.CONFIG_INVALID && re.test(e.message),
      line,
    );
  }
});
