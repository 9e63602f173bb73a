// The event-loop monitor behind the lag and utilization metrics: nothing on
// the first read (it starts then), then figures for the time between reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LAG_RESOLUTION_MS, LoopMonitor } from '../../src/workers/loop-monitor';

/** Longer than two timer periods, so the monitor's timer is due while the loop is blocked. */
const BLOCK_MS = 3 * LAG_RESOLUTION_MS;

function blockLoop(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    /* the loop cannot run the monitor's timer meanwhile */
  }
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('the first read starts the monitor and reports nothing; the next reports a blocked loop as late and busy', async () => {
  const m = new LoopMonitor();
  try {
    assert.deepEqual(m.read(), {});
    await tick(LAG_RESOLUTION_MS / 2);
    blockLoop(BLOCK_MS);
    await tick(LAG_RESOLUTION_MS * 2); // the timer fires late once, then again on time
    const f = m.read();
    assert.ok(f.lagP99Ms !== undefined && f.lagP99Ms >= BLOCK_MS - 2 * LAG_RESOLUTION_MS, `lag p99 ${f.lagP99Ms} ms after a ${BLOCK_MS} ms block`);
    assert.ok(f.loopUtilization !== undefined && f.loopUtilization > 0.25 && f.loopUtilization <= 1, `utilization ${f.loopUtilization}`);
  } finally {
    m.stop();
  }
});

test('each read reports only the time since the previous one: a quiet spell after the block is not late', async () => {
  const m = new LoopMonitor();
  try {
    m.read();
    await tick(LAG_RESOLUTION_MS / 2);
    blockLoop(BLOCK_MS);
    await tick(LAG_RESOLUTION_MS * 2);
    m.read();
    await tick(LAG_RESOLUTION_MS * 3);
    const f = m.read();
    assert.ok(f.lagP99Ms !== undefined && f.lagP99Ms < BLOCK_MS - 2 * LAG_RESOLUTION_MS, `lag p99 ${f.lagP99Ms} ms with nothing blocking`);
    assert.ok(f.loopUtilization !== undefined && f.loopUtilization < 0.4, `utilization ${f.loopUtilization}`);
  } finally {
    m.stop();
  }
});

test('a stall right after a read is reported by the next one (the read does not open a blind period)', async () => {
  const m = new LoopMonitor();
  try {
    m.read();
    await tick(LAG_RESOLUTION_MS * 2);
    m.read();
    blockLoop(BLOCK_MS); // before the timer's first firing after that read
    await tick(LAG_RESOLUTION_MS * 2);
    const f = m.read();
    assert.ok(f.lagP99Ms !== undefined && f.lagP99Ms >= BLOCK_MS - 2 * LAG_RESOLUTION_MS, `lag p99 ${f.lagP99Ms} ms after a ${BLOCK_MS} ms block`);
  } finally {
    m.stop();
  }
});

test('two reads within one period report no lag, not a negative or NaN one', async () => {
  const m = new LoopMonitor();
  try {
    m.read();
    const f = m.read();
    assert.equal(f.lagP99Ms, 0);
  } finally {
    m.stop();
  }
});
