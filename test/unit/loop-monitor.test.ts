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

/** Runs `body` with a fresh monitor, stopped afterwards whatever happens. */
async function withMonitor(body: (m: LoopMonitor) => Promise<void> | void): Promise<void> {
  const m = new LoopMonitor();
  try {
    await body(m);
  } finally {
    m.stop();
  }
}

/** Waits `leadMs` (0: blocks at once), blocks the loop for BLOCK_MS, lets the timer fire late once and then on time, and reads. */
async function readAfterBlock(m: LoopMonitor, leadMs: number): Promise<ReturnType<LoopMonitor['read']>> {
  if (leadMs > 0) await tick(leadMs);
  blockLoop(BLOCK_MS);
  await tick(LAG_RESOLUTION_MS * 2);
  return m.read();
}

function assertBlockReported(lagP99Ms: number | undefined): void {
  assert.ok(lagP99Ms !== undefined && lagP99Ms >= BLOCK_MS - 2 * LAG_RESOLUTION_MS, `lag p99 ${lagP99Ms} ms after a ${BLOCK_MS} ms block`);
}

test('the first read starts the monitor and reports nothing; the next reports a blocked loop as late and busy', () =>
  withMonitor(async (m) => {
    assert.deepEqual(m.read(), {});
    const f = await readAfterBlock(m, LAG_RESOLUTION_MS / 2);
    assertBlockReported(f.lagP99Ms);
    assert.ok(f.loopUtilization !== undefined && f.loopUtilization > 0.25 && f.loopUtilization <= 1, `utilization ${f.loopUtilization}`);
  }));

test('each read reports only the time since the previous one: a quiet spell after the block is not late', () =>
  withMonitor(async (m) => {
    m.read();
    await readAfterBlock(m, LAG_RESOLUTION_MS / 2);
    await tick(LAG_RESOLUTION_MS * 3);
    const f = m.read();
    assert.ok(f.lagP99Ms !== undefined && f.lagP99Ms < BLOCK_MS - 2 * LAG_RESOLUTION_MS, `lag p99 ${f.lagP99Ms} ms with nothing blocking`);
    assert.ok(f.loopUtilization !== undefined && f.loopUtilization < 0.4, `utilization ${f.loopUtilization}`);
  }));

test('a stall right after a read is reported by the next one (the read does not open a blind period)', () =>
  withMonitor(async (m) => {
    m.read();
    await tick(LAG_RESOLUTION_MS * 2);
    m.read();
    // The block starts before the timer's first firing after that read.
    assertBlockReported((await readAfterBlock(m, 0)).lagP99Ms);
  }));

test('two reads within one period report no lag, not a negative or NaN one', () =>
  withMonitor((m) => {
    m.read();
    assert.equal(m.read().lagP99Ms, 0);
  }));
