// One side of the two-worker ring test: the producer pushes sequence numbers
// (spinning politely when full), the consumer checks they arrive in order.
import { parentPort, workerData } from 'node:worker_threads';
import { ringConsumer, ringProducer } from '../../src/ring/spsc-ring';

const { role, sab, count } = workerData as { role: 'producer' | 'consumer'; sab: SharedArrayBuffer; count: number };
const deadline = Date.now() + 50_000;

if (role === 'producer') {
  const p = ringProducer(sab);
  const pkt = new Uint8Array(8);
  const view = new DataView(pkt.buffer);
  for (let i = 0; i < count && Date.now() < deadline; ) {
    view.setUint32(0, i, true);
    // A full ring is not a drop for this test: back off and retry.
    if (p.size() < p.slotCount && p.tryPush(pkt)) i++;
    else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 0);
  }
  parentPort!.postMessage('done');
} else {
  const c = ringConsumer(sab);
  const buf = new Uint8Array(64);
  const view = new DataView(buf.buffer);
  let received = 0;
  let outOfOrder = 0;
  while (received < count && Date.now() < deadline) {
    if (c.tryPop(buf) < 0) {
      c.waitForData(10);
      continue;
    }
    if (view.getUint32(0, true) !== received) outOfOrder++;
    received++;
  }
  parentPort!.postMessage({ received, outOfOrder });
}
