// Why a packet is late inside the gateway: runs the idle RTT probe against
// each gateway (as `npm run bench -- rtt` does) with tcpdump in the
// gateway's namespace and the scheduler's tracepoints recorded by perf, then
// takes every inbound span that was slow (the probe's TLS record arriving on
// the bridge → its echo request leaving on the lan link,
// bench/rtt/gateway-latency.ts) apart:
//
//   record in ─ wait ─► the woken gateway thread runs ─ run ─► request out
//
// "wait": the thread was woken (sched_waking) but another task held the CPU
// (the table names which); "run": from its switch-in to the packet leaving,
// time the thread had the CPU or the VM did not run it (no scheduler event
// shows that: see tuning.md, "The plane thread's time slice").
//
// usage (root): node dist/perf/late-packets.js [seconds=3] [slowUs=200] [gateway...]
// Writes perf/out/late-<timestamp>/{<gateway>.sched.data,summary.md}.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { withNetnsBench } from '../bench/lib/netns-bench';
import { BENCH_PORT, BENCH_USER, GATEWAYS, startGateway, type GatewayName } from '../bench/lib/gateways';
import { startCapture, parseCapture, type CapturedPacket } from '../bench/rtt/gateway-latency';
import { GW_LAN_DEV, GW_OUTER_DEV } from '../test/helpers/netns';

/** One scheduler event from `perf script` (time in µs on the monotonic clock). */
export interface SchedEvent {
  tUs: number;
  cpu: number;
  /** The task running when the event fired. */
  comm: string;
  kind: 'waking' | 'switch';
  /** waking: the woken task; switch: the task switched in. */
  tid: number;
  targetComm: string;
  /** switch: the task switched out. */
  prevComm?: string;
}

// perf script -F comm,tid,cpu,time,event,trace lines, e.g.
//   node 17821 [000] 51577.356169: sched:sched_waking: comm=wg-plane pid=17170 prio=120 target_cpu=000
//   node 17821 [001] 51577.356199: sched:sched_switch: prev_comm=node prev_pid=17821 prev_prio=120 prev_state=S ==> next_comm=wg-plane next_pid=17170 next_prio=120
const PERF_LINE = /^\s*(.+?)\s+(\d+)\s+\[(\d+)\]\s+(\d+)\.(\d+):\s+sched:(sched_waking|sched_switch):\s*(.*)$/;

/** The scheduler events of a `perf script` text, in time order. */
export function parseSched(text: string): SchedEvent[] {
  const out: SchedEvent[] = [];
  for (const line of text.split('\n')) {
    const m = PERF_LINE.exec(line);
    if (!m) continue;
    const tUs = Number(m[4]) * 1e6 + Number(m[5]!.padEnd(6, '0').slice(0, 6));
    const trace = m[7]!;
    if (m[6] === 'sched_waking') {
      const w = /comm=(.+?) pid=(\d+)/.exec(trace);
      if (w) out.push({ tUs, cpu: Number(m[3]), comm: m[1]!, kind: 'waking', tid: Number(w[2]), targetComm: w[1]! });
    } else {
      const s = /prev_comm=(.+?) prev_pid=\d+ .*==> next_comm=(.+?) next_pid=(\d+)/.exec(trace);
      if (s) out.push({ tUs, cpu: Number(m[3]), comm: m[1]!, kind: 'switch', tid: Number(s[3]), targetComm: s[2]!, prevComm: s[1]! });
    }
  }
  return out.sort((a, b) => a.tUs - b.tUs);
}

export interface SlowSpan {
  spanUs: number;
  /** Woken → switched in (undefined: the thread was not asleep when the record came). */
  waitUs?: number;
  runUs?: number;
  /** The task the woken thread waited behind (switched out for it). */
  behind?: string;
}

/**
 * Inbound spans (tlsIn → echoRequest) longer than `slowUs`, each taken apart
 * by the first wake-up of a task named in `threads` inside it. `offsetUs`:
 * capture time (realtime) minus perf time (monotonic).
 */
export function slowSpans(packets: readonly CapturedPacket[], sched: readonly SchedEvent[], threads: ReadonlySet<string>, slowUs: number, offsetUs: number): { spans: number; slow: SlowSpan[] } {
  const slow: SlowSpan[] = [];
  let spans = 0;
  let tin: number | undefined;
  let i = 0;
  for (const p of packets) {
    if (p.kind === 'tlsIn') {
      tin = p.tUs;
      continue;
    }
    if (p.kind !== 'echoRequest' || tin === undefined) continue;
    spans++;
    const from = tin - offsetUs;
    const to = p.tUs - offsetUs;
    tin = undefined;
    if (to - from <= slowUs) continue;
    while (i < sched.length && sched[i]!.tUs < from) i++;
    const span: SlowSpan = { spanUs: to - from };
    let woken: SchedEvent | undefined;
    for (let j = i; j < sched.length && sched[j]!.tUs <= to; j++) {
      const e = sched[j]!;
      if (!woken) {
        if (e.kind === 'waking' && threads.has(e.targetComm)) woken = e;
      } else if (e.kind === 'switch' && e.tid === woken.tid) {
        span.waitUs = e.tUs - woken.tUs;
        span.runUs = to - e.tUs;
        span.behind = e.prevComm!;
        break;
      }
    }
    slow.push(span);
  }
  return { spans, slow };
}

/** The threads that read the gateway's tunnel sockets. */
const DATA_THREADS: Record<GatewayName, ReadonlySet<string>> = {
  wolfguard: new Set(['wg-plane']), // not WOLFGUARD_DATA_THREAD=0: a shard's loop thread is a 'node' like the probe
  ocserv: new Set(['ocserv-worker']),
};

function quantile(xs: number[], q: number): string {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? '–' : s[Math.min(s.length - 1, Math.floor(q * s.length))]!.toFixed(0);
}

function summary(name: string, r: { spans: number; slow: SlowSpan[] }, longUs: number): string {
  const waited = r.slow.filter((s) => (s.waitUs ?? 0) > longUs);
  const ran = r.slow.filter((s) => (s.runUs ?? 0) > longUs);
  const behind = new Map<string, number>();
  for (const s of waited) behind.set(s.behind!, (behind.get(s.behind!) ?? 0) + 1);
  const w = r.slow.flatMap((s) => (s.waitUs === undefined ? [] : [s.waitUs]));
  const u = r.slow.flatMap((s) => (s.runUs === undefined ? [] : [s.runUs]));
  const behindText = [...behind].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ');
  return `| ${name} | ${r.spans} | ${r.slow.length} | ${waited.length} | ${ran.length} | ${r.slow.length - w.length} | ${quantile(w, 0.5)} / ${quantile(w, 0.9)} | ${quantile(u, 0.5)} / ${quantile(u, 0.9)} | ${behindText} |`;
}

async function main(): Promise<void> {
  const [secondsArg, slowArg, ...names] = process.argv.slice(2);
  const seconds = Number(secondsArg ?? 3);
  const slowUs = Number(slowArg ?? 200);
  const longUs = slowUs / 2;
  if (!(seconds > 0) || !(slowUs > 0)) throw new Error('usage: late-packets [seconds>0] [slowUs>0] [gateway...]');
  const gateways = (names.length ? names : GATEWAYS) as GatewayName[];
  for (const g of gateways) if (!GATEWAYS.includes(g)) throw new Error(`unknown gateway ${g} (${GATEWAYS.join(', ')})`);
  execFileSync('perf', ['--version'], { stdio: 'ignore' });
  const out = path.join(__dirname, '..', '..', 'perf', 'out', `late-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  fs.mkdirSync(out, { recursive: true });
  const rows: string[] = [];
  for (const g of gateways) {
    const r = await withNetnsBench('late-packets', 'wglp', async (env) => {
      const gw = await startGateway(env, g);
      try {
        const data = path.join(out, `${g}.sched.data`);
        const perf = spawn('perf', ['record', '-q', '-a', '-k', 'mono', '-e', 'sched:sched_switch', '-e', 'sched:sched_waking', '-o', data], { stdio: 'ignore' });
        const perfExit = once(perf, 'exit');
        // performance.now() runs on the monotonic clock perf -k mono uses; timeOrigin is its realtime start.
        const offsetUs = (performance.timeOrigin + performance.now()) * 1000 - Number(process.hrtime.bigint()) / 1000;
        const cap = await startCapture(env.topo.gw.ns, BENCH_PORT);
        let text: string;
        let probe: { localPort: number; address: string };
        try {
          const res = await env.topo.exec(env.topo.clients[0]!.ns, process.execPath, [path.join(__dirname, '..', 'bench', 'rtt', 'probe.js'), env.topo.gw.outerIp, String(BENCH_PORT), BENCH_USER.name, BENCH_USER.password, env.topo.lan.ip, String(seconds), '1'], { timeoutMs: (seconds + 30) * 1000 });
          probe = JSON.parse(res.stdout.trim()) as { localPort: number; address: string };
        } finally {
          text = await cap.stop();
          if (perf.exitCode === null) perf.kill('SIGINT');
          await perfExit;
        }
        const packets = parseCapture(text, { clientPort: probe.localPort, gatewayPort: BENCH_PORT, tunnelAddress: probe.address, outerDev: GW_OUTER_DEV, lanDev: GW_LAN_DEV });
        const sched = parseSched(execFileSync('perf', ['script', '-i', data, '-F', 'comm,tid,cpu,time,event,trace'], { maxBuffer: 1 << 30, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
        return slowSpans(packets, sched, DATA_THREADS[g], slowUs, offsetUs);
      } finally {
        await gw.stop();
      }
    });
    rows.push(summary(g, r, longUs));
  }
  const md = [
    `# Late packets inside the gateway (${seconds} s idle probe each, inbound spans over ${slowUs} µs)`,
    '',
    `| gateway | spans | slow | of which waited > ${longUs} µs | ran > ${longUs} µs | thread not asleep | wait p50 / p90, µs | run p50 / p90, µs | waited behind (task: spans) |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows,
    '',
  ].join('\n');
  fs.writeFileSync(path.join(out, 'summary.md'), md);
  process.stdout.write(`${md}\n${out}\n`);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`late-packets: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
