// The bench's pure helpers: echo-reply matching, pacing, latency summaries,
// the load plot, /proc field parsing, the RTT row's turns and merging.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseEchoReplyV4 } from '../../bench/rtt/echo-reply';
import { packetsDue } from '../../bench/rtt/pacing';
import { encodeRtt, newRttHistogram, recordRtt, summarize, summarizeRuns } from '../../bench/rtt/latency';
import { niceMax, renderLoadPlot } from '../../bench/lib/svg-plot';
import { kbField } from '../../bench/memory/rss';
import { icmpEchoV4 } from '../helpers/packets';
import { median, medianOf } from '../../bench/lib/repeats';
import { socketDrops } from '../../bench/rtt/udp-load';
import { sideOf, SWEEP_MBIT, type IdleSide, type Sweep, type StepRun } from '../../bench/rtt/rtt';
import { passOrder, runsInPass } from '../../bench/lib/turns';
import { pairSpans, parseCapture, type ProbeFlow } from '../../bench/rtt/gateway-latency';
import { pairWire, parseWire } from '../../bench/rtt/client-wire';

function asReply(req: Buffer): Buffer {
  const r = Buffer.from(req);
  r[20] = 0; // echo request -> echo reply (checksums are not checked)
  return r;
}

test('parseEchoReplyV4: table', () => {
  const req = icmpEchoV4('10.0.0.2', '10.0.0.1', 0x1234, 77, Buffer.alloc(8));
  const withOptions = Buffer.concat([Buffer.from([0x46]), asReply(req).subarray(1, 20), Buffer.alloc(4), asReply(req).subarray(20)]);
  const udp = Buffer.from(asReply(req));
  udp[9] = 17;
  const cases: Array<[string, Buffer, ReturnType<typeof parseEchoReplyV4>]> = [
    ['echo reply', asReply(req), { id: 0x1234, seq: 77 }],
    ['echo request is not a reply', req, undefined],
    ['IHL 6 (options)', withOptions, { id: 0x1234, seq: 77 }],
    ['UDP', udp, undefined],
    ['IPv6 version nibble', Buffer.concat([Buffer.from([0x60]), asReply(req).subarray(1)]), undefined],
    ['truncated', asReply(req).subarray(0, 27), undefined],
    ['empty', Buffer.alloc(0), undefined],
    ['IHL below 5', Buffer.concat([Buffer.from([0x44]), asReply(req).subarray(1)]), undefined],
  ];
  for (const [name, pkt, want] of cases) assert.deepEqual(parseEchoReplyV4(pkt), want, name);
});

test('parseEchoReplyV4: any bytes, never throws, ids in range', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (a) => {
      const r = parseEchoReplyV4(Buffer.from(a));
      if (r !== undefined) assert.ok(r.id >= 0 && r.id <= 0xffff && r.seq >= 0 && r.seq <= 0xffff);
    }),
  );
});

test('packetsDue: table', () => {
  const cases: Array<[string, [number, number, number, number, number], number]> = [
    ['1 s of 8 Mbit/s in 1000-byte packets', [8e6, 1000, 1e9, 0, 10_000], 1000],
    ['capped by burst', [8e6, 1000, 1e9, 0, 64], 64],
    ['already ahead', [8e6, 1000, 1e9, 2000, 64], 0],
    ['half way', [8e6, 1000, 0.5e9, 400, 1000], 100],
    ['zero rate', [0, 1000, 1e9, 0, 64], 0],
    ['NaN rate', [NaN, 1000, 1e9, 0, 64], 0],
    ['negative time', [8e6, 1000, -1, 0, 64], 0],
    ['zero size', [8e6, 0, 1e9, 0, 64], 0],
  ];
  for (const [name, args, want] of cases) assert.equal(packetsDue(...args), want, name);
});

test('packetsDue: a sender that follows it never runs ahead of the rate and stays within a burst of it', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1e5, max: 1e10 }), fc.integer({ min: 20, max: 9000 }), fc.array(fc.integer({ min: 0, max: 5e6 }), { minLength: 1, maxLength: 50 }), (rate, size, steps) => {
      let t = 0;
      let sent = 0;
      const burst = 1_000_000;
      for (const dt of steps) {
        t += dt;
        const n = packetsDue(rate, size, t, sent, burst);
        assert.ok(n >= 0 && Number.isInteger(n));
        sent += n;
        const ideal = (rate * t) / 1e9 / (size * 8);
        assert.ok(sent <= ideal + 1e-9, `ahead: ${sent} > ${ideal}`);
        assert.ok(sent > ideal - 1, `behind: ${sent} < ${ideal}`);
      }
    }),
  );
});

test('summarize: percentiles of a known distribution (3 significant digits)', () => {
  const h = newRttHistogram();
  for (let i = 1; i <= 1000; i++) recordRtt(h, i * 10); // 10 µs .. 10 ms
  const s = summarize(h, 3);
  assert.equal(s.count, 1000);
  assert.equal(s.lost, 3);
  const close = (got: number, want: number) => assert.ok(Math.abs(got - want) / want < 0.002, `${got} vs ${want}`);
  close(s.p50Us, 5000);
  close(s.p99Us, 9900);
  close(s.p999Us, 9990);
  close(s.maxUs, 10000);
});

test('summarize: empty histogram gives NaN, out-of-range samples are clamped not dropped', () => {
  const h = newRttHistogram();
  const e = summarize(h, 0);
  assert.ok(Number.isNaN(e.p50Us) && Number.isNaN(e.maxUs));
  recordRtt(h, -5);
  recordRtt(h, 1e12);
  assert.equal(summarize(h, 0).count, 2);
});

test('niceMax: table', () => {
  const cases: Array<[number, number]> = [
    [0, 1],
    [-3, 1],
    [5e-324, 1],
    [NaN, 1],
    [Infinity, 1],
    [0.3, 0.5],
    [1, 1],
    [1.01, 2],
    [3, 5],
    [7, 10],
    [450, 500],
    [800, 1000],
  ];
  for (const [v, want] of cases) assert.ok(Math.abs(niceMax(v) - want) < 1e-12, `${v}: ${niceMax(v)}`);
});

test('renderLoadPlot: one line per series in each panel, names escaped, NaN points left out', () => {
  const svg = renderLoadPlot('a <b> & "c"', [
    { name: 'wolfguard', points: [{ offeredMbit: 0, deliveredMbit: 0, p99Ms: 0.2 }, { offeredMbit: 100, deliveredMbit: 90, p99Ms: 1 }] },
    { name: 'oc<serv>', points: [{ offeredMbit: 0, deliveredMbit: 0, p99Ms: NaN }, { offeredMbit: 100, deliveredMbit: 80, p99Ms: 5 }] },
  ]);
  assert.ok(svg.startsWith('<svg'));
  assert.equal((svg.match(/<polyline/g) ?? []).length, 4);
  assert.ok(svg.includes('a &lt;b&gt; &amp; &quot;c&quot;'));
  assert.ok(svg.includes('oc&lt;serv&gt;'));
  assert.ok(!svg.includes('NaN'));
  assert.equal((svg.match(/<circle/g) ?? []).length, 7);
});

test('renderLoadPlot: any numbers, never throws, never writes NaN', () => {
  const num = fc.oneof(fc.double(), fc.constant(NaN), fc.constant(Infinity));
  fc.assert(
    fc.property(fc.array(fc.record({ offeredMbit: num, deliveredMbit: num, p99Ms: num }), { maxLength: 6 }), (points) => {
      const svg = renderLoadPlot('t', [{ name: 's', points }]);
      assert.ok(!svg.includes('NaN') && !svg.includes('Infinity'));
    }),
  );
});

test('kbField: table', () => {
  const status = 'Name:\tnode\nVmPeak:\t  999 kB\nVmRSS:\t   12345 kB\nRssAnon:\t 100 kB\n';
  assert.equal(kbField(status, 'VmRSS'), 12345);
  assert.equal(kbField(status, 'RssAnon'), 100);
  assert.equal(kbField(status, 'Pss'), 0);
  assert.equal(kbField('', 'VmRSS'), 0);
  assert.equal(kbField('Rss:                9 kB\nPss:               7 kB\n', 'Pss'), 7);
});

test('repeated runs: median of odd and even counts, field by field for records', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
  const m = medianOf([
    { p50Us: 100, p99Us: 900, address: 'a' },
    { p50Us: 120, p99Us: 4000, address: 'b' },
    { p50Us: 90, p99Us: 800, address: 'c' },
  ]);
  assert.deepEqual(m, { p50Us: 100, p99Us: 900, address: 'a' }, 'one slow run does not decide the p99');
  assert.throws(() => medianOf([]));
});

test('socketDrops: the drops column of the socket on that port, an error when none', () => {
  const table = [
    '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
    '  120: 00000000:270E 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 41234 2 0000000000000000 0',
    '  121: 00000000:270F 00000000:0000 07 00000000:0C3500 00:00000000 00000000     0        0 41235 2 0000000000000000 81234',
  ].join('\n');
  assert.equal(socketDrops(9998, table), 0);
  assert.equal(socketDrops(9999, table), 81234);
  assert.throws(() => socketDrops(0x70e, table), /no UDP socket on port 1806/);
});

test('summarizeRuns: histograms of the runs added, losses summed', () => {
  const a = newRttHistogram();
  const b = newRttHistogram();
  for (let i = 0; i < 990; i++) recordRtt(a, 100);
  for (let i = 0; i < 10; i++) recordRtt(a, 5000);
  for (let i = 0; i < 1000; i++) recordRtt(b, 200);
  const s = summarizeRuns([{ histogram: encodeRtt(a), lost: 2 }, { histogram: encodeRtt(b), lost: 3 }]);
  assert.equal(s.count, 2000);
  assert.equal(s.lost, 5);
  // 990 of 2000 at 100 us, then 1000 at 200: the median is 200; 1% of 2000 = 20 above p99, 10 of them at 5 ms
  assert.equal(s.p50Us, 200);
  assert.equal(s.p99Us, 200);
  assert.ok(Math.abs(s.p999Us - 5000) <= 5, String(s.p999Us));
  assert.ok(Number.isNaN(summarizeRuns([]).p99Us));
});

test('passOrder: the gateways take turns A B B A, so drift over the run lands on both', () => {
  assert.deepEqual(passOrder(1), ['wolfguard', 'ocserv']);
  assert.deepEqual(passOrder(2), ['wolfguard', 'ocserv', 'ocserv', 'wolfguard']);
  assert.deepEqual(passOrder(3), ['wolfguard', 'ocserv', 'ocserv', 'wolfguard', 'wolfguard', 'ocserv']);
});

test("runsInPass: a side's runs shared out over its passes, the earlier ones taking the remainder", () => {
  assert.deepEqual([0, 1].map((i) => runsInPass(3, 2, i)), [2, 1]);
  assert.deepEqual([0, 1].map((i) => runsInPass(4, 2, i)), [2, 2]);
  assert.deepEqual([0].map((i) => runsInPass(3, 1, i)), [3]);
  assert.deepEqual([0, 1, 2].map((i) => runsInPass(1, 3, i)), [1, 0, 0]);
});

test("sideOf: the idle runs added up, and each step's runs", () => {
  const hist = (us: number, n: number) => {
    const h = newRttHistogram();
    for (let i = 0; i < n; i++) recordRtt(h, us);
    return encodeRtt(h);
  };
  const idle = (p50Us: number) => ({ count: 1000, lost: 0, p50Us, p99Us: 2 * p50Us, p999Us: 3 * p50Us, maxUs: 4 * p50Us });
  const run = (us: number, sent: number, reached: number): StepRun => ({
    probe: { ...idle(2 * us), histogram: hist(2 * us, 100), address: '10.0.0.9', localPort: 40000, sent: 100, unanswered: [] },
    wire: { ...idle(us), histogram: hist(us, 100) },
    sent: { packets: sent, bytes: sent * 1372, seconds: 3 },
    reached,
    cpuSeconds: 0.5,
  });
  // Two runs in every step of the sweep; only the first step is looked at.
  const sweep = (loadAddress: string, probeAddresses: string[]): Sweep => ({
    steps: SWEEP_MBIT.map(() => [run(100, 1000, 1000), run(300, 1000, 500)]),
    loadAddress,
    probeAddresses,
  });
  const idleRun = (us: number) => ({ ...idle(us), histogram: hist(us, 100) });
  const idleSide = (us: number[], probeAddresses: string[] = []): IdleSide => ({ idleRuns: us.map(idleRun), processIdleRuns: us.map((u) => idleRun(2 * u)), wireProblems: [], gatewayIdleRuns: us.map((u) => idle(u / 10)), probeAddresses });
  const side = sideOf(idleSide([100, 300, 200, 400], ['10.0.0.5']), sweep('10.0.0.2', ['10.0.0.3', '10.0.0.4']));
  assert.equal(side.idleRuns.length, 4);
  // 100 echoes at each of 100, 300, 200, 400 us: the lower half of the 400 ends at 200, the top 1 % is at 400.
  assert.equal(side.idle.count, 400);
  assert.equal(side.idle.p50Us, 200);
  assert.equal(side.idle.p999Us, 400);
  assert.deepEqual(side.idleRuns.map((r) => r.p50Us), [100, 300, 200, 400]); // each run's own figures kept, without their histograms
  assert.equal((side.idleRuns[0] as { histogram?: string }).histogram, undefined);
  assert.equal(side.processIdle.p50Us, 400); // the probe's own timing, kept apart
  assert.equal(side.gatewayIdle.p50Us, 25); // the gateway's own part, median the same way
  assert.deepEqual(side.probeAddresses, ['10.0.0.5', '10.0.0.3', '10.0.0.4']);
  assert.equal(side.loadAddress, '10.0.0.2');
  const first = side.sweep[0]!;
  assert.equal(first.offeredMbit, SWEEP_MBIT[0]);
  assert.equal(first.rtt.count, 200);
  assert.equal(first.rtt.p50Us, 100); // 100 at 100 us, 100 at 300 us: the lower half ends at 100
  assert.equal(first.processRtt.p50Us, 200);
  assert.equal(first.lostPercent, 25); // 1500 of 2000 reached
  assert.equal(first.cpuSeconds, 1);
  assert.deepEqual(side.sharedAddresses, []);
  // A probe session given the load tunnel's own address is reported.
  assert.deepEqual(sideOf(idleSide([100]), sweep('10.0.0.2', ['10.0.0.3', '10.0.0.2'])).sharedAddresses, ['10.0.0.2']);
});

test("sideOf: a run whose capture did not pair is left out of the rows, kept in the process figures, and its reason reported", () => {
  const h = newRttHistogram();
  for (let i = 0; i < 100; i++) recordRtt(h, 100);
  const lat = { count: 100, lost: 0, p50Us: 100, p99Us: 100, p999Us: 100, maxUs: 100, histogram: encodeRtt(h) };
  const probe = { ...lat, address: '10.0.0.9', localPort: 40000, sent: 100, unanswered: [] };
  const step = (): StepRun[] => [
    { probe, wire: lat, sent: { packets: 10, bytes: 13720, seconds: 3 }, reached: 10, cpuSeconds: 0.1 },
    { probe, wireProblem: '99 echo records captured leaving, the probe sent 100', sent: { packets: 10, bytes: 13720, seconds: 3 }, reached: 10, cpuSeconds: 0.1 },
  ];
  const idle: IdleSide = { idleRuns: [], processIdleRuns: [lat], wireProblems: ['no record from the probe in the capture'], gatewayIdleRuns: [lat], probeAddresses: [] };
  const side = sideOf(idle, { steps: SWEEP_MBIT.map(step), loadAddress: '10.0.0.2', probeAddresses: [] });
  assert.equal(side.sweep[0]!.rtt.count, 100);
  assert.equal(side.sweep[0]!.processRtt.count, 200);
  assert.ok(Number.isNaN(side.idle.p50Us), 'no paired idle run: no figure, not a made-up one');
  assert.equal(side.processIdle.p50Us, 100);
  assert.equal(side.wireProblems.length, 1 + SWEEP_MBIT.length);
  assert.equal(side.wireProblems[0], 'no record from the probe in the capture');
});

test("parseWire: the probe connection's data segments both ways, nothing else", () => {
  const text = [
    'reading from file /tmp/x.pcap, link-type EN10MB (Ethernet), snapshot length 262144',
    '1796618488.000100000 IP 10.200.0.10.41234 > 10.200.0.1.4443: Flags [P.], seq 3288046532:3288046646, ack 1409411042, win 501, options [nop,nop,TS val 1 ecr 2], length 114',
    '1796618488.000100500 IP 10.200.0.10.50000 > 10.200.0.1.4443: Flags [P.], seq 1:115, ack 1, win 501, length 114', // the load tunnel
    '1796618488.000150250 IP 10.200.0.1.4443 > 10.200.0.10.41234: Flags [P.], seq 1409411042:1409411156, ack 3288046646, win 501, options [nop,nop,TS val 3 ecr 1], length 114',
    '1796618488.000151000 IP 10.200.0.1.4443 > 10.200.0.10.41234: Flags [.], ack 3288046646, win 501, length 0',
    '1796618488.000152000 ARP, Request who-has 10.200.0.1 tell 10.200.0.10, length 28',
    'garbage',
  ].join('\n');
  const got = parseWire(text, 41234, 4443);
  assert.deepEqual(got.map((g) => [g.out, g.seq, g.bytes]), [[true, 3288046532, 114], [false, 1409411042, 114]]);
  assert.ok(Math.abs(got[1]!.tUs - got[0]!.tUs - 50.25) < 0.01, 'nanosecond timestamps kept to the microsecond');
});

test('pairWire: the j-th reply answers the j-th answered echo; other records, coalesced ones and mismatches handled', () => {
  // Each direction's bytes follow on (seq), its first near the top of the 32-bit space, so it wraps.
  const carried = new Map<boolean, number>([[true, 2 ** 32 - 200], [false, 7]]);
  const seg = (tUs: number, out: boolean, bytes = 114) => {
    const seq = carried.get(out)!;
    carried.set(out, (seq + bytes) % 2 ** 32);
    return { tUs, out, seq, bytes };
  };
  // Echoes 0..3 every 1000 us, echo 2 unanswered, a DPD (30 bytes) each way between.
  const segs = [
    seg(0, true), seg(60, false),
    seg(500, false, 30), seg(510, true, 30),
    seg(1000, true), seg(1080, false),
    seg(2000, true),
    seg(3000, true), seg(3070, false),
  ];
  assert.deepEqual(pairWire(segs, 4, [2]), { rttUs: [60, 80, 70] });
  // A retransmitted request (the same sequence numbers again) is not another echo.
  assert.deepEqual(pairWire([...segs.slice(0, 5), { ...segs[4]!, tUs: 1050 }, ...segs.slice(5)], 4, [2]), { rttUs: [60, 80, 70] });
  // Two records in one segment count as two, sent or received together.
  carried.set(true, 0).set(false, 0);
  assert.deepEqual(pairWire([seg(0, true), seg(1000, true), seg(1900, false, 228)], 2, []), { rttUs: [1900, 900] });
  // Counts that disagree with the probe's are refused, not guessed at.
  assert.match((pairWire(segs, 5, [2]) as { problem: string }).problem, /4 echo records captured leaving, the probe sent 5/);
  assert.match((pairWire(segs, 4, []) as { problem: string }).problem, /3 echo records captured arriving, the probe had 4 answers/);
  assert.match((pairWire([], 0, []) as { problem: string }).problem, /no record from the probe/);
  carried.set(true, 0).set(false, 0);
  assert.match((pairWire([seg(10, false), seg(20, true)], 1, []) as { problem: string }).problem, /before its request/);
});

const FLOW: ProbeFlow = { clientPort: 41234, gatewayPort: 4443, tunnelAddress: '10.78.0.2', outerDev: 'br0', lanDev: 'lan0' };

test("parseCapture: the probe's records on the bridge and its echoes on the lan link, nothing else", () => {
  const text = [
    'tcpdump: data link type LINUX_SLL2',
    '1796618488.000100000 c0    In  IP 10.200.0.10.41234 > 10.200.0.1.4443: tcp 114', // bridge port: the same segment, seen first
    '1796618488.000101500 br0   In  IP 10.200.0.10.41234 > 10.200.0.1.4443: tcp 114',
    '1796618488.000102000 br0   In  IP 10.200.0.10.50000 > 10.200.0.1.4443: tcp 114', // another tunnel
    '1796618488.000140250 lan0  Out IP 10.78.0.2 > 10.201.0.2: ICMP echo request, id 7, seq 3, length 64',
    '1796618488.000141000 lan0  Out IP 10.78.0.9 > 10.201.0.2: ICMP echo request, id 9, seq 1, length 64', // another client
    '1796618488.000180000 lan0  In  IP 10.201.0.2 > 10.78.0.2: ICMP echo reply, id 7, seq 3, length 64',
    '1796618488.000195000 br0   Out IP 10.200.0.1.4443 > 10.200.0.10.41234: tcp 114',
    '1796618488.000196000 br0   Out IP 10.200.0.1.4443 > 10.200.0.10.41234: tcp 0',
    'garbage',
    '',
  ].join('\n');
  const got = parseCapture(text, FLOW);
  assert.deepEqual(got.map((p) => p.kind), ['tlsIn', 'echoRequest', 'echoReply', 'tlsOut']);
  assert.ok(Math.abs(got[1]!.tUs - got[0]!.tUs - 38.75) < 0.01, 'nanosecond timestamps kept to the microsecond');
});

test('pairSpans: each request with the record before it, each record out with the reply before it; unmatched ones left out', () => {
  const at = (tUs: number, kind: 'tlsIn' | 'tlsOut' | 'echoRequest' | 'echoReply') => ({ tUs, kind });
  const r = pairSpans([
    at(0, 'tlsIn'), at(40, 'echoRequest'), at(90, 'echoReply'), at(100, 'tlsOut'), // echo 1: 40 + 10
    at(1000, 'tlsOut'), // a record with no reply before it (a DPD answer): no span
    at(2000, 'tlsIn'), at(2030, 'echoRequest'), // echo 2: its reply never came
    at(3000, 'tlsIn'), at(3020, 'echoRequest'), at(3100, 'echoReply'), at(3105, 'tlsOut'), // echo 3: 20 + 5
    at(4000, 'echoRequest'), // no record brought it (the capture missed it): no span
  ]);
  assert.deepEqual(r.inboundUs, [40, 30, 20]);
  assert.deepEqual(r.outboundUs, [10, 5]);
  assert.deepEqual(r.totalUs, [50, 25]);
});
