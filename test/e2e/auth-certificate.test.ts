// Certificate login end to end with the real openconnect 9 client
// (`-c cert.pem -k key.pem`, the certificate goes in the TLS handshake):
//  - gateway "either" (auth = plain, enable-auth = certificate, ca-cert, crl):
//    a certificate alone logs in; one from another CA, an expired one and a
//    revoked one are refused;
//  - gateway "both" (auth = certificate and auth = plain): the certificate
//    and the password of the same user are both needed;
//  - gateway "certonly" (auth = "certificate" alone, cert-user-oid = UID,
//    cert-group-oid = OU): the certificate names the user and the group,
//    whose config-per-group routes reach the client; no certificate, or one
//    without a UID, is refused;
//  - persistent-cookies (on "either", off on "both"): after openconnect logs
//    out (SIGINT: CSTP DISCONNECT 0xb0) its cookie opens a tunnel again only
//    where the option is on.
// Needs root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { clientCa, otherClientCa, type ClientCert, type TestPki } from '../helpers/certs';
import { closeScratch, openScratch } from '../helpers/e2e-scratch';
import { createTopology, spawnInNs, type Topology } from '../helpers/netns';
import { exitOf, stopChild } from '../helpers/reaper';
import { startOpenconnect, pinSha256, OpenconnectExitError, type OpenconnectOptions } from '../helpers/openconnect';
import { startWolfguard, type WolfguardHandle } from '../helpers/wolfguard';

const PORT_EITHER = 4471;
const PORT_BOTH = 4472;
const PORT_CERTONLY = 4473;
const ENG_ROUTE = '10.93.0.0/24';
const PASSWORD = 'correct horse battery';
/** How long the main thread gets to hear of a logout before the cookie is tried again. */
const LOGOUT_SETTLE_MS = 1000;

let pki: TestPki;
let topo: Topology;
let either: WolfguardHandle;
let both: WolfguardHandle;
let certonly: WolfguardHandle;
let workDir: string;
let pin: string;
const certs = new Map<string, ClientCert>();

function opts(port: number, user: string, cert: string | undefined, password = PASSWORD): OpenconnectOptions {
  const o: OpenconnectOptions = { ns: topo.clients[0]!.ns, url: `https://${topo.gw.outerIp}:${port}/`, user, password, servercertPin: pin, noDtls: true, connectTimeoutMs: 15_000 };
  if (cert !== undefined) o.extraArgs = ['-c', certs.get(cert)!.cert, '-k', certs.get(cert)!.key];
  return o;
}

async function refused(o: OpenconnectOptions): Promise<OpenconnectExitError> {
  try {
    const c = await startOpenconnect(o);
    await c.stop();
  } catch (e) {
    assert.ok(e instanceof OpenconnectExitError, String(e));
    assert.notEqual(e.status.code, 0);
    return e;
  }
  assert.fail(`openconnect as ${o.user} was let in`);
}

/** Successful logins of `user` on a gateway, from its JSON log. */
function loginsOf(gw: WolfguardHandle, user: string): number {
  return gw
    .log()
    .split('\n')
    .filter((l) => {
      try {
        const o = JSON.parse(l) as { msg?: string; user?: string };
        return o.msg === 'login' && o.user === user;
      } catch {
        return false;
      }
    }).length;
}

async function logged(gw: WolfguardHandle, re: RegExp, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!re.test(gw.log())) {
    if (Date.now() > until) assert.fail(`no log line matching ${re}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

before(async () => {
  assert.equal(process.getuid?.(), 0, 'end-to-end tests need root (network namespaces, TUN)');
  ({ pki, workDir } = openScratch('cert'));
  pin = pinSha256(pki.ecCert);
  const ca = clientCa(pki);
  certs.set('carol', ca.issue('carol', '/CN=carol/OU=eng'));
  certs.set('alice', ca.issue('alice', '/CN=alice'));
  certs.set('bob', ca.issue('bob', '/CN=bob'));
  certs.set('frank', ca.issue('frank', '/CN=Frank Example/UID=frank/OU=eng/OU=ops'));
  certs.set('expired', ca.issue('dave', '/CN=dave', { expired: true }));
  certs.set('revoked', ca.issue('erin', '/CN=erin'));
  ca.revoke(certs.get('revoked')!);
  const crl = ca.crl();
  // Same CA name, another key: only the signature tells them apart.
  certs.set('other', otherClientCa(pki).issue('carol-other', '/CN=carol'));
  // The gateway reads ca-cert and crl as root at start; keys stay private.
  for (const f of [pki.caCert, crl]) fs.chmodSync(f, 0o644);
  topo = await createTopology({ clients: 1, tag: 'wgc' });
  const users = ['alice', 'bob', 'carol'].map((name) => ({ name, password: PASSWORD, groups: [] }));
  either = await startWolfguard({
    ns: topo.gw.ns,
    dir: path.join(workDir, 'either'),
    port: PORT_EITHER,
    udpPort: 0,
    cert: pki.ecCert,
    key: pki.ecKey,
    users,
    ipv4Pool: '10.81.0.0/24',
    extra: ['enable-auth = "certificate"', `ca-cert = ${pki.caCert}`, `crl = ${crl}`, 'cert-user-oid = 2.5.4.3', 'persistent-cookies = true', 'device = vpncerta'],
    workers: 1,
  });
  both = await startWolfguard({
    ns: topo.gw.ns,
    dir: path.join(workDir, 'both'),
    port: PORT_BOTH,
    udpPort: 0,
    cert: pki.ecCert,
    key: pki.ecKey,
    users,
    ipv4Pool: '10.82.0.0/24',
    extra: ['auth = "certificate"', `ca-cert = ${pki.caCert}`, `crl = ${crl}`, 'device = vpncertb'],
    workers: 1,
  });
  const perGroup = path.join(workDir, 'config-per-group');
  fs.mkdirSync(perGroup);
  fs.writeFileSync(path.join(perGroup, 'eng'), `route = ${ENG_ROUTE}\n`);
  certonly = await startWolfguard({
    ns: topo.gw.ns,
    dir: path.join(workDir, 'certonly'),
    port: PORT_CERTONLY,
    udpPort: 0,
    cert: pki.ecCert,
    key: pki.ecKey,
    users: [],
    auth: ['"certificate"'],
    ipv4Pool: '10.83.0.0/24',
    routes: ['10.94.0.0/24'],
    extra: [`ca-cert = ${pki.caCert}`, `crl = ${crl}`, 'cert-user-oid = 0.9.2342.19200300.100.1.1', 'cert-group-oid = 2.5.4.11', `config-per-group = ${perGroup}`, 'device = vpncertc'],
    workers: 1,
  });
  const nobody = { uid: 65534, gid: 65534 };
  for (const f of [perGroup, path.join(perGroup, 'eng')]) fs.chownSync(f, nobody.uid, nobody.gid);
  fs.chmodSync(workDir, 0o755);
  for (const d of ['either', 'both']) for (const f of [path.join(workDir, d), path.join(workDir, d, 'ocpasswd')]) fs.chownSync(f, nobody.uid, nobody.gid);
});

after(async () => {
  await closeScratch({ gw: either, topo, pki, workDir });
  await both?.stop();
  await certonly?.stop();
});

test('either mode: a certificate from ca-cert alone logs in (no password asked) and the tunnel comes up', { timeout: 60_000 }, async () => {
  const c = await startOpenconnect(opts(PORT_EITHER, 'carol', 'carol', 'not-the-password'));
  try {
    assert.ok(c.state.ip4?.address.startsWith('10.81.0.'), JSON.stringify(c.state.ip4));
    assert.doesNotMatch(c.stdout() + c.stderr(), /Please enter your username and password/);
    assert.equal(loginsOf(either, 'carol'), 1);
  } finally {
    await c.stop();
  }
});

test('either mode: without a certificate the password logs in', { timeout: 60_000 }, async () => {
  const c = await startOpenconnect(opts(PORT_EITHER, 'bob', undefined));
  try {
    assert.ok(c.state.ip4);
    assert.equal(loginsOf(either, 'bob'), 1);
  } finally {
    await c.stop();
  }
});

for (const [name, what] of [
  ['other', 'a certificate from another CA (same CA name)'],
  ['expired', 'an expired certificate'],
  ['revoked', 'a revoked certificate (CRL)'],
] as const) {
  test(`either mode: ${what} is refused`, { timeout: 60_000 }, async () => {
    const before = loginsOf(either, 'carol') + loginsOf(either, 'dave') + loginsOf(either, 'erin');
    const e = await refused(opts(PORT_EITHER, name === 'other' ? 'carol' : name === 'expired' ? 'dave' : 'erin', name, 'wrong password'));
    // wolfSSL refuses it in the handshake (openconnect reads the alert in its first HTTP exchange under TLS 1.3).
    assert.match(e.stderr + e.stdout, /TLS fatal alert has been received/);
    assert.equal(loginsOf(either, 'carol') + loginsOf(either, 'dave') + loginsOf(either, 'erin'), before);
  });
}

test('both mode: certificate and password of the same user log in', { timeout: 60_000 }, async () => {
  const c = await startOpenconnect(opts(PORT_BOTH, 'alice', 'alice'));
  try {
    assert.ok(c.state.ip4?.address.startsWith('10.82.0.'), JSON.stringify(c.state.ip4));
    assert.equal(loginsOf(both, 'alice'), 1);
  } finally {
    await c.stop();
  }
});

test('both mode: the certificate without the password is refused', { timeout: 60_000 }, async () => {
  await refused(opts(PORT_BOTH, 'bob', 'bob', 'wrong password'));
  await logged(both, /"user":"bob".*login refused|login refused.*"user":"bob"/);
  assert.equal(loginsOf(both, 'bob'), 0);
});

test('both mode: the password without a certificate is refused', { timeout: 60_000 }, async () => {
  const e = await refused(opts(PORT_BOTH, 'bob', undefined));
  // The handshake succeeds (certificate optional at the TLS level); the login answers 401.
  assert.match(e.stderr + e.stdout, /HTTP\/1\.1 401/);
  await logged(both, /no client certificate/);
  assert.equal(loginsOf(both, 'bob'), 0);
});

test('both mode: one user\'s password with another user\'s certificate is refused', { timeout: 60_000 }, async () => {
  await refused(opts(PORT_BOTH, 'bob', 'carol'));
  await logged(both, /the certificate is for user \\"carol\\"|the certificate is for user/);
  assert.equal(loginsOf(both, 'bob'), 0);
});

/** `openconnect --authenticate`: logs in and prints the session cookie without opening a tunnel. */
async function authenticate(o: OpenconnectOptions): Promise<string> {
  const args = ['--authenticate', '--non-inter', '--passwd-on-stdin', '-u', o.user, '--servercert', o.servercertPin, ...(o.extraArgs ?? []), o.url];
  const child = spawnInNs(o.ns, '/usr/sbin/openconnect', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', () => undefined);
  child.stdin!.end(`${o.password}\n`);
  const timer = setTimeout(() => void stopChild(child, 'SIGKILL', 0), 20_000);
  const st = await exitOf(child);
  clearTimeout(timer);
  assert.equal(st.code, 0, `openconnect --authenticate failed: ${out}`);
  const m = /^COOKIE='?([^'\n]+)'?$/m.exec(out);
  assert.ok(m, `no COOKIE in ${out}`);
  return m[1]!;
}

/** A tunnel opened with a cookie (-C), then logged out with SIGINT. */
async function tunnelWithCookie(o: OpenconnectOptions, cookie: string): Promise<void> {
  const c = await startOpenconnect({ ...o, extraArgs: [...(o.extraArgs ?? []), '-C', cookie] });
  await c.stop();
}

test('persistent-cookies: a logged-out cookie opens a tunnel again where the option is on, and not where it is off', { timeout: 90_000 }, async () => {
  const on = opts(PORT_EITHER, 'bob', undefined);
  const cookieOn = await authenticate(on);
  await tunnelWithCookie(on, cookieOn);
  // No line marks a logout that keeps the session: give the tunnel-closed report time to arrive (the "off" half below shows it does).
  await new Promise((r) => setTimeout(r, LOGOUT_SETTLE_MS));
  await tunnelWithCookie(on, cookieOn);
  assert.doesNotMatch(either.log(), /"reason":"logout"/);

  const off = opts(PORT_BOTH, 'alice', 'alice');
  const cookieOff = await authenticate(off);
  await tunnelWithCookie(off, cookieOff);
  await logged(both, /"reason":"logout"/);
  const e = await refused({ ...off, extraArgs: [...(off.extraArgs ?? []), '-C', cookieOff] });
  assert.match(e.stderr + e.stdout, /401|Cookie is no longer valid|cookie/i);
});

test('certificate only: the UID names the user, the first OU the group, whose routes the client gets', { timeout: 60_000 }, async () => {
  const c = await startOpenconnect(opts(PORT_CERTONLY, 'frank', 'frank', 'ignored'));
  try {
    assert.ok(c.state.ip4?.address.startsWith('10.83.0.'), JSON.stringify(c.state.ip4));
    assert.deepEqual(c.state.splitInclude, [ENG_ROUTE], 'config-per-group/eng replaced the gateway routes');
    assert.equal(loginsOf(certonly, 'frank'), 1);
  } finally {
    await c.stop();
  }
});

test('certificate only: no certificate, or one without the UID, is refused with 401', { timeout: 60_000 }, async () => {
  for (const cert of [undefined, 'carol']) {
    const e = await refused(opts(PORT_CERTONLY, 'carol', cert));
    assert.match(e.stderr + e.stdout, /HTTP\/1\.1 401/);
  }
  await logged(certonly, /no user name and no client certificate/);
  await logged(certonly, /none in the client certificate/);
  assert.equal(loginsOf(certonly, 'carol'), 0);
});
