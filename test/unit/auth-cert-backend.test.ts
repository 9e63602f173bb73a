// Certificate login modes over the login flow: certificate only, certificate
// AND password (neither stands in for the other), certificate OR password
// (enable-auth); the mode the auth lines make; persistent cookies in the
// registry; the configuration keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { LoginFlows, type LoginSubmission } from '../../src/main/auth/login-flow';
import type { AuthBackend, AuthStep } from '../../src/main/auth/backend';
import { CertificateBackend, certMode, certificateBackendFor, type CertMode } from '../../src/main/auth/cert-backend';
import { OID_CN, OID_OU, OID_UID, type CertIdentity } from '../../src/main/auth/cert-fields';
import { SessionRegistry } from '../../src/main/sessions/registry';
import { IpPool } from '../../src/main/sessions/ip-pool';
import { SessionLimits } from '../../src/main/admission/session-limits';
import { parseConfig } from '../../src/main/config/load';
import { isWolfguardError } from '../../src/common/errors';

const PEER = '192.0.2.9';
const NOW = 1_700_000_000_000;

function cert(cn: string, ous: string[] = [], fp = `fp-${cn}`): CertIdentity {
  return { subject: [{ oid: OID_CN, value: cn }, { oid: OID_UID, value: `${cn}.uid` }, ...ous.map((value) => ({ oid: OID_OU, value }))], emails: [`${cn}@example.test`], fingerprint: fp };
}

/** Passwords: alice/pw-a (groups eng, ops), bob/pw-b (no groups), carol/pw-c then OTP "123456". */
const USERS: Record<string, { pw: string; groups: string[]; otp?: string }> = {
  alice: { pw: 'pw-a', groups: ['eng', 'ops'] },
  bob: { pw: 'pw-b', groups: [] },
  carol: { pw: 'pw-c', groups: ['eng'], otp: '123456' },
};

const passwords: AuthBackend = {
  name: 'fake-plain',
  start(user) {
    let round = 0;
    return {
      async answer(a): Promise<AuthStep> {
        const u = USERS[user];
        round++;
        if (round === 1) {
          if (!u || a.password !== u.pw) return { kind: 'fail', reason: 'wrong user name or password' };
          return u.otp ? { kind: 'continue', prompt: { message: 'OTP', fields: [] } } : { kind: 'ok', user, groups: u.groups };
        }
        if (round === 2 && u?.otp !== undefined) return a.secondaryPassword === u.otp ? { kind: 'ok', user, groups: u.groups } : { kind: 'fail', reason: 'wrong OTP code' };
        return { kind: 'fail', reason: 'login already finished' };
      },
    };
  },
};

function flows(mode: CertMode, groupOid?: string, userOid = OID_CN): LoginFlows {
  const backend = certificateBackendFor({ certUserOid: userOid, ...(groupOid ? { certGroupOid: groupOid } : {}) }, mode, mode === 'certificate' ? undefined : passwords);
  let n = 0;
  return new LoginFlows({ backend, ttlMs: 60_000, random: (k) => Buffer.alloc(k, ++n) });
}

function sub(o: Partial<LoginSubmission>): LoginSubmission {
  return { peer: PEER, ...o };
}

test('certificate only: the certificate names the user; none, or a typed name not its own, is refused', async () => {
  const f = flows('certificate');
  assert.deepEqual(await f.submit(sub({ cert: cert('alice') }), NOW), { kind: 'ok', user: 'alice', groups: [] });
  assert.deepEqual(await f.submit(sub({ username: '', password: '', cert: cert('bob') }), NOW), { kind: 'ok', user: 'bob', groups: [] });
  const none = await f.submit(sub({ username: '', password: '' }), NOW);
  assert.equal(none.kind, 'fail');
  assert.match((none as { reason: string }).reason, /no client certificate/);
  const typed = await f.submit(sub({ username: 'bob', password: 'pw-b', cert: cert('alice') }), NOW);
  assert.deepEqual(typed, { kind: 'fail', user: 'bob', reason: 'the certificate is for user "alice"' });
  assert.equal((await f.submit(sub({ username: 'alice', password: 'pw-a' }), NOW)).kind, 'fail', 'a password is no certificate');
});

test('certificate only: user from UID or SAN e-mail, groups from cert-group-oid; a certificate without the OID is refused', async () => {
  assert.deepEqual(await flows('certificate', OID_OU, OID_UID).submit(sub({ cert: cert('dave', ['eng', 'ops']) }), NOW), { kind: 'ok', user: 'dave.uid', groups: ['eng', 'ops'], group: 'eng' });
  assert.deepEqual(await flows('certificate', undefined, 'SAN(rfc822name)').submit(sub({ cert: cert('erin') }), NOW), { kind: 'ok', user: 'erin@example.test', groups: [] });
  assert.deepEqual(await flows('certificate', OID_OU).submit(sub({ cert: cert('dave', ['eng', 'ops']), group: 'ops' }), NOW), { kind: 'ok', user: 'dave', groups: ['ops', 'eng'], group: 'ops' });
  assert.equal((await flows('certificate', OID_OU).submit(sub({ cert: cert('dave', ['eng']), group: 'ops' }), NOW)).kind, 'fail', 'a group the certificate does not name');
  const noUid = { subject: [{ oid: OID_CN, value: 'x' }], emails: [], fingerprint: 'f' };
  assert.equal((await flows('certificate', undefined, OID_UID).submit(sub({ cert: noUid }), NOW)).kind, 'fail');
});

test('certificate AND password: both needed, for the same user', async () => {
  const f = flows('certificate+password');
  const table: Array<[string, Partial<LoginSubmission>, 'ok' | 'fail']> = [
    ['both', { username: 'alice', password: 'pw-a', cert: cert('alice') }, 'ok'],
    ['password without certificate', { username: 'alice', password: 'pw-a' }, 'fail'],
    ['certificate without password', { username: 'alice', password: '', cert: cert('alice') }, 'fail'],
    ['certificate without user name or password', { username: '', password: '', cert: cert('alice') }, 'fail'],
    ['certificate of another user', { username: 'alice', password: 'pw-a', cert: cert('bob') }, 'fail'],
    ['another user\'s password with his own certificate', { username: 'bob', password: 'pw-a', cert: cert('bob') }, 'fail'],
    ['wrong password', { username: 'alice', password: 'nope', cert: cert('alice') }, 'fail'],
  ];
  for (const [what, s, want] of table) assert.equal((await f.submit(sub(s), NOW)).kind, want, what);
});

test('certificate AND password with OTP: the certificate must stay the same through the rounds', async () => {
  const f = flows('certificate+password');
  const r1 = await f.submit(sub({ username: 'carol', password: 'pw-c', cert: cert('carol') }), NOW);
  assert.equal(r1.kind, 'continue');
  const ok = await f.submit(sub({ context: (r1 as { context: string }).context, secondaryPassword: '123456', cert: cert('carol') }), NOW);
  assert.equal(ok.kind, 'ok');
  for (const later of [undefined, cert('carol', [], 'another-fingerprint')]) {
    const r = await f.submit(sub({ username: 'carol', password: 'pw-c', cert: cert('carol') }), NOW);
    assert.equal(r.kind, 'continue');
    const s = sub({ context: (r as { context: string }).context, secondaryPassword: '123456' });
    if (later) s.cert = later;
    const out = await f.submit(s, NOW);
    assert.equal(out.kind, 'fail', later ? 'another certificate' : 'no certificate');
  }
});

test('certificate AND password with cert-group-oid: the groups are those both name', async () => {
  const f = flows('certificate+password', OID_OU);
  assert.deepEqual(await f.submit(sub({ username: 'alice', password: 'pw-a', cert: cert('alice', ['ops', 'sales']) }), NOW), { kind: 'ok', user: 'alice', groups: ['ops'], group: 'ops' });
  assert.equal((await f.submit(sub({ username: 'alice', password: 'pw-a', cert: cert('alice', ['sales']) }), NOW)).kind, 'fail');
  assert.deepEqual(await f.submit(sub({ username: 'bob', password: 'pw-b', cert: cert('bob', ['sales']) }), NOW), { kind: 'ok', user: 'bob', groups: ['sales'], group: 'sales' });
});

test('certificate OR password (enable-auth): either one alone logs in; a wrong password with no certificate does not', async () => {
  const f = flows('certificate|password');
  assert.deepEqual(await f.submit(sub({ cert: cert('alice') }), NOW), { kind: 'ok', user: 'alice', groups: [] });
  assert.deepEqual(await f.submit(sub({ username: 'bob', password: 'pw-b' }), NOW), { kind: 'ok', user: 'bob', groups: [] });
  assert.equal((await f.submit(sub({ username: 'bob', password: 'bad' }), NOW)).kind, 'fail');
  assert.equal((await f.submit(sub({ username: 'bob', password: 'pw-b', cert: cert('alice') }), NOW)).kind, 'fail', 'a certificate for someone else is no password login');
});

test('the mode the auth and enable-auth lines make', () => {
  const plain = { kind: 'plain' };
  const c = { kind: 'certificate' };
  const table: Array<[Array<{ kind: string }>, Array<{ kind: string }>, CertMode | undefined]> = [
    [[plain], [], undefined],
    [[c], [], 'certificate'],
    [[c, plain], [], 'certificate+password'],
    [[plain, c], [c], 'certificate+password'],
    [[plain], [c], 'certificate|password'],
    [[c], [c], 'certificate'],
  ];
  for (const [auth, enable, want] of table) assert.equal(certMode(auth, enable), want, JSON.stringify([auth, enable]));
  assert.throws(() => new CertificateBackend({ mode: 'certificate+password', userOid: OID_CN }), TypeError);
});

test('persistent-cookies: a logout leaves the cookie valid until the cookie timeout; without it the logout ends the session', () => {
  for (const persistent of [false, true]) {
    const pool = new IpPool({ v4: { network: '10.9.0.0', prefix: 24 } });
    const limits = new SessionLimits({ maxClients: 0, maxSameClients: 0, pendingTtlMs: 60_000 });
    const reg = new SessionRegistry({ pool, limits, cookieTimeoutMs: 1000, sessionTimeoutMs: null, random: randomBytes, persistentCookies: persistent });
    const l = reg.login('alice', [], PEER, 0);
    assert.ok(l.ok);
    assert.ok(reg.connect(l.session.cookie, { shard: 0, conn: 1 }, 10).ok);
    const e = reg.closed(l.session.id, { shard: 0, conn: 1 }, true, 20);
    if (!persistent) {
      assert.equal(e?.reason, 'logout');
      assert.equal(reg.connect(l.session.cookie, { shard: 0, conn: 2 }, 30).ok, false);
      continue;
    }
    assert.equal(e, undefined);
    const again = reg.connect(l.session.cookie, { shard: 0, conn: 2 }, 30);
    assert.ok(again.ok, 'the cookie still works after a logout');
    reg.closed(l.session.id, { shard: 0, conn: 2 }, true, 40);
    assert.deepEqual(reg.expire(40 + 1000).map((x) => x.reason), ['cookie-expired'], 'but only for the cookie timeout');
    assert.equal(reg.connect(l.session.cookie, { shard: 0, conn: 3 }, 2000).ok, false);
  }
});

const OPTS = { source: '/etc/ocserv/ocserv.conf', baseDir: '/etc/ocserv' };
const MINIMAL = ['server-cert = /c.pem', 'server-key = /k.pem', 'ipv4-network = 10.1.0.0/16'];
const parse = (lines: string[]) => parseConfig([...MINIMAL, ...lines].join('\n') + '\n', OPTS);

test('config: enable-auth, crl, cert-user-oid, cert-group-oid, persistent-cookies', () => {
  const { config, warnings } = parse(['auth = "plain[passwd=ocpasswd]"', 'enable-auth = "certificate"', 'ca-cert = ca.pem', 'crl = crl.pem', 'cert-user-oid = 0.9.2342.19200300.100.1.1', 'cert-group-oid = 2.5.4.11', 'persistent-cookies = true']);
  assert.deepEqual(config.enableAuth, [{ kind: 'certificate' }]);
  assert.equal(config.caCert, '/etc/ocserv/ca.pem');
  assert.equal(config.crl, '/etc/ocserv/crl.pem');
  assert.equal(config.certUserOid, OID_UID);
  assert.equal(config.certGroupOid, OID_OU);
  assert.equal(config.persistentCookies, true);
  assert.deepEqual(warnings.filter((w) => /enable-auth|crl|cert-|persistent/.test(w)), [], 'no longer ignored keys');
  assert.equal(parse(['auth = "certificate"', 'ca-cert = /ca.pem', 'cert-user-oid = SAN(rfc822name)']).config.certUserOid, 'SAN(rfc822name)');
  assert.equal(parse(['auth = "plain[passwd=/p]"']).config.persistentCookies, undefined);
  const noOid = parse(['auth = "certificate"', 'ca-cert = /ca.pem']);
  assert.equal(noOid.config.certUserOid, undefined);
  assert.ok(noOid.warnings.some((w) => /cert-user-oid is not set.*CN/.test(w)), 'a certificate login without cert-user-oid says it reads the CN');
  assert.ok(!parse(['auth = "plain[passwd=/p]"']).warnings.some((w) => /cert-user-oid/.test(w)));
  const bad: string[][] = [
    ['auth = "plain[passwd=/p]"', 'enable-auth = "certificate"'], // no ca-cert
    ['auth = "certificate"'], // no ca-cert
    ['auth = "plain[passwd=/p]"', 'ca-cert = /ca.pem', 'enable-auth = "plain[passwd=/q]"'],
    ['auth = "certificate"', 'ca-cert = /ca.pem', 'cert-user-oid = CN'],
    ['auth = "certificate"', 'ca-cert = /ca.pem', 'cert-group-oid = SAN(rfc822name)'],
    ['auth = "certificate"', 'ca-cert = /ca.pem', 'persistent-cookies = maybe'],
  ];
  for (const lines of bad) assert.throws(() => parse(lines), (e: unknown) => isWolfguardError(e), lines.join(' | '));
});
