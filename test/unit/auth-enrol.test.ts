// `wolfguard passwd --totp FILE USER`: the secret lands in the OTP file in
// liboath's format, the printed otpauth:// URI carries the same secret, and
// a code made from the URI is accepted by the gateway's checker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OathFile } from '../../src/main/users/oath-file';
import { OtpChecker } from '../../src/main/auth/otp-checker';
import { base32Decode, totp } from '../../src/main/auth/totp';
import { qrForTerminal } from '../../src/main/users/totp-enrol';

const CLI = path.resolve(__dirname, '../../src/main/cli.js');

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('passwd --totp enrols a user and prints the URI', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-enrol-'));
  try {
    const file = path.join(dir, 'users.oath');
    fs.writeFileSync(file, '# kept\nHOTP/T30 bob - 00112233445566778899\n');
    const r = run(['passwd', '--totp', file, '--issuer', 'Corp VPN', 'alice']);
    assert.equal(r.status, 0, r.stderr);
    const uri = /^otpauth:\/\/\S+$/m.exec(r.stdout)?.[0];
    assert.ok(uri, r.stdout);
    const u = new URL(uri);
    assert.equal(u.searchParams.get('issuer'), 'Corp VPN');
    const key = base32Decode(u.searchParams.get('secret')!);
    assert.equal(key.length, 20);
    const text = fs.readFileSync(file, 'utf8');
    assert.match(text, /^# kept\nHOTP\/T30 bob - 00112233445566778899\nHOTP\/T30\talice\t-\t[0-9a-f]{40}\n$/);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const now = Date.now();
    assert.deepEqual(new OtpChecker(new OathFile(file)).check('alice', totp({ key }, now / 1000), now), { ok: true });
    // Enrolling again replaces the secret.
    assert.equal(run(['passwd', '--totp', file, 'alice']).status, 0);
    assert.equal(fs.readFileSync(file, 'utf8').match(/alice/g)!.length, 1);
    assert.doesNotMatch(fs.readFileSync(file, 'utf8'), new RegExp(key.toString('hex')));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('passwd --totp usage errors exit 2', () => {
  const table: string[][] = [
    ['passwd', '--totp', '/nonexistent/x'],
    ['passwd', '--totp', '/tmp/x', '-d', 'alice'],
    ['passwd', '--totp', '/tmp/x', 'bad:name'],
  ];
  for (const args of table) {
    const r = run(args);
    assert.notEqual(r.status, 0, args.join(' '));
    assert.doesNotMatch(r.stderr, /^\s+at /m);
  }
});

test('the QR code is rendered for a terminal', async () => {
  const q = await qrForTerminal('otpauth://totp/x:y?secret=AAAA');
  assert.ok(q.split('\n').length > 10);
  assert.match(q, /[▀▄█]/);
});
