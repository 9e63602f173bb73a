// The ocpasswd format, parsed and written without I/O: fields, groups as
// ocserv reads them, locks, errors naming the line, and round-trips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { deleteUser, emptyPasswd, findEntry, groupsOf, parsePasswd, serializePasswd, setLocked, setUser, type PasswdDocument } from '../../src/main/users/ocpasswd';
import { ErrorCodes, isWolfguardError } from '../../src/common/errors';

const SAMPLE = [
  'alice:*:$5$77EALr/bMaE42DfW$V3oDrVmvgQQjcv/cCswSsOtwUWqiX7sqOk0Dzw0.ce7',
  'bob:admins,ops:!$5$Fxtr4K6VPWpEg/Hi$kZspFtZXgToQBvz8SwfIhnzdfUiQvmHNfwxynDAhbyC',
  '# a comment wolfguard keeps',
  '',
  'carol::$6$salt$hash',
  'otp-only:x:',
  '',
].join('\n');

test('entries: user, group field, hash, lock mark', () => {
  const doc = parsePasswd(SAMPLE);
  assert.deepEqual(findEntry(doc, 'alice'), { user: 'alice', groupField: '*', hash: '$5$77EALr/bMaE42DfW$V3oDrVmvgQQjcv/cCswSsOtwUWqiX7sqOk0Dzw0.ce7', locked: false });
  assert.deepEqual(findEntry(doc, 'bob'), { user: 'bob', groupField: 'admins,ops', hash: '$5$Fxtr4K6VPWpEg/Hi$kZspFtZXgToQBvz8SwfIhnzdfUiQvmHNfwxynDAhbyC', locked: true });
  assert.deepEqual(findEntry(doc, 'carol'), { user: 'carol', groupField: '', hash: '$6$salt$hash', locked: false });
  assert.equal(findEntry(doc, 'otp-only')?.hash, '');
  assert.equal(findEntry(doc, 'dave'), undefined);
  assert.equal(serializePasswd(doc), SAMPLE, 'comments and blank lines survive');
});

const groupCases: Array<[string, string[]]> = [
  ['*', []],
  ['', []],
  ['admins', ['admins']],
  ['admins,ops', ['admins', 'ops']],
  [' admins , ops ', ['admins', 'ops']],
  ['x,admins,*', ['admins']], // ocserv skips one-character names
];
for (const [field, want] of groupCases) {
  test(`groups of ${JSON.stringify(field)} as ocserv's break_group_list`, () => assert.deepEqual(groupsOf(field), want));
}

test('CRLF files parse and are written back with CRLF', () => {
  const text = 'a:*:$6$x$y\r\nb:g1:$6$x$z\r\n';
  const doc = parsePasswd(text);
  assert.equal(findEntry(doc, 'b')?.hash, '$6$x$z');
  assert.equal(serializePasswd(doc), text);
});

const errorCases: Array<{ name: string; text: string; line: number; match: RegExp }> = [
  { name: 'two fields', text: 'a:*:$6$x$y\nb:*\n', line: 2, match: /found 2 field/ },
  { name: 'four fields', text: '\n\nc:*:$6$x:y\n', line: 3, match: /found 4 field/ },
  { name: 'no colon', text: 'justtext\n', line: 1, match: /expected user:group:hash/ },
  { name: 'empty user', text: ':*:$6$x$y\n', line: 1, match: /empty user/ },
  { name: 'duplicate user', text: 'a:*:h\n#\na:*:h2\n', line: 3, match: /already defined on line 1/ },
];
for (const c of errorCases) {
  test(`parse error names the line: ${c.name}`, () => {
    assert.throws(
      () => parsePasswd(c.text, '/etc/ocserv/ocpasswd'),
      (e: unknown) => isWolfguardError(e, ErrorCodes.PASSWD_INVALID) && e.details.line === c.line && e.message.includes(`/etc/ocserv/ocpasswd line ${c.line}`) && c.match.test(e.message),
    );
  });
}

test('setUser adds with group "*" like ocpasswd, and on change keeps groups unless given', () => {
  let doc = setUser(emptyPasswd(), 'alice', '$6$a$1').doc;
  assert.equal(serializePasswd(doc), 'alice:*:$6$a$1\n');
  const r1 = setUser(doc, 'bob', '$6$b$1', 'ops');
  assert.equal(r1.created, true);
  doc = setLocked(r1.doc, 'bob', true).doc;
  const r2 = setUser(doc, 'bob', '$6$b$2');
  assert.equal(r2.created, false);
  assert.deepEqual(findEntry(r2.doc, 'bob'), { user: 'bob', groupField: 'ops', hash: '$6$b$2', locked: false }, 'a new password unlocks, as ocpasswd');
  assert.equal(findEntry(setUser(r2.doc, 'bob', '$6$b$3', 'a,b').doc, 'bob')?.groupField, 'a,b');
});

test('lock, unlock and delete touch only their user', () => {
  const doc = parsePasswd(SAMPLE);
  const locked = setLocked(doc, 'alice', true);
  assert.ok(locked.found);
  assert.match(serializePasswd(locked.doc), /^alice:\*:!\$5\$/);
  assert.equal(serializePasswd(setLocked(locked.doc, 'alice', false).doc), SAMPLE);
  assert.equal(serializePasswd(setLocked(doc, 'bob', true).doc), SAMPLE, 'locking twice adds no second "!"');
  const del = deleteUser(doc, 'bob');
  assert.ok(del.found);
  assert.equal(findEntry(del.doc, 'bob'), undefined);
  assert.equal(serializePasswd(del.doc), SAMPLE.replace(/^bob:.*\n/m, ''));
  assert.equal(deleteUser(doc, 'nobody').found, false);
  assert.equal(setLocked(doc, 'nobody', true).found, false);
});

const badNames = ['', 'a:b', 'a\nb', '#root', ' padded'];
for (const user of badNames) {
  test(`setUser refuses user name ${JSON.stringify(user)}`, () => {
    assert.throws(() => setUser(emptyPasswd(), user, '$6$x$y'), (e: unknown) => isWolfguardError(e, ErrorCodes.INVALID_ARGUMENT));
  });
}
test('setUser refuses a group with a colon', () => {
  assert.throws(() => setUser(emptyPasswd(), 'u', '$6$x$y', 'a:b'), (e: unknown) => isWolfguardError(e, ErrorCodes.INVALID_ARGUMENT));
});

const userArb = fc.stringMatching(/^[A-Za-z0-9._@-][A-Za-z0-9._@ -]{0,15}[A-Za-z0-9._@-]$|^[A-Za-z0-9._@-]$/);
const groupArb = fc.oneof(fc.constant('*'), fc.constant(''), fc.array(fc.stringMatching(/^[a-z][a-z0-9_-]{0,8}$/), { minLength: 1, maxLength: 3 }).map((g) => g.join(',')));
const hashArb = fc.oneof(fc.constant(''), fc.stringMatching(/^\$[56]\$[A-Za-z0-9./]{1,16}\$[A-Za-z0-9./]{1,86}$/));

test('round-trip: any document built with setUser/setLocked serializes and parses back equal', () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.tuple(userArb, groupArb, hashArb, fc.boolean()), { selector: (t) => t[0], maxLength: 8 }), fc.boolean(), (users, crlf) => {
      // An empty document has no line end to remember.
      let doc: PasswdDocument = { lines: [], crlf: crlf && users.length > 0 };
      for (const [u, g, h, locked] of users) doc = setLocked(setUser(doc, u, h, g).doc, u, locked).doc;
      const text = serializePasswd(doc);
      assert.deepEqual(parsePasswd(text), doc);
      assert.equal(serializePasswd(parsePasswd(text)), text);
    }),
  );
});

test('fuzz: parsePasswd returns or throws PASSWD_INVALID only', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom(':', '::', 'a::', 'a:b:c', '#', '\r', 'a:b:!')), { maxLength: 10 }), (lines) => {
      try {
        const doc = parsePasswd(lines.join('\n'));
        // What parsed serializes to text that parses to the same document.
        assert.deepEqual(parsePasswd(serializePasswd(doc)).lines, doc.lines);
      } catch (e) {
        assert.ok(isWolfguardError(e, ErrorCodes.PASSWD_INVALID), String(e));
      }
    }),
    { numRuns: 1000 },
  );
});
