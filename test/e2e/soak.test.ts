// The soak (perf/soak/soak.ts) in small: login/logout cycles, then DPD,
// keepalive and reconnect churn, against the real gateway in namespaces.
// After each run the gateway holds no more fds than when idle, no session
// and no connection, and its RSS did not keep growing through the second
// half of the cycles (after a warm-up: the heap grows for the first few
// thousand logins, then levels off). `npm run soak` runs the full size (100,000 cycles, a
// day of DPDs) and records the figures. Needs root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSoak } from '../../perf/soak/soak';

/** RSS the second half of the cycles may add to the first half's (allocator and JIT noise, not a leak per cycle). */
const MAX_SECOND_HALF_GROWTH_KIB = 24 * 1024;
const CYCLES = 1500;
/** Cycles before the baseline: the heap grows for the first few thousand logins, then levels off (measured: +23, +10, +3, +3, +1 MiB per 1,500). */
const WARMUP_CYCLES = 3000;
const TUNNELS = 40;
const DPDS = 120;
const RECONNECT_EVERY = 40;

test(`soak in small: ${CYCLES} login/logout cycles and ${TUNNELS} tunnels × ${DPDS} DPDs with reconnects leave fds, sessions and RSS where they were`, { timeout: 600_000 }, async () => {
  assert.equal(process.getuid?.(), 0, 'end-to-end tests need root (network namespaces, TUN)');
  const r = await runSoak({ cycles: CYCLES, warmupCycles: WARMUP_CYCLES, concurrency: 8, tunnels: TUNNELS, dpds: DPDS, reconnectEvery: RECONNECT_EVERY, port: 4472, sampleMs: 250, tag: 'wgsoakt' });
  console.log(`soak measured: ${JSON.stringify({ base: r.base, after: r.after, phases: r.phases, cycles: { ...r.cycles, firstErrors: undefined }, churn: { ...r.churn, firstErrors: undefined } })}`);
  assert.equal(r.cycles.errors, 0, `cycle errors: ${r.cycles.firstErrors.join('; ')}`);
  assert.equal(r.cycles.done, CYCLES);
  assert.equal(r.churn.errors, 0, `churn errors: ${r.churn.firstErrors.join('; ')}`);
  assert.equal(r.churn.dpdsAnswered, TUNNELS * DPDS);
  assert.equal(r.churn.reconnects, TUNNELS * Math.floor((DPDS - 1) / RECONNECT_EVERY));
  assert.equal(r.after.sessions, 0, 'no session left');
  assert.equal(r.after.connections, 0, 'no connection left');
  assert.ok(r.after.fds <= r.base.fds, `${r.after.fds} fds after, ${r.base.fds} when idle; new: ${r.fdsNew.join(', ')}`);
  const growth = r.phases.cycles.endRssKiB - r.phases.cycles.midRssKiB;
  assert.ok(growth <= MAX_SECOND_HALF_GROWTH_KIB, `RSS grew ${growth} KiB in the second half of the cycles (middle ${r.phases.cycles.midRssKiB}, end ${r.phases.cycles.endRssKiB})`);
});
