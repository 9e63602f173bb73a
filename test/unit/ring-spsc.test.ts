// The ring against a model (an array queue), batch I/O, bad arguments, and
// a producer and consumer in two different worker_threads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { createRing, ringConsumer, ringProducer } from '../../src/ring/spsc-ring';

test('behaves like a bounded FIFO queue (model-based)', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.uint8Array({ maxLength: 60 }), fc.constant(null)), { maxLength: 200 }), (ops) => {
      const sab = createRing(8, 64);
      const p = ringProducer(sab);
      const c = ringConsumer(sab);
      const model: Uint8Array[] = [];
      const buf = new Uint8Array(64);
      for (const op of ops) {
        if (op) {
          const ok = p.tryPush(op);
          assert.equal(ok, model.length < 8);
          if (ok) model.push(op);
        } else {
          const n = c.tryPop(buf);
          const want = model.shift();
          if (!want) assert.equal(n, -1);
          else assert.deepEqual(buf.subarray(0, n), want);
        }
        assert.equal(c.size(), model.length);
      }
    }),
  );
});

test('batch push/pop into caller buffers; oversized packets and bad shapes are refused', () => {
  const sab = createRing(4, 128);
  const p = ringProducer(sab);
  const c = ringConsumer(sab);
  const pkts = [1, 2, 3, 4, 5].map((i) => new Uint8Array(10).fill(i));
  assert.equal(p.pushBatch(pkts, pkts.map((x) => x.length)), 4);
  const bufs = Array.from({ length: 8 }, () => new Uint8Array(128));
  const lens: number[] = [];
  assert.equal(c.popBatch(bufs, lens), 4);
  assert.deepEqual(lens, [10, 10, 10, 10]);
  assert.equal(bufs[3]![0], 4);
  assert.equal(p.tryPush(new Uint8Array(125)), false, 'larger than slot - 4');
  assert.throws(() => createRing(6, 64), { code: 'WG_INVALID_ARGUMENT' });
  assert.throws(() => createRing(8, 100), { code: 'WG_INVALID_ARGUMENT' });
  assert.throws(() => ringConsumer(new SharedArrayBuffer(512)), { code: 'WG_INVALID_ARGUMENT' });
});

test('a producer worker and a consumer worker move 100000 sequenced packets in order', { timeout: 60_000 }, async () => {
  const sab = createRing(256, 64);
  const script = path.join(__dirname, '..', 'helpers', 'ring-worker.js');
  const count = 100_000;
  const consumer = new Worker(script, { workerData: { role: 'consumer', sab, count } });
  const producer = new Worker(script, { workerData: { role: 'producer', sab, count } });
  const [res] = await Promise.all([
    new Promise<{ received: number; outOfOrder: number }>((resolve, reject) => {
      consumer.once('message', resolve);
      consumer.once('error', reject);
    }),
    new Promise((resolve, reject) => {
      producer.once('message', resolve);
      producer.once('error', reject);
    }),
  ]);
  assert.deepEqual(res, { received: count, outOfOrder: 0 });
  const counters = ringConsumer(sab).counters();
  assert.equal(counters.pushed, BigInt(count));
  assert.equal(counters.popped, BigInt(count));
});
