// The embedded default configuration: made once in a state directory (a
// self-signed P-256 certificate, a password file with a random admin
// password), then reused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_STATE_DIR_NAME, EMBEDDED_SOURCE, STATE_FILES, defaultStateDir, ensureDefaultConfig } from '../../src/main/config/default-config';
import { PasswordFile, verifyUser } from '../../src/main/users/password-file';
import { ErrorCodes, isWolfguardError } from '../../src/common/errors';

test('first start creates certificate and admin user; later starts reuse them', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-state-'));
  const stateDir = path.join(dir, 'state');
  try {
    const first = await ensureDefaultConfig(stateDir, {});
    assert.ok(first.createdUser);
    assert.equal(first.createdUser.username, 'admin');
    assert.match(first.createdUser.password, /^[A-Za-z0-9_-]{24}$/, '18 random bytes, base64url');
    const c = first.config;
    assert.equal(c.source, EMBEDDED_SOURCE);
    assert.equal(c.tcpPort, 443);
    assert.equal(c.udpPort, 443);
    assert.equal(c.device, 'wolfguard0');
    assert.equal(c.dpd, 90);
    assert.equal(c.keepalive, 32400);
    assert.deepEqual(c.ipv4Pool, { network: '10.77.0.0', prefix: 20 });
    assert.deepEqual(c.ipv6Pool, { network: 'fd77:77::', prefix: 64, subnetPrefix: 128 });
    assert.equal(c.serverCert, path.join(stateDir, STATE_FILES.cert));
    assert.equal(c.serverKey, path.join(stateDir, STATE_FILES.key));
    assert.deepEqual(c.auth, [{ kind: 'plain', passwd: path.join(stateDir, STATE_FILES.passwd) }]);
    assert.equal(c.adminSocket, path.join(stateDir, STATE_FILES.adminSocket));
    assert.deepEqual(first.warnings, []);

    assert.equal(fs.statSync(stateDir).mode & 0o777, 0o700);
    assert.equal(fs.statSync(c.serverKey).mode & 0o777, 0o600);
    assert.equal(fs.statSync(first.passwdFile).mode & 0o777, 0o600);
    const text = execFileSync('openssl', ['x509', '-in', c.serverCert, '-noout', '-text'], { encoding: 'utf8' });
    assert.match(text, /prime256v1|P-256/);
    assert.match(text, /DNS:localhost/);

    const pf = PasswordFile.load(first.passwdFile);
    assert.ok(pf.lookup('admin')?.hash.startsWith('$6$'), 'SHA-512 crypt');
    assert.deepEqual(await verifyUser(pf, 'admin', first.createdUser.password), { ok: true, groups: [] });
    assert.ok(!fs.readFileSync(first.passwdFile, 'utf8').includes(first.createdUser.password), 'only the hash is stored');

    const certBefore = fs.readFileSync(c.serverCert, 'utf8');
    const second = await ensureDefaultConfig(stateDir, { WOLFGUARD_PORT: '8443' });
    assert.equal(second.createdUser, undefined, 'the password is shown once only');
    assert.equal(fs.readFileSync(second.config.serverCert, 'utf8'), certBefore, 'the certificate is reused');
    assert.equal(second.config.tcpPort, 8443);
    assert.equal(second.config.udpPort, 8443);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const badPorts = ['0', '65536', 'https', '-1', '1.5'];
for (const p of badPorts) {
  test(`WOLFGUARD_PORT=${p} is refused`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-state-'));
    try {
      await assert.rejects(ensureDefaultConfig(dir, { WOLFGUARD_PORT: p }), (e: unknown) => isWolfguardError(e, ErrorCodes.CONFIG_INVALID) && e.message.includes('WOLFGUARD_PORT'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('state directory: WOLFGUARD_STATE_DIR, else ./.wolfguard-state', () => {
  assert.equal(defaultStateDir({}, '/srv/app'), path.join('/srv/app', DEFAULT_STATE_DIR_NAME));
  assert.equal(defaultStateDir({ WOLFGUARD_STATE_DIR: '/var/lib/wolfguard' }, '/srv/app'), '/var/lib/wolfguard');
  assert.equal(defaultStateDir({ WOLFGUARD_STATE_DIR: 'rel' }, '/srv/app'), '/srv/app/rel');
});
