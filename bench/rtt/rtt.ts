// `npm run bench -- rtt`: p50/p99/p99.9 round-trip time through the tunnel,
// at idle and under load, wolfguard vs ocserv in one run, plus the offered-
// load sweep behind the plot (delivered throughput and p99 vs offered load).
//
// The probe is the bench's own CSTP client (probe.ts: ICMP echo to the lan
// host every PROBE_INTERVAL_MS), so neither openconnect nor a client TUN sits
// in the measured path. Each echo is timed at the client's interface (a
// capture in the probe's namespace, client-wire.ts: request record out →
// reply record in) into an HDR histogram; what the probe's process timed
// with hrtime, its own scheduling included, is in the notes. Both
// gateways run at once, each in a topology of its own, with the probe
// alternating between them (pairedPhase). The load is a second tunnel per
// gateway: openconnect (--no-dtls) receiving UDP (udp-load.ts) sent from the
// lan host at a fixed offered rate (download: the gateway reads its TUN and
// encrypts), so the probe's packets share the gateway's TUN queue, threads
// and cores with the load, as another user's packets would. At idle, packet
// timestamps in the gateway's namespace also give what the gateway alone
// adds to each echo (gateway-latency.ts). Needs root and tcpdump.
import * as path from 'node:path';
import { withNetnsBench, type BenchEnv } from '../lib/netns-bench';
import { BENCH_PORT, BENCH_USER, GATEWAYS, startGateway, WOLFGUARD_SHARDS, type GatewayName, type RunningGateway } from '../lib/gateways';
import { startOpenconnect, pinSha256, type OpenconnectClient } from '../../test/helpers/openconnect';
import { CLIENT_DEV, createTopology, GW_LAN_DEV, GW_OUTER_DEV } from '../../test/helpers/netns';
import { pairSpans, parseCapture, startCapture } from './gateway-latency';
import { pairWire, parseWire, startWireCapture } from './client-wire';
import { treeCpu, cpuDelta } from '../tunnel/measure';
import { renderLoadPlot, type LoadPoint } from '../lib/svg-plot';
import { encodeRtt, newRttHistogram, recordRtt, summarize, summarizeRuns, type LatencySummary } from './latency';
import { REPEATS, medianOf } from '../lib/repeats';
import { passOrder } from '../lib/turns';
import type { Row, Table } from '../lib/report';
import { reached, sendLoad, startSink, type LoadCount } from './udp-load-run';

const QUICK = process.env.BENCH_QUICK !== undefined && process.env.BENCH_QUICK !== '';
const SECONDS = Number(process.env.BENCH_SECONDS ?? (QUICK ? 2 : 5));
/**
 * Idle runs per side: REPEATS rounded up to an even count (the turns are A B
 * B A), their histograms added as a sweep step's are. A 3 s run is ~2,600
 * echoes, so its p99.9 is its third-slowest echo; the median of four such
 * figures came out at 0.89x and 1.44x in two full benches an hour apart,
 * while the p50 and p99 held.
 */
const IDLE_RUNS = QUICK ? 1 : Math.ceil(REPEATS / 2) * 2;
const IDLE_SECONDS = QUICK ? 2 : Math.min(SECONDS, 3);
/**
 * Each sweep step is SWEEP_RUNS runs of SWEEP_SECONDS whose histograms are
 * added: one 4 s run per step moved a step's p99 by +-50 % between full
 * benches; two runs at different moments average over the shared machine's
 * noisy spells for 35 s more in all.
 */
const SWEEP_SECONDS = QUICK ? 2 : Math.min(SECONDS, 3);
const SWEEP_RUNS = QUICK ? 1 : 2;
const PROBE_INTERVAL_MS = 1;
/** Offered loads (Mbit/s of UDP payload) of the sweep; UNDER_LOAD_MBIT is the "under load" row. */
export const SWEEP_MBIT: readonly number[] = QUICK ? [200] : [50, 100, 200, 400, 800];
const UNDER_LOAD_MBIT = 200;
/** 1400-byte IP packets: 1372 bytes of UDP payload. */
const LOAD_PAYLOAD_BYTES = 1372;
/** The probe starts after the load is flowing and ends before it stops. */
const PROBE_LEAD_MS = 700;
const LOAD_EXTRA_SECONDS = 1.5;
const LOAD_PORT = 9999;
const MS_PER_US = 1e-3;
/**
 * Idle runs with the gateway-latency capture, per side (one 3 s run is
 * ~2,600 echoes; the row shows the median of a side's runs). Four per side
 * took the whole bench from 12:48 to 13:52, too near the 15 minutes.
 */
const CAPTURE_RUNS = QUICK ? 1 : 2;

interface SweepPoint {
  offeredMbit: number;
  /** What the sender managed (a Node sender may fall short of the highest rates). */
  sentMbit: number;
  deliveredMbit: number;
  lostPercent: number;
  cpuSeconds: number;
  /** At the client's interface: the rows. */
  rtt: LatencySummary;
  /** In the probe's process. */
  processRtt: LatencySummary;
}

interface Side {
  /** The idle runs added up (at the client's interface). */
  idle: LatencySummary;
  idleRuns: LatencySummary[];
  /** The same runs as the probe's process timed them. */
  processIdle: LatencySummary;
  processIdleRuns: LatencySummary[];
  /** Probe runs whose capture could not be paired with the probe's echoes, and why. */
  wireProblems: string[];
  /** What the gateway alone added to each idle echo: median of the runs; `lost` = echoes the capture could not pair. */
  gatewayIdle: LatencySummary;
  gatewayIdleRuns: LatencySummary[];
  sweep: SweepPoint[];
  /** The load tunnel's address, and every address the probe sessions got. */
  loadAddress: string;
  probeAddresses: string[];
  /** The load address, when a probe session was given it as well: two tunnels must never share one. */
  sharedAddresses: string[];
  /** When a step delivered nothing: what the load tunnel's openconnect last said, and its script calls. */
  loadClientTail?: string;
}

type ProbeResult = LatencySummary & { address: string; localPort: number; histogram: string; sent: number; unanswered: number[] };

/** A run's latency with its histogram (a step's runs are added up by histogram). */
export type RunLatency = LatencySummary & { histogram: string };

/** One probe run, timed at the client's interface (`wire`, absent when its capture could not be paired: `wireProblem`) and in the probe's process. */
export interface TimedRun {
  probe: ProbeResult;
  wire?: RunLatency;
  wireProblem?: string;
}

/** One run of a sweep step. */
export interface StepRun extends TimedRun {
  sent: LoadCount;
  reached: number;
  cpuSeconds: number;
}

/** What the idle phase measured for one gateway. */
export interface IdleSide {
  /** At the client's interface, the runs whose capture paired. */
  idleRuns: RunLatency[];
  /** Every run, as the probe's process timed it. */
  processIdleRuns: RunLatency[];
  wireProblems: string[];
  gatewayIdleRuns: LatencySummary[];
  probeAddresses: string[];
}

/** What one gateway's sweep (its load tunnel, every step's runs) measured. */
export interface Sweep {
  /** By offered Mbit/s, in SWEEP_MBIT order. */
  steps: StepRun[][];
  loadAddress: string;
  probeAddresses: string[];
  loadClientTail?: string;
}

const BITS_PER_BYTE = 8;
const BITS_PER_MBIT = 1e6;

function mbit(c: LoadCount): number {
  return c.seconds > 0 ? (c.bytes * BITS_PER_BYTE) / c.seconds / BITS_PER_MBIT : NaN;
}

/** A capture of one probe run as the gateway's own latency per echo (both spans added). */
function gatewaySpans(capture: string, p: ProbeResult): LatencySummary {
  const { totalUs } = pairSpans(parseCapture(capture, { clientPort: p.localPort, gatewayPort: BENCH_PORT, tunnelAddress: p.address, outerDev: GW_OUTER_DEV, lanDev: GW_LAN_DEV }));
  const h = newRttHistogram();
  for (const us of totalUs) recordRtt(h, us);
  return summarize(h, Math.max(0, p.count - totalUs.length));
}

/**
 * Each probe run connects from a port of its own, counted up from here (below
 * Linux's ephemeral range, 32768-60999, so no other socket holds it; a fresh
 * one per run, as the last run's connection may still be in TIME_WAIT).
 */
const PROBE_PORT_BASE = 20_000;
let probeRuns = 0;

/**
 * One run of the probe in the topology's first client namespace; with
 * `timeWire`, its records captured on the client's link (the warm-ups and
 * the gateway-latency runs use the probe's own figures only).
 */
async function probeRun(env: BenchEnv, seconds: number, timeWire: boolean): Promise<TimedRun> {
  const { topo } = env;
  const ns = topo.clients[0]!.ns;
  const localPort = PROBE_PORT_BASE + probeRuns++;
  const capture = timeWire ? await startWireCapture(ns, CLIENT_DEV, localPort, BENCH_PORT, path.join(env.work, `probe-${localPort}.pcap`)) : undefined;
  let text = '';
  let probe: ProbeResult;
  try {
    const r = await topo.exec(ns, process.execPath, [path.join(__dirname, 'probe.js'), topo.gw.outerIp, String(BENCH_PORT), BENCH_USER.name, BENCH_USER.password, topo.lan.ip, String(seconds), String(PROBE_INTERVAL_MS), String(localPort)], { timeoutMs: (seconds + 30) * 1000 });
    probe = JSON.parse(r.stdout.trim()) as ProbeResult;
  } finally {
    if (capture !== undefined) text = await capture.stop();
  }
  if (capture === undefined) return { probe };
  const paired = pairWire(parseWire(text, probe.localPort, BENCH_PORT), probe.sent, probe.unanswered);
  if ('problem' in paired) return { probe, wireProblem: paired.problem };
  const h = newRttHistogram();
  for (const us of paired.rttUs) recordRtt(h, us);
  return { probe, wire: { ...summarize(h, probe.lost), histogram: encodeRtt(h) } };
}

/** The summary alone (no histogram, address or port). */
function summaryOf({ count, lost, p50Us, p99Us, p999Us, maxUs }: LatencySummary): LatencySummary {
  return { count, lost, p50Us, p99Us, p999Us, maxUs };
}

/**
 * Every row of this table. Both gateways run at once, each in a topology of
 * its own, and the probe alternates between them run by run (A B B A A B B
 * A), so the shared machine's noisy spells, which last seconds to minutes,
 * fall on both sides alike. Taken in passes instead (one gateway up at a
 * time, A B B A), the two sides' runs were a minute apart, and the idle p99
 * and the RTT p50 under load came out on either side of 1.0 from one bench
 * to the next. An idle gateway and an idle tunnel use next to no CPU, so the
 * other side being up costs the measured one nothing. The sweep follows in the same
 * topologies, each with its own load tunnel, the two sides alternating
 * within each step (A B B A, then B A A B at the next).
 */
async function pairedPhase(env: BenchEnv): Promise<{ idle: Record<GatewayName, IdleSide>; sweep: Record<GatewayName, Sweep> }> {
  const second = await createTopology({ clients: 1, tag: 'wgri' });
  const envs: Record<GatewayName, BenchEnv> = { wolfguard: env, ocserv: { ...env, topo: second } };
  const running: Partial<Record<GatewayName, RunningGateway>> = {};
  const loadClients: OpenconnectClient[] = [];
  try {
    for (const g of GATEWAYS) running[g] = await startGateway(envs[g], g);
    const gatewayPid = (g: GatewayName) => running[g]!.pid;
    const empty = (): IdleSide => ({ idleRuns: [], processIdleRuns: [], wireProblems: [], gatewayIdleRuns: [], probeAddresses: [] });
    const idle: Record<GatewayName, IdleSide> = { wolfguard: empty(), ocserv: empty() };
    const probe = async (g: GatewayName, seconds: number, timeWire: boolean): Promise<TimedRun> => {
      const p = await probeRun(envs[g], seconds, timeWire);
      idle[g].probeAddresses.push(p.probe.address);
      return p;
    };
    for (const g of GATEWAYS) await probe(g, 1, false); // warm-up: JIT, ARP, the first session of each gateway
    for (const g of passOrder(IDLE_RUNS)) {
      const r = await probe(g, IDLE_SECONDS, true);
      idle[g].processIdleRuns.push({ ...summaryOf(r.probe), histogram: r.probe.histogram });
      if (r.wire !== undefined) idle[g].idleRuns.push(r.wire);
      else idle[g].wireProblems.push(r.wireProblem!);
    }
    // Runs of their own: this tcpdump prints every packet as it comes, in the
    // gateway's namespace, and its CPU must not weigh on the RTT rows.
    for (const g of passOrder(CAPTURE_RUNS)) {
      const capture = await startCapture(envs[g].topo.gw.ns, BENCH_PORT);
      let captured = '';
      let p: TimedRun;
      try {
        p = await probe(g, IDLE_SECONDS, false);
      } finally {
        captured = await capture.stop();
      }
      idle[g].gatewayIdleRuns.push(gatewaySpans(captured, p.probe));
    }
    const sweep = {} as Record<GatewayName, Sweep>;
    for (const g of GATEWAYS) {
      const { topo } = envs[g];
      const client = await startOpenconnect({ ns: topo.clients[0]!.ns, url: `https://${topo.gw.outerIp}:${BENCH_PORT}/`, user: BENCH_USER.name, password: BENCH_USER.password, servercertPin: pinSha256(env.pki.ecCert), noDtls: true });
      loadClients.push(client);
      const sinkIp = client.state.ip4?.address;
      if (sinkIp === undefined) throw new Error(`openconnect to ${g} got no IPv4 address`);
      sweep[g] = { steps: [], loadAddress: sinkIp, probeAddresses: [] };
    }
    for (const [k, offered] of SWEEP_MBIT.entries()) {
      for (const g of GATEWAYS) sweep[g].steps.push([]);
      const order = passOrder(SWEEP_RUNS);
      for (const g of k % 2 === 0 ? order : order.reverse()) {
        const e = envs[g];
        const before = treeCpu(gatewayPid(g));
        const sink = await startSink(e, e.topo.clients[0]!.ns, LOAD_PORT, SWEEP_SECONDS + LOAD_EXTRA_SECONDS);
        const sending = sendLoad(e, sweep[g].loadAddress, LOAD_PORT, offered, LOAD_PAYLOAD_BYTES, SWEEP_SECONDS + LOAD_EXTRA_SECONDS);
        await new Promise((r) => setTimeout(r, PROBE_LEAD_MS));
        const p = await probeRun(e, SWEEP_SECONDS, true);
        sweep[g].probeAddresses.push(p.probe.address);
        const sent = await sending;
        sweep[g].steps[k]!.push({ ...p, sent, reached: reached(await sink.result), cpuSeconds: cpuDelta(before, treeCpu(gatewayPid(g))) });
      }
    }
    for (const [i, g] of GATEWAYS.entries()) {
      if (!sweep[g].steps.some((runs) => runs.reduce((n, r) => n + r.reached, 0) === 0)) continue;
      const oc = loadClients[i]!;
      sweep[g].loadClientTail = `${[...oc.stderr().trim().split('\n').slice(-4), ...oc.stdout().trim().split('\n').slice(-4)].join(' | ')} (script calls: ${oc.events().map((e) => e.reason).join(', ')})`;
    }
    return { idle, sweep };
  } finally {
    for (const oc of loadClients) await oc.stop();
    for (const g of GATEWAYS) await running[g]?.stop();
    await second.destroy();
  }
}

/** One gateway's idle runs and sweep as one side of the table: the idle runs added up, and each step's. */
export function sideOf(idleSide: IdleSide, measured: Sweep): Side {
  const { idleRuns, processIdleRuns, gatewayIdleRuns } = idleSide;
  const wireProblems = [...idleSide.wireProblems, ...measured.steps.flatMap((runs) => runs.flatMap((r) => (r.wireProblem === undefined ? [] : [r.wireProblem])))];
  const sweep = SWEEP_MBIT.map((offered, k): SweepPoint => {
    const runs = measured.steps[k]!;
    const sum = (f: (r: StepRun) => number) => runs.reduce((n, r) => n + f(r), 0);
    const sent: LoadCount = { packets: sum((r) => r.sent.packets), bytes: sum((r) => r.sent.bytes), seconds: sum((r) => r.sent.seconds) };
    const got = sum((r) => r.reached);
    return { offeredMbit: offered, sentMbit: mbit(sent), deliveredMbit: mbit({ packets: got, bytes: got * LOAD_PAYLOAD_BYTES, seconds: sent.seconds }), lostPercent: sent.packets > 0 ? (100 * (sent.packets - got)) / sent.packets : NaN, cpuSeconds: sum((r) => r.cpuSeconds), rtt: summarizeRuns(runs.flatMap((r) => (r.wire === undefined ? [] : [r.wire]))), processRtt: summarizeRuns(runs.map((r) => r.probe)) };
  });
  return {
    idle: summarizeRuns(idleRuns),
    idleRuns: idleRuns.map(summaryOf),
    processIdle: summarizeRuns(processIdleRuns),
    processIdleRuns: processIdleRuns.map(summaryOf),
    wireProblems,
    gatewayIdle: medianOf(gatewayIdleRuns),
    gatewayIdleRuns,
    sweep,
    loadAddress: measured.loadAddress,
    probeAddresses: [...idleSide.probeAddresses, ...measured.probeAddresses],
    sharedAddresses: measured.probeAddresses.includes(measured.loadAddress) ? [measured.loadAddress] : [],
    ...(measured.loadClientTail === undefined ? {} : { loadClientTail: measured.loadClientTail }),
  };
}

function ms(us: number): number {
  return us * MS_PER_US;
}

export async function benchRtt(): Promise<Table> {
  return withNetnsBench('rtt', 'wgr', async (env) => {
    const { idle, sweep } = await pairedPhase(env);
    const sides = { wolfguard: sideOf(idle.wolfguard, sweep.wolfguard), ocserv: sideOf(idle.ocserv, sweep.ocserv) };
    const w = sides.wolfguard;
    const o = sides.ocserv;
    const loaded = (s: Side) => s.sweep.find((p) => p.offeredMbit === UNDER_LOAD_MBIT) ?? s.sweep[s.sweep.length - 1]!;
    const lat = (label: string, a: LatencySummary, b: LatencySummary): Row[] => [
      { metric: `RTT p50, ${label}`, unit: 'µs', ours: a.p50Us, theirs: b.p50Us, higherIsBetter: false },
      { metric: `RTT p99, ${label}`, unit: 'µs', ours: a.p99Us, theirs: b.p99Us, higherIsBetter: false },
      { metric: `RTT p99.9, ${label}`, unit: 'µs', ours: a.p999Us, theirs: b.p999Us, higherIsBetter: false },
    ];
    const underLoad = `under ${loaded(w).offeredMbit} Mbit/s UDP load`;
    const gatewayAdded = (p: string, k: 'p50Us' | 'p99Us' | 'p999Us'): Row => ({ metric: `gateway-added latency ${p} per echo, idle (packet timestamps in its namespace)`, unit: 'µs', ours: w.gatewayIdle[k], theirs: o.gatewayIdle[k], higherIsBetter: false });
    const rows: Row[] = [...lat('idle', w.idle, o.idle), gatewayAdded('p50', 'p50Us'), gatewayAdded('p99', 'p99Us'), gatewayAdded('p99.9', 'p999Us'), ...lat(underLoad, loaded(w).rtt, loaded(o).rtt)];
    for (const p of w.sweep) {
      const q = o.sweep.find((x) => x.offeredMbit === p.offeredMbit)!;
      rows.push({ metric: `delivered at ${p.offeredMbit} Mbit/s offered`, unit: 'Mbit/s', ours: p.deliveredMbit, theirs: q.deliveredMbit, higherIsBetter: true });
      rows.push({ metric: `RTT p99 at ${p.offeredMbit} Mbit/s offered`, unit: 'µs', ours: p.rtt.p99Us, theirs: q.rtt.p99Us, higherIsBetter: false });
    }
    const points = (s: Side): LoadPoint[] => [{ offeredMbit: 0, deliveredMbit: 0, p99Ms: ms(s.idle.p99Us) }, ...s.sweep.map((p) => ({ offeredMbit: p.offeredMbit, deliveredMbit: p.deliveredMbit, p99Ms: ms(p.rtt.p99Us) }))];
    const svg = renderLoadPlot(`CSTP tunnel, UDP ${LOAD_PAYLOAD_BYTES + 28}-byte packets lan → client; probe: ICMP echo every ${PROBE_INTERVAL_MS} ms over a second tunnel`, [
      { name: `wolfguard (${WOLFGUARD_SHARDS} shards)`, points: points(w) },
      { name: 'ocserv', points: points(o) },
    ]);
    const idleTotal = (s: Side) => ({ count: s.processIdleRuns.reduce((n, r) => n + r.count, 0), lost: s.processIdleRuns.reduce((n, r) => n + r.lost, 0) });
    const probes = (s: Side) => [idleTotal(s), ...s.sweep.map((p) => p.processRtt)].map((r) => `${r.count}/${r.lost}`).join(', ');
    const pcts = (r: LatencySummary) => [r.p50Us, r.p99Us, r.p999Us].map((us) => us.toFixed(0)).join(' / ');
    return {
      title: "RTT through the tunnel at the client's interface (own CSTP probe) and offered-load sweep",
      oursName: 'wolfguard',
      theirsName: 'ocserv',
      notes: [
        `probe: bench/rtt/probe.ts logs in over CSTP (TLS 1.3) and sends a 84-byte ICMP echo to the lan host every ${PROBE_INTERVAL_MS} ms; RTT at the client's interface (bench/rtt/client-wire.ts: tcpdump on the probe namespace's ${CLIENT_DEV}, kernel timestamps, the echo's request record leaving → its reply record arriving; the probe's process, not the gateway's, is outside the span), HDR histogram (3 digits); idle: both gateways up at once, each in a topology of its own, the probe alternating between them (${passOrder(IDLE_RUNS).join(', ')}), ${IDLE_RUNS} run(s) of ${IDLE_SECONDS} s per side (BENCH_REPEATS rounded up to even, 1 in a quick run), their histograms added; sweep: after the idle runs, the same two gateways, each with a load tunnel of its own, the probe alternating between them within each step (${passOrder(SWEEP_RUNS).join(', ')}, reversed at every other step), ${SWEEP_RUNS} run(s) of ${SWEEP_SECONDS} s per step and side, their histograms added`,
        `idle p99 of each run, µs: ${GATEWAYS.map((g) => `${g} ${sides[g].idleRuns.map((r) => r.p99Us.toFixed(0)).join(', ')}`).join('; ')}`,
        `as the probe's process timed the same echoes (hrtime around its own send and receive: its event loop, TLS and wake-ups added), p50 / p99 / p99.9 µs: idle wolfguard ${pcts(w.processIdle)}, ocserv ${pcts(o.processIdle)}; ${underLoad} wolfguard ${pcts(loaded(w).processRtt)}, ocserv ${pcts(loaded(o).processRtt)}`,
        ...GATEWAYS.flatMap((g) => (sides[g].wireProblems.length > 0 ? [`${g}: ${sides[g].wireProblems.length} probe run(s) whose capture could not be paired, left out of the rows: ${[...new Set(sides[g].wireProblems)].join('; ')}`] : [])),
        `gateway-added latency (bench/rtt/gateway-latency.ts): tcpdump in the gateway's namespace during idle probe runs of their own (${CAPTURE_RUNS} per side, alternating as the idle runs do); per echo, the probe's TLS record arriving on ${GW_OUTER_DEV} → its echo request leaving on ${GW_LAN_DEV}, plus the echo reply arriving on ${GW_LAN_DEV} → the record carrying it leaving on ${GW_OUTER_DEV} (kernel timestamps); the probe, the client's kernel and the lan host are outside both spans; median of the idle runs; p50/p99 per run, µs: ${GATEWAYS.map((g) => `${g} ${sides[g].gatewayIdleRuns.map((r) => `${r.p50Us}/${r.p99Us}`).join(', ')}`).join('; ')}; echoes paired: ${GATEWAYS.map((g) => `${g} ${sides[g].gatewayIdleRuns.reduce((n, r) => n + r.count, 0)} of ${sides[g].gatewayIdleRuns.reduce((n, r) => n + r.count + r.lost, 0)}`).join('; ')}`,
        `load: a second tunnel (openconnect --no-dtls) receiving UDP (bench/rtt/udp-load.ts, ${LOAD_PAYLOAD_BYTES}-byte payloads) paced from the lan host at each offered rate; delivered = datagrams that reached a UDP sink's socket behind openconnect (read, or dropped by the kernel when the sink fell behind: udp-load.ts) up to 1 s after the load ended (openconnect delivers much of an overload late: udp-load-run.ts), in payload Mbit/s of the load's length`,
        `probes answered/lost (all idle runs, then each step): wolfguard ${probes(w)}; ocserv ${probes(o)}`,
        `sent Mbit/s per step: wolfguard ${w.sweep.map((p) => p.sentMbit.toFixed(0)).join(', ')}; ocserv ${o.sweep.map((p) => p.sentMbit.toFixed(0)).join(', ')}`,
        `loss % per step: wolfguard ${w.sweep.map((p) => p.lostPercent.toFixed(1)).join(', ')}; ocserv ${o.sweep.map((p) => p.lostPercent.toFixed(1)).join(', ')}`,
        `gateway CPU s per step (all its runs): wolfguard ${w.sweep.map((p) => p.cpuSeconds.toFixed(2)).join(', ')}; ocserv ${o.sweep.map((p) => p.cpuSeconds.toFixed(2)).join(', ')}`,
        ...GATEWAYS.flatMap((g) => (sides[g].loadClientTail === undefined ? [] : [`${g}: a step delivered nothing; the load tunnel's openconnect last said: ${sides[g].loadClientTail}`])),
        ...GATEWAYS.flatMap((g) => (sides[g].sharedAddresses.length > 0 ? [`${g} gave a probe session the load tunnel's own address ${sides[g].sharedAddresses.join(', ')} (both logged in as one user): its load went to the probe, not the sink`] : [])),
        'client, probe, load and gateway share the cores: openconnect caps delivered throughput; the probe measures what the gateway adds',
      ],
      rows,
      svgs: [{ name: 'load-sweep', svg }],
      data: sides,
    };
  });
}
