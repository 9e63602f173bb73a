// The login flow over the plain backend: password then TOTP rounds, context
// handling (single use, bound to the address, expiry), failures, groups.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LoginFlows, chooseGroup, MAX_PENDING_LOGINS } from '../../src/main/auth/login-flow';
import { PlainBackend, OTP_PROMPT } from '../../src/main/auth/plain-backend';
import { OtpChecker } from '../../src/main/auth/otp-checker';
import type { AuthBackend } from '../../src/main/auth/backend';
import { totp } from '../../src/main/auth/totp';
import { OathFile, oathLine } from '../../src/main/users/oath-file';
import { PasswordFile } from '../../src/main/users/password-file';
import { hashPassword } from '../../native/lib/wolfcrypt';

const PEER = '192.0.2.7';
const NOW = 1_700_000_000_000;
const TTL = 60_000;

async function fixture(otp: boolean): Promise<{ flows: LoginFlows; key: Buffer; done: () => void }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-auth-flow-'));
  const hash = await hashPassword('pw-alice', 'sha512');
  const hashBob = await hashPassword('pw-bob', 'sha512');
  fs.writeFileSync(path.join(dir, 'passwd'), `alice:eng,ops:${hash}\nbob:*:${hashBob}\n`);
  const key = crypto.randomBytes(20);
  fs.writeFileSync(path.join(dir, 'otp'), `${oathLine('alice', key)}\n`);
  const backend = new PlainBackend(new PasswordFile(path.join(dir, 'passwd')), otp ? new OtpChecker(new OathFile(path.join(dir, 'otp'))) : undefined);
  let n = 0;
  const random = (k: number) => Buffer.alloc(k, ++n);
  return { flows: new LoginFlows({ backend, ttlMs: TTL, random, defaultSelectGroup: 'DEFAULT' }), key, done: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

test('password only: ok, wrong password, unknown user, empty user', async () => {
  const { flows, done } = await fixture(false);
  try {
    assert.deepEqual(await flows.submit({ username: 'alice', password: 'pw-alice', peer: PEER }, NOW), { kind: 'ok', user: 'alice', groups: ['eng', 'ops'], group: 'eng' });
    assert.deepEqual(await flows.submit({ username: 'bob', password: 'pw-bob', peer: PEER }, NOW), { kind: 'ok', user: 'bob', groups: [] });
    const table: Array<[string, string]> = [
      ['alice', 'pw-bob'],
      ['alice', ''],
      ['nobody', 'pw-alice'],
    ];
    for (const [username, password] of table) {
      const r = await flows.submit({ username, password, peer: PEER }, NOW);
      assert.equal(r.kind, 'fail', `${username}/${password}`);
      assert.equal(r.user, username);
    }
    assert.equal((await flows.submit({ username: '', password: 'x', peer: PEER }, NOW)).kind, 'fail');
  } finally {
    done();
  }
});

test('password then OTP: a second round, then ok; the context is single-use', async () => {
  const { flows, key, done } = await fixture(true);
  try {
    const r1 = await flows.submit({ username: 'alice', password: 'pw-alice', peer: PEER, group: 'ops' }, NOW);
    assert.equal(r1.kind, 'continue');
    if (r1.kind !== 'continue') return;
    assert.deepEqual(r1.prompt, OTP_PROMPT);
    assert.equal(r1.prompt.fields[0]!.name, 'secondary_password');
    assert.equal(flows.userOf({ context: r1.context, peer: PEER }, NOW), 'alice');
    const code = totp({ key }, NOW / 1000);
    const r2 = await flows.submit({ context: r1.context, secondaryPassword: code, peer: PEER }, NOW + 1000);
    // The group chosen in the first round holds.
    assert.deepEqual(r2, { kind: 'ok', user: 'alice', groups: ['ops', 'eng'], group: 'ops' });
    // The context is gone: the same answer again is a new login without a user name.
    assert.equal((await flows.submit({ context: r1.context, secondaryPassword: code, peer: PEER }, NOW + 2000)).kind, 'fail');
    assert.equal(flows.pending, 0);
  } finally {
    done();
  }
});

test('OTP round failures: wrong code, replayed code, other address, expired context', async () => {
  const { flows, key, done } = await fixture(true);
  try {
    const start = async (at: number) => {
      const r = await flows.submit({ username: 'alice', password: 'pw-alice', peer: PEER }, at);
      assert.equal(r.kind, 'continue');
      return r.kind === 'continue' ? r.context : '';
    };
    const code = totp({ key }, NOW / 1000);
    const wrong = String((Number(code) + 1) % 1e6).padStart(6, '0');
    let r = await flows.submit({ context: await start(NOW), secondaryPassword: wrong, peer: PEER }, NOW);
    assert.deepEqual(r, { kind: 'fail', user: 'alice', reason: 'wrong OTP code' });
    r = await flows.submit({ context: await start(NOW), secondaryPassword: code, peer: PEER }, NOW);
    assert.equal(r.kind, 'ok');
    r = await flows.submit({ context: await start(NOW), secondaryPassword: code, peer: PEER }, NOW + 5000);
    assert.deepEqual(r, { kind: 'fail', user: 'alice', reason: 'OTP code already used' });
    const next = totp({ key }, NOW / 1000 + 30);
    r = await flows.submit({ context: await start(NOW), secondaryPassword: next, peer: '198.51.100.1' }, NOW);
    assert.equal(r.kind, 'fail');
    // Expired: the context is forgotten, so this is a login without a user name.
    const ctx = await start(NOW);
    r = await flows.submit({ context: ctx, secondaryPassword: next, peer: PEER }, NOW + TTL + 1);
    assert.deepEqual(r, { kind: 'fail', user: '', reason: 'no user name' });
    // A wrong password never gets to the OTP round.
    r = await flows.submit({ username: 'alice', password: 'nope', peer: PEER }, NOW);
    assert.equal(r.kind, 'fail');
    // A user without a secret passes the password and fails the OTP round.
    const rb = await flows.submit({ username: 'bob', password: 'pw-bob', peer: PEER }, NOW);
    assert.equal(rb.kind, 'continue');
    if (rb.kind === 'continue') assert.deepEqual(await flows.submit({ context: rb.context, secondaryPassword: code, peer: PEER }, NOW), { kind: 'fail', user: 'bob', reason: 'no OTP secret for this user' });
  } finally {
    done();
  }
});

test('a submission with a context skips no factor: a fresh login with a stale context starts at the password', async () => {
  const { flows, key, done } = await fixture(true);
  try {
    const r = await flows.submit({ context: 'made-up', username: 'alice', password: totp({ key }, NOW / 1000), peer: PEER }, NOW);
    assert.equal(r.kind, 'fail');
  } finally {
    done();
  }
});

test('pending logins are bounded', async () => {
  const backend: AuthBackend = { name: 'ask-forever', start: () => ({ answer: () => Promise.resolve({ kind: 'continue', prompt: OTP_PROMPT }) }) };
  let n = 0;
  const flows = new LoginFlows({ backend, ttlMs: TTL, random: (k) => { const b = Buffer.alloc(k); b.writeUInt32BE(n++); return b; } });
  for (let i = 0; i < MAX_PENDING_LOGINS; i++) assert.equal((await flows.submit({ username: 'u', password: 'p', peer: PEER }, NOW)).kind, 'continue');
  assert.deepEqual(await flows.submit({ username: 'u', password: 'p', peer: PEER }, NOW), { kind: 'fail', user: 'u', reason: 'too many logins in progress' });
  flows.sweep(NOW + TTL);
  assert.equal(flows.pending, 0);
});

test('chooseGroup follows ocserv plain_auth_group', () => {
  const table: Array<[string[], string | undefined, ReturnType<typeof chooseGroup>]> = [
    [['eng', 'ops'], undefined, { ok: true, groups: ['eng', 'ops'], group: 'eng' }],
    [['eng', 'ops'], 'ops', { ok: true, groups: ['ops', 'eng'], group: 'ops' }],
    [['eng', 'ops'], 'DEFAULT', { ok: true, groups: ['eng', 'ops'], group: 'eng' }],
    [['eng', 'ops'], 'admins', { ok: false }],
    [[], 'eng', { ok: false }],
    [[], undefined, { ok: true, groups: [] }],
    [[], '', { ok: true, groups: [] }],
  ];
  for (const [groups, wanted, want] of table) assert.deepEqual(chooseGroup(groups, wanted, 'DEFAULT'), want, `${groups.join(',')} / ${wanted}`);
});
