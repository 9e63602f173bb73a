// ocserv's config syntax as its bundled inih reads it: separators, comments,
// continuations, sections, quote stripping, and errors with line numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_LINE_CHARS, sanitizeValue, tokenizeConfig } from '../../src/main/config/ocserv-syntax';
import { ErrorCodes, isWolfguardError, type WolfguardError } from '../../src/common/errors';

const tokenCases: Array<{ name: string; text: string; want: Array<[string, string, number]> }> = [
  { name: 'key = value', text: 'tcp-port = 443\n', want: [['tcp-port', '443', 1]] },
  { name: 'no blanks around =', text: 'tcp-port=443', want: [['tcp-port', '443', 1]] },
  { name: 'colon separator', text: 'dpd: 90\n', want: [['dpd', '90', 1]] },
  { name: 'first of = and : splits', text: 'listen-host = ::1\n', want: [['listen-host', '::1', 1]] },
  { name: 'colon before equals splits there', text: 'a:b = c\n', want: [['a', 'b = c', 1]] },
  { name: 'hash and semicolon comments, blank lines', text: '# c\n; c\n\n   \nmtu = 1400\n', want: [['mtu', '1400', 5]] },
  { name: 'inline comment needs whitespace before #', text: 'banner = hi # there\nbanner2 = a#b\n', want: [['banner', 'hi', 1], ['banner2', 'a#b', 2]] },
  { name: 'semicolon is not an inline comment', text: 'x = a ; b\n', want: [['x', 'a ; b', 1]] },
  { name: 'quotes stripped at both ends only', text: 'auth = "plain[passwd=/etc/ocserv/ocpasswd]"\n', want: [['auth', 'plain[passwd=/etc/ocserv/ocpasswd]', 1]] },
  { name: 'every leading/trailing quote and blank goes', text: 'x = " "a "b" "" \n', want: [['x', 'a "b', 1]] },
  { name: 'repeated keys all come out', text: 'route = 10.0.0.0/8\nroute = 192.168.0.0/16\n', want: [['route', '10.0.0.0/8', 1], ['route', '192.168.0.0/16', 2]] },
  { name: 'indented line continues the previous key', text: 'route = 10.0.0.0/8\n  # not a comment? it is\n\t192.168.0.0/16\n', want: [['route', '10.0.0.0/8', 1], ['route', '192.168.0.0/16', 3]] },
  { name: 'continuation keeps # and = literally', text: 'dns = 1.1.1.1\n  x = y # z\n', want: [['dns', '1.1.1.1', 1], ['dns', 'x = y # z', 2]] },
  { name: 'indented first line is a normal pair', text: '   tcp-port = 443\n', want: [['tcp-port', '443', 1]] },
  { name: 'CRLF line ends', text: 'a = 1\r\nb = 2\r\n', want: [['a', '1', 1], ['b', '2', 2]] },
  { name: 'BOM on the first line', text: '\uFEFFa = 1\n', want: [['a', '1', 1]] },
  { name: 'empty value', text: 'banner =\n', want: [['banner', '', 1]] },
  { name: 'value of only quotes is empty', text: 'banner = ""\n', want: [['banner', '', 1]] },
];

for (const c of tokenCases) {
  test(`tokenizer: ${c.name}`, () => {
    const got = tokenizeConfig(c.text).map((t) => [t.key, t.value, t.line]);
    assert.deepEqual(got, c.want);
  });
}

test('tokenizer: sections are recorded and reset continuation', () => {
  const t = tokenizeConfig('a = 1\n[vhost:www.example.com]\n  b = 2\nc = 3\n');
  assert.deepEqual(
    t.map((x) => [x.key, x.value, x.line, x.section, x.continued]),
    [
      ['a', '1', 1, undefined, undefined],
      // The indented line after a section header has no previous key: a normal pair.
      ['b', '2', 3, 'vhost:www.example.com', undefined],
      ['c', '3', 4, 'vhost:www.example.com', undefined],
    ],
  );
});

test('tokenizer: continuation lines are flagged', () => {
  const t = tokenizeConfig('route = 10.0.0.0/8\n 10.1.0.0/16\n');
  assert.equal(t[1].continued, true);
  assert.equal(t[0].continued, undefined);
});

const errorCases: Array<{ name: string; text: string; line: number; match: RegExp }> = [
  { name: 'line without separator', text: 'a = 1\n\njust words\n', line: 3, match: /expected "key = value"/ },
  { name: 'comment before the separator', text: 'key # comment = 1\n', line: 1, match: /expected "key = value"/ },
  { name: 'missing key', text: '\n = 4\n', line: 2, match: /missing key/ },
  { name: 'unclosed section', text: 'a = 1\n[vhost:x\n', line: 2, match: /closing "\]"/ },
  { name: 'over-long line', text: `a = 1\nb = ${'x'.repeat(MAX_LINE_CHARS)}\n`, line: 2, match: /longer than 2047/ },
];

for (const c of errorCases) {
  test(`tokenizer error: ${c.name} (line ${c.line})`, () => {
    assert.throws(
      () => tokenizeConfig(c.text),
      (e: unknown) => isWolfguardError(e, ErrorCodes.CONFIG_INVALID) && e.details.line === c.line && c.match.test(e.message) && e.message.includes(`line ${c.line}`),
    );
  });
}

test('sanitizeValue strips blanks and quotes from both ends', () => {
  assert.equal(sanitizeValue('  "abc"  '), 'abc');
  assert.equal(sanitizeValue('""'), '');
  assert.equal(sanitizeValue('a"b'), 'a"b');
});

test('fuzz: the tokenizer returns tokens or throws CONFIG_INVALID, nothing else', () => {
  const line = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.constantFrom('', '#', ';', ' ', '\t', '=', ':', '[', ']', '"', '\r', 'a = b', ' x', '[s]', 'k="v"'),
  );
  fc.assert(
    fc.property(fc.array(line, { maxLength: 12 }), (lines) => {
      const text = lines.join('\n');
      try {
        const tokens = tokenizeConfig(text);
        for (const t of tokens) {
          assert.equal(typeof t.key, 'string');
          assert.ok(t.key.length > 0);
          assert.ok(Number.isInteger(t.line) && t.line >= 1);
          assert.ok(!/^[ \t\n\v\f\r"]|[ \t\n\v\f\r"]$/.test(t.value), `value ${JSON.stringify(t.value)} keeps blanks or quotes at an end`);
        }
      } catch (e) {
        assert.ok(isWolfguardError(e, ErrorCodes.CONFIG_INVALID), `unexpected ${String(e)}`);
        assert.equal(typeof (e as WolfguardError).details.line, 'number');
      }
    }),
    { numRuns: 2000 },
  );
});

test('fuzz: well-formed pairs come back as written (trimmed, unquoted)', () => {
  const key = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/);
  const value = fc.stringMatching(/^[A-Za-z0-9./_,[\]=-]([A-Za-z0-9./_,[\]=: -]{0,30}[A-Za-z0-9./_,[\]=-])?$/);
  fc.assert(
    fc.property(fc.array(fc.tuple(key, value), { maxLength: 10 }), (pairs) => {
      const text = pairs.map(([k, v]) => `${k} = "${v}"`).join('\n');
      assert.deepEqual(
        tokenizeConfig(text).map((t) => [t.key, t.value]),
        pairs,
      );
    }),
  );
});
