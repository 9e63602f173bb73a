// geofilter.conf parsing: the four directives, comments and quoting, errors
// that name file, line and token, shadowed blocks, and junk that never throws
// anything but a WolfguardError.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseGeofilter, contains, MAX_GEOFILTER_LINE, type GeofilterProblem } from '../../src/main/admission/geofilter-config';
import { parsePrefix } from '../../src/common/address';
import { ErrorCodes, isWolfguardError, type WolfguardError } from '../../src/common/errors';

const FILE = '/etc/wolfguard/geofilter.conf';
const runs = Number(process.env.FUZZ_RUNS ?? 300);

function problems(text: string): GeofilterProblem[] {
  try {
    parseGeofilter(text, FILE);
  } catch (e) {
    assert.ok(isWolfguardError(e, ErrorCodes.CONFIG_INVALID), String(e));
    return (e as WolfguardError).details.problems as GeofilterProblem[];
  }
  assert.fail(`expected an error for ${JSON.stringify(text)}`);
}

test('a full file parses: subnets, countries, comments, quoting, IPv6, CRLF', () => {
  const text = [
    '# geofilter for the test gateway',
    '',
    'block 203.0.113.0/24 "scanner range"   # trailing comment',
    '\tallow   198.51.100.7 "one host"',
    'block-country xx "no customers # there"',
    'allow-country DE "head \\"office\\""',
    'block 2001:db8:bad::/48',
    'allow ::ffff:192.0.2.0/120 "mapped form is IPv4"',
  ].join('\r\n');
  const g = parseGeofilter(text, FILE);
  assert.equal(g.source, FILE);
  assert.deepEqual(
    g.prefixes.map((p) => [p.action, p.target, p.description, p.line, p.id]),
    [
      ['block', '203.0.113.0/24', 'scanner range', 3, 'block:203.0.113.0/24'],
      ['allow', '198.51.100.7/32', 'one host', 4, 'allow:198.51.100.7/32'],
      ['block', '2001:db8:bad::/48', '', 7, 'block:2001:db8:bad::/48'],
      ['allow', '192.0.2.0/24', 'mapped form is IPv4', 8, 'allow:192.0.2.0/24'],
    ],
  );
  assert.deepEqual(
    g.countries.map((c) => [c.action, c.country, c.description, c.line, c.id]),
    [
      ['block', 'XX', 'no customers # there', 5, 'block-country:XX'],
      ['allow', 'DE', 'head "office"', 6, 'allow-country:DE'],
    ],
  );
  assert.deepEqual(g.warnings, []);
});

test('errors name the file, the line and the token', () => {
  const cases: { name: string; text: string; line: number; token: string; re: RegExp }[] = [
    { name: 'unknown directive', text: 'deny 10.0.0.0/8', line: 1, token: 'deny', re: /unknown directive/ },
    { name: 'missing target', text: '\nblock', line: 2, token: 'block', re: /needs an address or prefix/ },
    { name: 'missing country', text: 'allow-country', line: 1, token: 'allow-country', re: /two-letter country code/ },
    { name: 'bad prefix', text: 'block 10.0.0.1/8 "x"', line: 1, token: '10.0.0.1/8', re: /host bits set.*10\.0\.0\.0\/8/ },
    { name: 'not an address', text: 'allow example.com', line: 1, token: 'example.com', re: /not an IPv4 or IPv6 address/ },
    { name: 'long v4 length', text: 'block 10.0.0.0/33', line: 1, token: '10.0.0.0/33', re: /exceeds 32/ },
    { name: 'long v6 length', text: 'block 2001:db8::/129', line: 1, token: '2001:db8::/129', re: /exceeds 128/ },
    { name: 'three-letter country', text: 'block-country DEU', line: 1, token: 'DEU', re: /two-letter/ },
    { name: 'digits as country', text: 'block-country 12', line: 1, token: '12', re: /two-letter/ },
    { name: 'unquoted description', text: 'block 10.0.0.0/8 scanners', line: 1, token: 'scanners', re: /double quotes/ },
    { name: 'extra token', text: 'block 10.0.0.0/8 "a" "b"', line: 1, token: 'b', re: /unexpected text/ },
    { name: 'unterminated quote', text: 'block 10.0.0.0/8 "oops', line: 1, token: '"oops', re: /unterminated/ },
    { name: 'quoted target', text: 'block "10.0.0.0/8"', line: 1, token: '10.0.0.0/8', re: /quoted string/ },
    { name: 'quoted directive', text: '"block" 10.0.0.0/8', line: 1, token: 'block', re: /unknown directive/ },
    { name: 'text glued to quote', text: 'block 10.0.0.0/8 "a"b', line: 1, token: '"a"b', re: /after a closing quote/ },
    { name: 'duplicate subnet', text: 'block 10.0.0.0/8\nblock 10.0.0.0/8 "again"', line: 2, token: '10.0.0.0/8', re: /already on line 1/ },
    { name: 'duplicate country', text: 'allow-country de\nallow-country DE', line: 2, token: 'DE', re: /already on line 1/ },
    { name: 'control character', text: 'block 10.0.0.0/8 "a\u0001"', line: 1, token: '\u0001', re: /control character U\+0001/ },
    { name: 'long line', text: `block 10.0.0.0/8 "${'a'.repeat(MAX_GEOFILTER_LINE)}"`, line: 1, token: 'block 10.0.0.0/8 "' + 'a'.repeat(42), re: /longer than/ },
  ];
  for (const c of cases) {
    const p = problems(c.text);
    assert.equal(p.length, 1, `${c.name}: ${JSON.stringify(p)}`);
    assert.equal(p[0]!.line, c.line, c.name);
    assert.equal(p[0]!.token, c.token, c.name);
    assert.match(p[0]!.message, c.re, c.name);
  }
});

test('the error message lists every problem as file:line with the token', () => {
  try {
    parseGeofilter('block 10.0.0.0/8\nfoo bar\nblock-country ZZZ "x"\n', FILE);
    assert.fail('expected an error');
  } catch (e) {
    assert.ok(isWolfguardError(e));
    assert.match(e.message, /^\/etc\/wolfguard\/geofilter\.conf:2: unknown directive .*\(at "foo"\)$/m);
    assert.match(e.message, /^\/etc\/wolfguard\/geofilter\.conf:3: not a two-letter country code.*\(at "ZZZ"\)$/m);
    assert.equal(e.details.line, 2);
    assert.equal(e.details.token, 'foo');
  }
});

test('allow beats block: blocks inside an allow are dropped with a warning, wider blocks stay', () => {
  const g = parseGeofilter(
    ['block 10.1.2.0/24 "inside the allow"', 'allow 10.1.0.0/16', 'block 10.0.0.0/8 "wider"', 'block 10.1.0.0/16 "same prefix"', 'block-country XX', 'allow-country xx', 'block 2001:db8:1::/48', 'allow 2001:db8::/32'].join('\n'),
    FILE,
  );
  assert.deepEqual(
    g.prefixes.map((p) => p.id),
    ['allow:10.1.0.0/16', 'block:10.0.0.0/8', 'allow:2001:db8::/32'],
  );
  assert.equal(g.warnings.length, 4);
  assert.ok(g.warnings.some((w) => /geofilter\.conf:1: block 10\.1\.2\.0\/24 never matches: allow 10\.1\.0\.0\/16 \(line 2\)/.test(w)));
  assert.ok(g.warnings.some((w) => /:4: block 10\.1\.0\.0\/16 never matches/.test(w)));
  assert.ok(g.warnings.some((w) => /:5: block-country XX never matches/.test(w)));
  assert.ok(g.warnings.some((w) => /:7: block 2001:db8:1::\/48 never matches/.test(w)));
  // Country rules stay as written; the filter applies allow-first.
  assert.equal(g.countries.length, 2);
});

test('contains(): same family only, nesting, equal, /0', () => {
  const P = parsePrefix;
  const cases: [string, string, boolean][] = [
    ['10.0.0.0/8', '10.1.0.0/16', true],
    ['10.1.0.0/16', '10.0.0.0/8', false],
    ['10.0.0.0/8', '10.0.0.0/8', true],
    ['10.0.0.0/8', '11.0.0.0/16', false],
    ['0.0.0.0/0', '192.0.2.1/32', true],
    ['::/0', '192.0.2.1/32', false],
    ['2001:db8::/32', '2001:db8:ffff::/48', true],
    ['2001:db8::/33', '2001:db8:8000::/48', false],
    ['2001:db8::/127', '2001:db8::1/128', true],
    ['10.0.0.0/31', '10.0.0.1/32', true],
    ['128.0.0.0/1', '127.0.0.0/8', false],
  ];
  for (const [outer, inner, want] of cases) assert.equal(contains(P(outer), P(inner)), want, `${outer} ⊇ ${inner}`);
});

test('fuzz: any text gives rules or a CONFIG_INVALID error, never another exception', () => {
  const words = fc.constantFrom('block', 'allow', 'block-country', 'allow-country', '#', '"', '10.0.0.0/8', '2001:db8::/32', 'DE', 'x', '"desc"', '\\"', '/', '::', '\t', ' ', '\n', '\r\n');
  const line = fc.oneof(fc.array(words, { maxLength: 8 }).map((w) => w.join(' ')), fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }));
  fc.assert(
    fc.property(fc.array(line, { maxLength: 12 }), (lines) => {
      try {
        const g = parseGeofilter(lines.join('\n'), FILE);
        for (const p of g.prefixes) assert.ok(p.line >= 1 && p.line <= lines.join('\n').split(/\r?\n/).length);
        for (const c of g.countries) assert.match(c.country, /^[A-Z]{2}$/);
      } catch (e) {
        assert.ok(isWolfguardError(e, ErrorCodes.CONFIG_INVALID), `unexpected ${String(e)}`);
        assert.match(e.message, /geofilter\.conf:\d+: /);
      }
    }),
    { numRuns: runs },
  );
});

test('fuzz: a written rule reads back as written', () => {
  const v4 = fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 })).map(([a, len]) => {
    const masked = len === 0 ? 0 : (a & (~0 << (32 - len))) >>> 0;
    return `${masked >>> 24}.${(masked >>> 16) & 255}.${(masked >>> 8) & 255}.${masked & 255}/${len}`;
  });
  const desc = fc.string({ maxLength: 30 }).filter((s) => !/[\u0000-\u001f\u007f]/.test(s));
  fc.assert(
    fc.property(fc.constantFrom('block', 'allow'), v4, desc, (action, prefix, d) => {
      const quoted = `"${d.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
      const g = parseGeofilter(`${action} ${prefix} ${quoted}`, FILE);
      assert.equal(g.prefixes.length, 1);
      assert.equal(g.prefixes[0]!.target, prefix);
      assert.equal(g.prefixes[0]!.description, d);
    }),
    { numRuns: runs },
  );
});
