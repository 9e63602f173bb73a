// The profile recipe's own pieces: perf/collapse.awk (perf script → folded
// stacks) and perf/flame.ts (folded stacks → SVG).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { parseFolded, renderFlame } from '../../perf/flame';

// From the compiled test (…/.build-x/test/unit or dist/test/unit) to the repository's perf/.
const AWK = path.join(__dirname, '..', '..', '..', 'perf', 'collapse.awk');

const PERF_SCRIPT = [
  'node 4242 [001] 100.000001:    1001001 cpu-clock: ',
  '\t    7f00aa0011 wolfSSL_read+0x1a (/work/native/build/Release/wolfguard.node)',
  '\t    7f00aa0022 Connection::OnReadable+0x40 (/work/native/build/Release/wolfguard.node)',
  '\t    55d0000033 uv__io_poll+0x3f0 (/usr/bin/node)',
  '',
  'node 4242 [000] 100.001001:    1001001 cpu-clock: ',
  '\t    7f00aa0011 wolfSSL_read+0x1a (/work/native/build/Release/wolfguard.node)',
  '\t    7f00aa0022 Connection::OnReadable+0x40 (/work/native/build/Release/wolfguard.node)',
  '\t    55d0000033 uv__io_poll+0x3f0 (/usr/bin/node)',
  '',
  'ocserv-wm 77 [000] 100.002001:    1001001 cpu-clock: ',
  '\t    ffffffff81000001 [unknown] ([kernel.kallsyms])',
  '\t    7f11000002 LazyCompile:*send a;b.js:1+0x2 (/tmp/perf-77.map)',
  '',
].join('\n');

test('collapse.awk: perf script samples to folded stacks, outermost first', () => {
  const out = execFileSync('awk', ['-f', AWK], { input: PERF_SCRIPT, encoding: 'utf8' });
  const lines = out.trim().split('\n').sort();
  assert.deepEqual(lines, ['node;uv__io_poll;Connection::OnReadable;wolfSSL_read 2', 'ocserv-wm;LazyCompile:*send a:b.js:1;[kernel.kallsyms] 1']);
});

test('parseFolded: sums counts along every path, skips junk lines', () => {
  const root = parseFolded('a;b;c 3\na;b 2\na;d 1\n\nnot a line\nx 4\n');
  assert.equal(root.value, 10);
  const a = root.children.get('a')!;
  assert.equal(a.value, 6);
  assert.equal(a.children.get('b')!.value, 5);
  assert.equal(a.children.get('b')!.children.get('c')!.value, 3);
  assert.equal(root.children.get('x')!.value, 4);
});

test('renderFlame: one frame per node, names escaped, tooltips carry counts', () => {
  const svg = renderFlame(parseFolded('main;<tls> 3\nmain;pump 1\n'), 'wg & co');
  assert.ok(svg.includes('wg &amp; co'));
  assert.ok(svg.includes('&lt;tls&gt; (3 samples, 75.00%)'));
  assert.equal((svg.match(/<rect x=/g) ?? []).length, 4); // all, main, <tls>, pump
});

test('parseFolded + renderFlame: any text, never throws', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (s) => {
      const svg = renderFlame(parseFolded(s), s);
      assert.ok(svg.startsWith('<svg'));
    }),
  );
});
