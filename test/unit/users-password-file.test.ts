// PasswordFile and verifyUser against real files: one written by ocserv's own
// ocpasswd, re-reading on change, locked and unknown users, atomic saves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FALLBACK_DUMMY_HASH, PasswordFile, verifyUser } from '../../src/main/users/password-file';
import { setUser, parsePasswd } from '../../src/main/users/ocpasswd';
import { hashPassword } from '../../native/lib/wolfcrypt';
import { ErrorCodes, isWolfguardError } from '../../src/common/errors';

function tempDir(): { dir: string; done: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-passwd-'));
  return { dir, done: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

function ocpasswd(args: string[], input?: string): void {
  execFileSync('ocpasswd', args, { input: input ?? '', stdio: ['pipe', 'ignore', 'pipe'] });
}

test('a file written by ocserv\'s ocpasswd is read and verified', async () => {
  const { dir, done } = tempDir();
  try {
    const file = path.join(dir, 'ocpasswd');
    ocpasswd(['-c', file, 'alice'], 'correct horse\n');
    ocpasswd(['-c', file, '-g', 'admins,ops', 'bob'], 'bob-pw\n');
    ocpasswd(['-c', file, '-g', 'x', 'carol'], 'carol-pw\n');
    ocpasswd(['-c', file, '-l', 'carol']);
    assert.match(fs.readFileSync(file, 'utf8'), /^alice:\*:\$/m, 'ocpasswd wrote its usual format');
    const pf = PasswordFile.load(file);
    assert.deepEqual(await verifyUser(pf, 'alice', 'correct horse'), { ok: true, groups: [] });
    assert.deepEqual(await verifyUser(pf, 'alice', 'correct horse '), { ok: false });
    assert.deepEqual(await verifyUser(pf, 'bob', 'bob-pw'), { ok: true, groups: ['admins', 'ops'] });
    assert.deepEqual(await verifyUser(pf, 'carol', 'carol-pw'), { ok: false }, 'locked by ocpasswd -l');
    assert.equal(pf.lookup('carol')?.locked, true);
    ocpasswd(['-c', file, '-u', 'carol']);
    assert.deepEqual(await verifyUser(pf, 'carol', 'carol-pw'), { ok: true, groups: [] }, 'unlock seen without a restart');
    assert.deepEqual(await verifyUser(pf, 'nobody', 'correct horse'), { ok: false });
  } finally {
    done();
  }
});

test('our saved file is what ocpasswd edits: it can delete a user we added', async () => {
  const { dir, done } = tempDir();
  try {
    const file = path.join(dir, 'ocpasswd');
    const pf = PasswordFile.loadOrEmpty(file);
    pf.document = setUser(pf.document, 'dave', await hashPassword('dave-pw')).doc;
    pf.document = setUser(pf.document, 'erin', await hashPassword('erin-pw'), 'staff').doc;
    pf.save();
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    ocpasswd(['-c', file, '-d', 'dave']);
    const doc = parsePasswd(fs.readFileSync(file, 'utf8'));
    assert.deepEqual(doc.lines.map((l) => (l.kind === 'entry' ? l.entry.user : '')), ['erin']);
    assert.deepEqual(await verifyUser(pf, 'erin', 'erin-pw'), { ok: true, groups: ['staff'] });
    assert.deepEqual(await verifyUser(pf, 'dave', 'dave-pw'), { ok: false }, 'deletion seen on the next lookup');
  } finally {
    done();
  }
});

test('changes are picked up by mtime/inode; bad lines are skipped as ocserv does; a removed file leaves no users', async () => {
  const { dir, done } = tempDir();
  try {
    const file = path.join(dir, 'ocpasswd');
    const one = await hashPassword('one');
    fs.writeFileSync(file, `u1:*:${one}\n`);
    const pf = new PasswordFile(file);
    assert.deepEqual(await verifyUser(pf, 'u1', 'one'), { ok: true, groups: [] }, 'first lookup loads the file');
    fs.writeFileSync(file, `u1:g1,g2:${await hashPassword('two')}\n`);
    // A rewrite within the same mtime tick and of the same size is caught by the inode only on rename; set the mtime apart.
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(file, later, later);
    assert.deepEqual(await verifyUser(pf, 'u1', 'two'), { ok: true, groups: ['g1', 'g2'] });
    fs.writeFileSync(file, `garbage line without colons\nu2:*:${one}\nu2:*:${one}x\n`);
    assert.deepEqual(await verifyUser(pf, 'u1', 'two'), { ok: false }, 'u1 is no longer in the file');
    assert.deepEqual(await verifyUser(pf, 'u2', 'one'), { ok: true, groups: [] }, 'the good line still works; the first u2 wins');
    assert.equal(pf.problems.length, 2);
    assert.ok(isWolfguardError(pf.lastReloadError, ErrorCodes.PASSWD_INVALID));
    assert.match(pf.lastReloadError!.message, /line 1/);
    assert.match(pf.problems[1].message, /line 3: user "u2" already defined on line 2/);
    fs.rmSync(file);
    assert.deepEqual(await verifyUser(pf, 'u2', 'one'), { ok: false }, 'no file, no users');
    assert.ok(isWolfguardError(pf.lastReloadError, ErrorCodes.FILE_NOT_FOUND));
  } finally {
    done();
  }
});

test('load() of a missing or malformed file throws; loadOrEmpty() of a missing one is empty', () => {
  const { dir, done } = tempDir();
  try {
    const file = path.join(dir, 'none');
    assert.throws(() => PasswordFile.load(file), (e: unknown) => isWolfguardError(e, ErrorCodes.FILE_NOT_FOUND));
    assert.equal(PasswordFile.loadOrEmpty(file).document.lines.length, 0);
    fs.writeFileSync(file, 'ok:*:$6$a$b\nbad\n');
    assert.throws(() => PasswordFile.load(file), (e: unknown) => isWolfguardError(e, ErrorCodes.PASSWD_INVALID) && e.details.line === 2);
  } finally {
    done();
  }
});

test('save() refuses while "<file>.tmp" exists (ocpasswd\'s lock) and leaves the file alone', () => {
  const { dir, done } = tempDir();
  try {
    const file = path.join(dir, 'ocpasswd');
    fs.writeFileSync(file, 'a:*:$6$a$b\n');
    fs.writeFileSync(`${file}.tmp`, '');
    const pf = PasswordFile.load(file);
    pf.document = setUser(pf.document, 'b', '$6$c$d').doc;
    assert.throws(() => pf.save(), (e: unknown) => isWolfguardError(e, ErrorCodes.FILE_UNWRITABLE) && /locked/.test(e.message));
    assert.equal(fs.readFileSync(file, 'utf8'), 'a:*:$6$a$b\n');
    fs.rmSync(`${file}.tmp`);
    pf.save();
    assert.equal(fs.readFileSync(file, 'utf8'), 'a:*:$6$a$b\nb:*:$6$c$d\n');
    assert.equal(fs.existsSync(`${file}.tmp`), false);
  } finally {
    done();
  }
});

test('unknown, locked and password-less users are refused after a full crypt (no shortcut)', async () => {
  const { dir, done } = tempDir();
  try {
    const file = path.join(dir, 'ocpasswd');
    const h = await hashPassword('pw');
    fs.writeFileSync(file, `known:*:${h}\nlocked:*:!${h}\nnopass:*:\n`);
    const pf = PasswordFile.load(file);
    assert.equal(pf.dummyHash(), h, 'the dummy is a real entry\'s hash: same method and cost');
    assert.deepEqual(await verifyUser(pf, 'locked', 'pw'), { ok: false });
    assert.deepEqual(await verifyUser(pf, 'nopass', ''), { ok: false }, 'ocserv would let this one in on OTP alone');
    assert.deepEqual(await verifyUser(pf, 'ghost', 'pw'), { ok: false }, "another user's password does not open an unknown name");
    assert.equal(PasswordFile.loadOrEmpty(path.join(dir, 'empty')).dummyHash(), FALLBACK_DUMMY_HASH);

    // Timing: an unknown user costs about what a known one does (a crypt each), far from a shortcut's ~0.
    const ROUNDS = 6;
    const time = async (user: string) => {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < ROUNDS; i++) await verifyUser(pf, user, 'wrong');
      return Number(process.hrtime.bigint() - t0) / ROUNDS;
    };
    await time('known'); // warm-up
    const known = await time('known');
    const unknown = await time('ghost');
    const locked = await time('locked');
    assert.ok(unknown > known / 3 && locked > known / 3, `known ${known}ns, unknown ${unknown}ns, locked ${locked}ns`);
  } finally {
    done();
  }
});
