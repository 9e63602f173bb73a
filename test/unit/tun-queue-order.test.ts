// The kernel's TUN queue numbering as the steering program must follow it:
// queues numbered in attach order; a closed queue's index taken by the last.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QueueOrder } from '../../native/lib/tun-steering';

test('queues start in the order the shards opened them', () => {
  assert.deepEqual(new QueueOrder(4).indexes(), [0, 1, 2, 3]);
});

test('a restarted shard takes the last index; the last queue moves into its place', () => {
  const q = new QueueOrder(4);
  assert.deepEqual(q.reattached(1), [[3, 1], [1, 3]]);
  assert.deepEqual(q.indexes(), [0, 3, 2, 1]);
  // The last one restarting keeps its index.
  assert.deepEqual(q.reattached(1), [[1, 3]]);
  assert.deepEqual(q.indexes(), [0, 3, 2, 1]);
  assert.deepEqual(q.reattached(0), [[1, 0], [0, 3]]);
  assert.deepEqual(q.indexes(), [3, 0, 2, 1]);
});

test('one queue, and bad input', () => {
  const q = new QueueOrder(1);
  assert.deepEqual(q.reattached(0), [[0, 0]]);
  assert.throws(() => q.reattached(1), { code: 'WG_INVALID_ARGUMENT' });
  assert.throws(() => new QueueOrder(0), { code: 'WG_INVALID_ARGUMENT' });
  assert.throws(() => new QueueOrder(257), { code: 'WG_INVALID_ARGUMENT' });
});
