// The configuration keys of the authentication suite, as ocserv spells them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/main/config/load';
import { isWolfguardError } from '../../src/common/errors';

const OPTS = { source: '/etc/ocserv/ocserv.conf', baseDir: '/etc/ocserv' };
const MINIMAL = ['server-cert = /c.pem', 'server-key = /k.pem', 'ipv4-network = 10.1.0.0/16'];

function parse(lines: string[]) {
  return parseConfig([...MINIMAL, ...lines].join('\n') + '\n', OPTS);
}

test('auth plain with otp, groups and per-user/group keys', () => {
  const { config, warnings } = parse([
    'auth = "plain[passwd=ocpasswd,otp=/etc/ocserv/users.oath]"',
    'select-group = eng[Engineering dept]',
    'select-group = ops',
    'select-group = ops',
    'default-select-group = DEFAULT',
    'config-per-user = users/',
    'config-per-group = /etc/ocserv/groups/',
    'default-user-config = defaults/user.conf',
    'default-group-config = /etc/ocserv/defaults/group.conf',
    'append-routes = true',
  ]);
  assert.deepEqual(config.auth, [{ kind: 'plain', passwd: '/etc/ocserv/ocpasswd', otp: '/etc/ocserv/users.oath' }]);
  assert.deepEqual(config.selectGroups, [
    { value: 'eng', label: 'Engineering dept' },
    { value: 'ops', label: 'ops' },
  ]);
  assert.equal(config.defaultSelectGroup, 'DEFAULT');
  assert.equal(config.configPerUser, '/etc/ocserv/users');
  assert.equal(config.configPerGroup, '/etc/ocserv/groups');
  assert.equal(config.defaultUserConfig, '/etc/ocserv/defaults/user.conf');
  assert.equal(config.defaultGroupConfig, '/etc/ocserv/defaults/group.conf');
  assert.equal(config.appendRoutes, true);
  assert.deepEqual(warnings, []);
  assert.ok(!config.ignoredKeys.includes('select-group'));
});

test('bad group keys are errors naming the line', () => {
  const table: Array<[string, RegExp]> = [
    ['select-group = two words', /select-group/],
    ['select-group = a,b', /select-group/],
    ['select-group = [label only]', /select-group/],
    ['append-routes = maybe', /append-routes/],
  ];
  for (const [line, re] of table) {
    assert.throws(
      () => parse(['auth = "plain[passwd=/p]"', line]),
      (e) => isWolfguardError(e) && re.test(e.message) && e.details.line === MINIMAL.length + 2,
      line,
    );
  }
});
