// perf/late-packets.ts: the pure parts (perf script parsing, taking slow spans apart).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSched, slowSpans, type SchedEvent } from '../../perf/late-packets';
import type { CapturedPacket } from '../../bench/rtt/gateway-latency';

const SCRIPT = [
  '            node 17821 [000] 51577.356169: sched:sched_waking: comm=wg-plane pid=17170 prio=120 target_cpu=000',
  '   ksoftirqd/1    22 [001] 51577.356100: sched:sched_waking: comm=rcu_preempt pid=15 prio=120 target_cpu=001',
  '            node 17821 [000] 51577.356349: sched:sched_switch: prev_comm=node prev_pid=17821 prev_prio=120 prev_state=S ==> next_comm=wg-plane next_pid=17170 next_prio=120',
  'some other line perf prints',
  '   kworker/u4:1 99 [001] 51577.356200: irq:softirq_entry: vec=3 [action=NET_RX]',
].join('\n');

test('parseSched: waking and switch lines in time order, µs on perf clock; anything else skipped', () => {
  const ev = parseSched(SCRIPT);
  assert.deepEqual(ev, [
    { tUs: 51577356100, cpu: 1, comm: 'ksoftirqd/1', kind: 'waking', tid: 15, targetComm: 'rcu_preempt' },
    { tUs: 51577356169, cpu: 0, comm: 'node', kind: 'waking', tid: 17170, targetComm: 'wg-plane' },
    { tUs: 51577356349, cpu: 0, comm: 'node', kind: 'switch', tid: 17170, targetComm: 'wg-plane', prevComm: 'node' },
  ]);
  assert.deepEqual(parseSched(''), []);
});

test('slowSpans: a slow span is split at the woken thread\'s switch-in; fast spans only counted; offset maps capture time onto perf time', () => {
  const offset = 1_000_000; // capture (realtime) = perf (monotonic) + 1 s
  const sched: SchedEvent[] = parseSched(SCRIPT);
  const at = (perfUs: number) => perfUs + offset;
  const packets: CapturedPacket[] = [
    // fast: 30 µs
    { tUs: at(51577300000), kind: 'tlsIn' },
    { tUs: at(51577300030), kind: 'echoRequest' },
    // slow: record in 5 µs before the waking, out 40 µs after the switch-in
    { tUs: at(51577356164), kind: 'tlsIn' },
    { tUs: at(51577356389), kind: 'echoRequest' },
    // slow, and no wake-up of a data thread inside it
    { tUs: at(51577400000), kind: 'tlsIn' },
    { tUs: at(51577400500), kind: 'echoRequest' },
    // an echo request with no record before it is not a span
    { tUs: at(51577500000), kind: 'echoRequest' },
  ];
  const r = slowSpans(packets, sched, new Set(['wg-plane']), 200, offset);
  assert.equal(r.spans, 3);
  assert.deepEqual(r.slow, [{ spanUs: 225, waitUs: 180, runUs: 40, behind: 'node' }, { spanUs: 500 }]);
  // Another gateway's thread name: the wake-up is not its.
  assert.deepEqual(slowSpans(packets, sched, new Set(['ocserv-worker']), 200, offset).slow, [{ spanUs: 225 }, { spanUs: 500 }]);
});
