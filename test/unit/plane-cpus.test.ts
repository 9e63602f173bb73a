import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planeCpus, PLANE_CPUS_ENV } from '../../src/main/plane-cpus';
import { ErrorCodes, isWolfguardError } from '../../src/common/errors';

test('auto (the default) gives shard i the i-th allowed CPU when there is one per shard, kept while two carry packets; always keeps them there', () => {
  for (const [spec, keep] of [[undefined, 'shared'], ['', 'shared'], [' ', 'shared'], ['auto', 'shared'], ['always', 'always'], [' always ', 'always']] as const) {
    assert.deepEqual(planeCpus(spec, 2, [0, 1]), { cpus: [0, 1], keep }, String(spec));
    assert.deepEqual(planeCpus(spec, 2, [2, 5, 7]), { cpus: [2, 5], keep }, 'a cpuset narrower than the machine');
    assert.equal(planeCpus(spec, 3, [0, 1]), undefined, 'more shards than CPUs: the scheduler shares them');
  }
  assert.equal(planeCpus('off', 2, [0, 1]), undefined);
});

test('a list (ranges too) is dealt to the shards in turn and kept always; each CPU must be one the process may use', () => {
  assert.deepEqual(planeCpus('1', 3, [0, 1]), { cpus: [1, 1, 1], keep: 'always' });
  assert.deepEqual(planeCpus('2-3,0', 4, [0, 1, 2, 3]), { cpus: [2, 3, 0, 2], keep: 'always' });
  assert.deepEqual(planeCpus(' 1 , 0 ', 2, [0, 1]), { cpus: [1, 0], keep: 'always' });
});

test('anything else is CONFIG_INVALID, naming the variable and the problem', () => {
  const cases: Array<[string, RegExp]> = [
    ['x', /expected auto, always, off or a list of CPUs/],
    ['-1', /expected auto, always, off or a list/],
    ['0,,1', /expected auto, always, off or a list/],
    ['1.5', /expected auto, always, off or a list/],
    ['99999', /expected auto, always, off or a list/],
    ['3-1', /the range 3-1 runs backwards/],
    ['0,4', /CPU 4 is not one this process may run on \(0,1\)/],
    ['0-9999', /CPU 2,3,4,5,6,7,8,9,… is not one/],
  ];
  for (const [spec, why] of cases) {
    assert.throws(() => planeCpus(spec, 2, [0, 1]), (e: unknown) => isWolfguardError(e, ErrorCodes.CONFIG_INVALID) && (e as Error).message.startsWith(`${PLANE_CPUS_ENV}: `) && why.test((e as Error).message), spec);
  }
});
