// Every parser of network and file input, fed its checked-in corpus (seeds
// and past crashes: regression tests) and then generated inputs. A failing
// generated input is printed with its seed; `npm run fuzz` saves such inputs
// into the corpus. FUZZ_RUNS raises the number of generated inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TARGETS, inputs, guarded } from '../fuzz/targets';
import { readCorpus } from '../fuzz/corpus';
import { WolfguardError } from '../../src/common/errors';
import { parseAuthRequestBody } from '../../src/protocol/auth-xml';

/** Generated inputs per target in `npm test`: enough to catch a regression, quick on 2 cores. */
const DEFAULT_RUNS = 300;
const runs = Number(process.env.FUZZ_RUNS ?? DEFAULT_RUNS);

for (const t of TARGETS) {
  test(`fuzz ${t.name}: corpus replays clean`, () => {
    const corpus = readCorpus(t.name);
    assert.ok(corpus.length > 0, `no corpus for ${t.name}`);
    for (const c of corpus) t.check(c.data);
  });

  test(`fuzz ${t.name}: generated inputs keep the invariants`, () => {
    const corpus = readCorpus(t.name).map((c) => c.data);
    fc.assert(
      fc.property(inputs(t, corpus), (b) => t.check(b)),
      { numRuns: runs },
    );
  });
}

// The checker itself must be able to fail, or the tests above prove nothing.
test('fuzz harness: a non-WolfguardError, a slow call are caught', () => {
  const b = Buffer.from('x');
  assert.throws(() => guarded('t', b, () => JSON.parse('{')), /threw SyntaxError/);
  assert.throws(() => guarded('t', b, () => {
    const end = performance.now() + 400;
    while (performance.now() < end);
  }), /took/);
  assert.equal(guarded('t', b, () => {
    throw new WolfguardError('WG_PROTOCOL', 'fine');
  }), undefined);
});

test('fuzz harness: a known bad input is rejected as WolfguardError', () => {
  assert.throws(() => parseAuthRequestBody('<config-auth type="nope"/>'), WolfguardError);
});
