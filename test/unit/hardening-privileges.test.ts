// Privilege drop: resolving run-as-user/run-as-group against passwd/group
// text (pure), and the refusals that protect against a drop that drops nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { resolveIdentity, dropPrivileges, readableBy, capabilitiesFor, CAP_NET_ADMIN, CAP_DAC_READ_SEARCH } from '../../src/main/privileges';
import { ErrorCodes, WolfguardError, isWolfguardError } from '../../src/common/errors';
import { parseConfig } from '../../src/main/config/load';

const PASSWD = 'root:x:0:0:root:/root:/bin/bash\n# comment\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nocserv:x:998:997::/var/lib/ocserv:/bin/false\n\n';
const GROUP = 'root:x:0:\nnogroup:x:65534:\nocserv:x:997:\nvpn:x:1500:ocserv\n';

test('resolveIdentity: names, numbers, primary and explicit groups', () => {
  const cases: Array<[string, string | undefined, { uid: number; gid: number; user: string; group: string }]> = [
    ['nobody', undefined, { uid: 65534, gid: 65534, user: 'nobody', group: 'nogroup' }],
    ['ocserv', undefined, { uid: 998, gid: 997, user: 'ocserv', group: 'ocserv' }],
    ['ocserv', 'vpn', { uid: 998, gid: 1500, user: 'ocserv', group: 'vpn' }],
    ['ocserv', '4242', { uid: 998, gid: 4242, user: 'ocserv', group: '4242' }],
    ['65534', undefined, { uid: 65534, gid: 65534, user: 'nobody', group: 'nogroup' }],
    ['12345', undefined, { uid: 12345, gid: 12345, user: '12345', group: '12345' }],
  ];
  for (const [user, group, want] of cases) assert.deepEqual(resolveIdentity(user, group, PASSWD, GROUP), want, `${user}/${group}`);
});

test('resolveIdentity: unknown or malformed names are CONFIG_INVALID naming the key', () => {
  const cases: Array<[string, string | undefined, RegExp]> = [
    ['nosuch', undefined, /run-as-user: no user "nosuch"/],
    ['ocserv', 'nosuch', /run-as-group: no group "nosuch"/],
    ['', undefined, /run-as-user "" is not/],
    ['a:b', undefined, /run-as-user "a:b" is not/],
    ['ocserv', 'a b', /run-as-group "a b" is not/],
    ['4294967295', undefined, /no user/],
  ];
  for (const [user, group, re] of cases) {
    assert.throws(() => resolveIdentity(user, group, PASSWD, GROUP), (e: unknown) => isWolfguardError(e, ErrorCodes.CONFIG_INVALID) && re.test(e.message), `${user}/${group}`);
  }
});

test('resolveIdentity: hostile passwd/group text only ever gives a WolfguardError', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 16 }), fc.option(fc.string({ maxLength: 16 }), { nil: undefined }), fc.string({ maxLength: 400 }), fc.string({ maxLength: 400 }), (u, g, p, gr) => {
      try {
        const id = resolveIdentity(u, g, p, gr);
        assert.ok(Number.isInteger(id.uid) && id.uid >= 0 && Number.isInteger(id.gid) && id.gid >= 0);
      } catch (e) {
        if (!(e instanceof WolfguardError)) throw e;
      }
    }),
    { numRuns: 500 },
  );
});

test('dropPrivileges refuses a drop that drops nothing (target root) or cannot happen (not root)', () => {
  const root = process.getuid?.() === 0;
  assert.throws(() => dropPrivileges({ uid: 0, gid: 0, user: 'root', group: 'root' }), root ? /names root/ : /not running as root/);
});

test('run-as-user / run-as-group are read from the configuration file', () => {
  const cfg = parseConfig('auth = "plain[passwd=/x]"\nserver-cert = /c\nserver-key = /k\nipv4-network = 192.168.90.0/24\nrun-as-user = ocserv\nrun-as-group = vpn\n', { source: '<t>', baseDir: '/' }).config;
  assert.equal(cfg.runAsUser, 'ocserv');
  assert.equal(cfg.runAsGroup, 'vpn');
  assert.deepEqual(cfg.ignoredKeys.filter((k) => k.startsWith('run-as')), []);
});

test('readableBy follows owner/group/other bits along the whole path', () => {
  const who = { uid: 998, gid: 997, user: 'ocserv', group: 'ocserv' };
  const tree: Record<string, { uid: number; gid: number; mode: number }> = {
    '/': { uid: 0, gid: 0, mode: 0o755 },
    '/etc': { uid: 0, gid: 0, mode: 0o755 },
    '/etc/ocserv': { uid: 0, gid: 0, mode: 0o755 },
    '/etc/ocserv/ocpasswd': { uid: 0, gid: 0, mode: 0o600 },
    '/etc/ocserv/group-readable': { uid: 0, gid: 997, mode: 0o640 },
    '/etc/ocserv/owned': { uid: 998, gid: 0, mode: 0o400 },
    '/etc/ocserv/world': { uid: 0, gid: 0, mode: 0o644 },
    '/etc/ocserv/owner-denied': { uid: 998, gid: 997, mode: 0o044 },
    '/root': { uid: 0, gid: 0, mode: 0o700 },
    '/root/key.pem': { uid: 0, gid: 0, mode: 0o644 },
  };
  const stat = (p: string) => {
    const st = tree[p];
    if (!st) throw Object.assign(new Error(`ENOENT ${p}`), { code: 'ENOENT' });
    return st;
  };
  const cases: Array<[string, boolean]> = [
    ['/etc/ocserv/ocpasswd', false],
    ['/etc/ocserv/group-readable', true],
    ['/etc/ocserv/owned', true],
    ['/etc/ocserv/world', true],
    // The owner's bits decide for the owner, even when group and other may read.
    ['/etc/ocserv/owner-denied', false],
    // A readable file in an unsearchable directory.
    ['/root/key.pem', false],
    ['/etc/ocserv/missing', false],
  ];
  for (const [file, want] of cases) assert.equal(readableBy(file, who, stat), want, file);
  assert.deepEqual(capabilitiesFor([]), [CAP_NET_ADMIN]);
  assert.deepEqual(capabilitiesFor(['/etc/ocserv/ocpasswd']), [CAP_NET_ADMIN, CAP_DAC_READ_SEARCH]);
});
