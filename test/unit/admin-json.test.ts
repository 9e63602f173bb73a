// The admin socket's line protocol, pure parts: command validation, the
// capped line splitter, and the first-bytes sniff that picks HTTP or lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseCommandLine, isErrorReply, MAX_BLOCK_SECONDS } from '../../src/main/admin/json-command';
import { LineSplitter } from '../../src/main/admin/line-splitter';
import { sniffProtocol } from '../../src/main/admin/protocol-sniff';

const runs = Number(process.env.FUZZ_RUNS ?? 300);

test('valid commands parse, with their optional fields and id', () => {
  const cases: [string, unknown][] = [
    ['{"command":"block_ip","ip":"192.0.2.7"}', { command: 'block_ip', ip: '192.0.2.7' }],
    ['{"command":"block_ip","ip":"2001:db8::/48","reason":"scan","seconds":60,"id":7}', { command: 'block_ip', ip: '2001:db8::/48', reason: 'scan', seconds: 60, id: 7 }],
    ['  {"command":"unblock_ip","ip":"192.0.2.7","id":"a"}  ', { command: 'unblock_ip', ip: '192.0.2.7', id: 'a' }],
    ['{"command":"reload_rules"}', { command: 'reload_rules' }],
    ['{"command":"show_rules"}', { command: 'show_rules' }],
    ['{"command":"show_users","id":0}', { command: 'show_users', id: 0 }],
  ];
  for (const [line, want] of cases) assert.deepEqual(parseCommandLine(line), want, line);
  assert.equal(parseCommandLine(''), undefined);
  assert.equal(parseCommandLine('   \t'), undefined);
});

test('bad lines become error replies that say what is wrong', () => {
  const cases: [string, RegExp, string?][] = [
    ['hello', /^not JSON/],
    ['{"command":', /^not JSON/],
    ['[1,2]', /expected a JSON object/],
    ['"block_ip"', /expected a JSON object/],
    ['null', /expected a JSON object/],
    ['{}', /"command" is required/],
    ['{"command":5}', /"command" is required/],
    ['{"command":"rm_rf"}', /unknown command "rm_rf" \(known: block_ip, unblock_ip, reload_rules, show_rules, show_users\)/],
    ['{"command":"block_ip"}', /"ip" is required/, 'block_ip'],
    ['{"command":"block_ip","ip":""}', /"ip" is required/, 'block_ip'],
    ['{"command":"block_ip","ip":42}', /"ip" is required/, 'block_ip'],
    [`{"command":"block_ip","ip":"${'1'.repeat(65)}"}`, /longer than 64/, 'block_ip'],
    ['{"command":"block_ip","ip":"1.2.3.4","seconds":0}', /"seconds" must be a whole number/, 'block_ip'],
    ['{"command":"block_ip","ip":"1.2.3.4","seconds":1.5}', /"seconds" must be a whole number/, 'block_ip'],
    [`{"command":"block_ip","ip":"1.2.3.4","seconds":${MAX_BLOCK_SECONDS + 1}}`, /"seconds" must be a whole number/, 'block_ip'],
    ['{"command":"block_ip","ip":"1.2.3.4","reason":{}}', /"reason" must be a string/, 'block_ip'],
    ['{"command":"unblock_ip","ip":"1.2.3.4","reason":"x"}', /unknown key "reason" for unblock_ip/, 'unblock_ip'],
    ['{"command":"show_users","verbose":true}', /unknown key "verbose"/, 'show_users'],
    ['{"command":"show_users","id":{}}', /"id" must be/],
    ['{"command":"show_users","id":"' + 'x'.repeat(65) + '"}', /"id" must be/],
  ];
  for (const [line, re, command] of cases) {
    const r = parseCommandLine(line);
    assert.ok(r !== undefined && isErrorReply(r), line);
    assert.equal(r.status, 'error');
    assert.match(r.message, re, line);
    assert.equal(r.command, command, line);
  }
  const withId = parseCommandLine('{"command":"nope","id":"q1"}');
  assert.ok(withId !== undefined && isErrorReply(withId));
  assert.equal(withId.id, 'q1');
});

test('fuzz: any line gives undefined, a command or an error reply; never throws', () => {
  const json = fc.oneof(
    fc.json(),
    fc.record({ command: fc.constantFrom('block_ip', 'unblock_ip', 'reload_rules', 'show_rules', 'show_users', 'x'), ip: fc.oneof(fc.string(), fc.ipV4(), fc.ipV6(), fc.integer()), seconds: fc.oneof(fc.integer(), fc.double()), reason: fc.string(), id: fc.oneof(fc.string(), fc.integer(), fc.object()) }, { requiredKeys: ['command'] }).map((o) => JSON.stringify(o)),
    fc.string(),
  );
  fc.assert(
    fc.property(json, (line) => {
      const r = parseCommandLine(line);
      if (r === undefined) return assert.equal(line.trim(), '');
      if (isErrorReply(r)) return assert.equal(typeof r.message, 'string');
      assert.ok(['block_ip', 'unblock_ip', 'reload_rules', 'show_rules', 'show_users'].includes(r.command));
      // Whatever parses must serialise back as one line.
      assert.ok(!JSON.stringify(r).includes('\n'));
    }),
    { numRuns: runs },
  );
});

test('LineSplitter: lines across chunks, CRLF, a last line without newline, the cap', () => {
  const s = new LineSplitter(10);
  assert.deepEqual(s.push(Buffer.from('ab')), []);
  assert.deepEqual(s.push(Buffer.from('c\r\nde\n\nf')), [
    { kind: 'line', text: 'abc' },
    { kind: 'line', text: 'de' },
    { kind: 'line', text: '' },
  ]);
  assert.deepEqual(s.end(), [{ kind: 'line', text: 'f' }]);
  const t = new LineSplitter(10);
  assert.deepEqual(t.push(Buffer.from('0123456789\n')), [{ kind: 'line', text: '0123456789' }], 'exactly the cap is fine');
  assert.deepEqual(t.push(Buffer.from('0123456')), []);
  assert.deepEqual(t.push(Buffer.from('789ab')), [], 'over the cap: nothing yet, the rest is discarded');
  assert.deepEqual(t.push(Buffer.from('cdef\nok\n')), [{ kind: 'too_long', bytes: 16 }, { kind: 'line', text: 'ok' }]);
  assert.deepEqual(t.push(Buffer.from('x'.repeat(50))), []);
  assert.deepEqual(t.end(), [{ kind: 'too_long', bytes: 50 }]);
});

test('fuzz: LineSplitter gives the same lines however the stream is cut, and never holds more than the cap', () => {
  fc.assert(
    fc.property(fc.array(fc.string({ maxLength: 30 }).map((x) => x.replace(/\n/g, '')), { maxLength: 10 }), fc.array(fc.nat(200), { maxLength: 8 }), fc.integer({ min: 1, max: 25 }), (lines, cuts, max) => {
      const data = Buffer.from(lines.map((l) => `${l}\n`).join(''));
      // The cap counts the bytes before the newline, a trailing \r included.
      const want = lines.map((l) => (Buffer.byteLength(l) <= max ? 'line' : 'too_long'));
      const s = new LineSplitter(max);
      const got: string[] = [];
      let at = 0;
      for (const c of [...cuts.map((x) => x % (data.length + 1)).sort((a, b) => a - b), data.length]) {
        for (const ev of s.push(data.subarray(at, Math.max(at, c)))) got.push(ev.kind);
        at = Math.max(at, c);
      }
      for (const ev of s.end()) got.push(ev.kind);
      assert.deepEqual(got, want);
    }),
    { numRuns: runs },
  );
});

test('sniff: HTTP methods go to HTTP, everything else to the line protocol', () => {
  const cases: [string, string][] = [
    ['GET / HTTP/1.1\r\n', 'http'],
    ['POST /bans?prefix=1.2.3.4 HTTP/1.1', 'http'],
    ['G', 'undecided'],
    ['OPTIONS', 'undecided'],
    ['{"command":"show_users"}\n', 'json'],
    ['{', 'json'],
    [' {"command":"x"}', 'json'],
    ['\n', 'json'],
    ['get / HTTP/1.1', 'json'],
    ['HELLO\n', 'json'],
    ['ABCDEFGHIJKLMNOPQ', 'json'],
    ['\u0000\u0001', 'json'],
  ];
  for (const [head, want] of cases) assert.equal(sniffProtocol(Buffer.from(head)), want, JSON.stringify(head));
  assert.equal(sniffProtocol(Buffer.alloc(0)), 'undecided');
});
