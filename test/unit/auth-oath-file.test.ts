// The liboath users file: parsing (table and fuzz), enrolment edits, reload on change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { OathFile, oathLine, parseOathFile, setOathUser } from '../../src/main/users/oath-file';
import { base32Encode } from '../../src/main/auth/totp';

const HEX = '3132333435363738393031323334353637383930';
const KEY = Buffer.from(HEX, 'hex');

test('lines liboath writes, and variants', () => {
  const table: Array<[string, { user: string; step?: number; digits: number } | null]> = [
    [`HOTP/T30 alice - ${HEX}`, { user: 'alice', step: 30, digits: 6 }],
    [`HOTP/T30\talice\t-\t${HEX}`, { user: 'alice', step: 30, digits: 6 }],
    [`HOTP/T60/8 alice 1234 ${HEX} 0 2024-01-01T00:00:00L`, { user: 'alice', step: 60, digits: 8 }],
    [`hotp/t30 alice - ${HEX}`, { user: 'alice', step: 30, digits: 6 }],
    [`HOTP alice - ${HEX} 12`, { user: 'alice', digits: 6 }],
    [`HOTP/E/7 alice - ${HEX}`, { user: 'alice', digits: 7 }],
    [`HOTP/T30 alice - ${base32Encode(KEY)}`, { user: 'alice', step: 30, digits: 6 }],
    [`HOTP/T30 alice - ${base32Encode(KEY).toLowerCase()}`, { user: 'alice', step: 30, digits: 6 }],
    [`TOTP alice - ${HEX}`, null],
    [`HOTP/T30/9 alice - ${HEX}`, null],
    [`HOTP/T0 alice - ${HEX}`, null],
    [`HOTP/T30 alice -`, null],
    [`HOTP/T30 alice - 0x!!`, null],
  ];
  for (const [line, want] of table) {
    const d = parseOathFile(`# comment\n\n${line}\n`);
    if (want === null) {
      assert.equal(d.entries.size, 0, line);
      assert.equal(d.problems.length, 1, line);
      assert.match(d.problems[0]!, /:3: /);
      continue;
    }
    assert.deepEqual(d.problems, [], line);
    const e = d.entries.get(want.user)!;
    assert.ok(e, line);
    assert.equal(e.stepSeconds, want.step, line);
    assert.equal(e.digits, want.digits, line);
    assert.deepEqual(e.key, KEY, line);
  }
});

test('the first line of a user wins; bad lines do not hide good ones', () => {
  const d = parseOathFile(`HOTP/T30 a - ${HEX}\nHOTP/T30 a - 00112233\ngarbage\nHOTP/T30 b - ${HEX}\n`);
  assert.deepEqual(d.entries.get('a')!.key, KEY);
  assert.ok(d.entries.has('b'));
  assert.equal(d.problems.length, 1);
});

test('parser fuzz: any text gives entries and problems, never a throw', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 400 }), (s) => {
      const d = parseOathFile(s);
      assert.ok(d.entries instanceof Map);
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.array(fc.constantFrom('HOTP/T30', 'HOTP', 'u', '-', HEX, 'ZZ', '#', ' ', '\t', '\n', 'HOTP/T30/8', '=', '0x'), { maxLength: 30 }), (parts) => {
      parseOathFile(parts.join(' '));
    }),
  );
});

test('enrolment replaces the user line and keeps every other line', () => {
  const text = `# users\nHOTP/T30 alice - 00\nHOTP/T30 bob - 11\n`;
  const line = oathLine('alice', KEY);
  assert.equal(line, `HOTP/T30\talice\t-\t${HEX}`);
  assert.equal(setOathUser(text, 'alice', line), `# users\n${line}\nHOTP/T30 bob - 11\n`);
  assert.equal(setOathUser(text, 'carol', line), `${text}${line}\n`);
  assert.equal(setOathUser('', 'carol', line), `\n${line}\n`.replace(/^\n/, ''));
  assert.equal(oathLine('x', KEY, 8, 60), `HOTP/T60/8\tx\t-\t${HEX}`);
  assert.throws(() => oathLine('a b', KEY));
});

test('OathFile re-reads a changed file, and enrol writes mode 0600', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-oath-'));
  try {
    const file = path.join(dir, 'users.oath');
    const f = new OathFile(file);
    assert.equal(f.lookup('alice'), undefined);
    OathFile.enrol(file, 'alice', oathLine('alice', KEY));
    assert.deepEqual(f.lookup('alice')!.key, KEY);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    OathFile.enrol(file, 'bob', oathLine('bob', Buffer.alloc(20, 1)));
    assert.ok(f.lookup('bob'));
    assert.ok(f.lookup('alice'));
    fs.writeFileSync(`${file}.tmp`, '');
    assert.throws(() => OathFile.enrol(file, 'carol', oathLine('carol', KEY)), /locked/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
