// `npm run bench -- memory`: gateway memory per idle established tunnel at
// 1,000 and 10,000 tunnels, wolfguard vs ocserv in one run. The tunnels are
// real client sessions held by one bench process (holder.ts) in a client
// namespace; memory is the gateway's process tree from /proc (rss.ts), and
// per tunnel = (tree at N − tree before the first tunnel) / N. While the
// tunnels are held, the gateway's CPU and wake-ups at idle are measured too
// (idleCost). Needs root.
import * as path from 'node:path';
import * as readline from 'node:readline';
import { execFileSync } from 'node:child_process';
import { withNetnsBench, type BenchEnv } from '../lib/netns-bench';
import { BENCH_PORT, BENCH_USER, GATEWAYS, startGateway, WOLFGUARD_SHARDS, type GatewayName } from '../lib/gateways';
import { treeMemory, type TreeMemory } from './rss';
import { idleCost, type IdleCost } from './idle-cost';
import type { Row, Table } from '../lib/report';

const QUICK = process.env.BENCH_QUICK !== undefined && process.env.BENCH_QUICK !== '';
const STEPS = QUICK ? [100, 1000] : [1000, 10_000];
/** Logins in flight at once from the holder. */
const CONCURRENCY = 32;
/** Longest a gateway may take to reach the biggest step; ocserv forks a process and a TUN per tunnel. */
const GROW_DEADLINE_S = Number(process.env.BENCH_MEMORY_DEADLINE ?? (QUICK ? 60 : 90));
/** Lets allocators and GC settle before a reading. */
const SETTLE_MS = 2000;
/** Enough file descriptors for 10,000 tunnels on each side (children inherit it). */
const NOFILE = 65536;
/** Pool and client cap with room for the biggest step. */
const POOL = '10.96.0.0/16';
const MAX_CLIENTS = 20_000;
/** No tunnel may be reaped as dead while held silent. */
const LONG_DPD_S = 3600;
const KIB = 1024;
const MIB = KIB * KIB;
/** How long the idle cost is measured at each step. */
const IDLE_WINDOW_MS = QUICK ? 1000 : 3000;
/** The idle CPU rows count per this many tunnels. */
const TUNNELS_PER_ROW_UNIT = 1000;

interface Step {
  target: number;
  established: number;
  errors: number;
  lastError: string;
  growSeconds: number;
  memory: TreeMemory;
  idle: IdleCost;
}

interface Side {
  base: TreeMemory;
  /** Before the first tunnel: what the per-tunnel idle figure leaves out, as the memory rows leave out base. */
  baseIdle: IdleCost;
  steps: Step[];
}

function raiseFdLimit(): void {
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${NOFILE}:${NOFILE}`], { stdio: 'ignore' });
  } catch {
    /* keep the inherited limit; the row then says how far it got */
  }
}

async function runSide(env: BenchEnv, which: GatewayName): Promise<Side> {
  const { topo } = env;
  const gw = await startGateway(env, which, { ipv4Pool: POOL, maxClients: MAX_CLIENTS, dpd: LONG_DPD_S });
  try {
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const base = treeMemory(gw.pid);
    const baseIdle = await idleCost(gw.pid, IDLE_WINDOW_MS);
    const holder = topo.spawn(topo.clients[0]!.ns, process.execPath, [path.join(__dirname, 'holder.js'), topo.gw.outerIp, String(BENCH_PORT), BENCH_USER.name, BENCH_USER.password, String(CONCURRENCY), String(GROW_DEADLINE_S)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = readline.createInterface({ input: holder.stdout! })[Symbol.asyncIterator]();
    const steps: Step[] = [];
    try {
      for (const target of STEPS) {
        holder.stdin!.write(`grow ${target}\n`);
        const next = await lines.next();
        if (next.done === true) throw new Error(`the tunnel holder exited while growing to ${target} on ${which}`);
        const r = JSON.parse(next.value) as { established: number; errors: number; lastError: string; seconds: number };
        await new Promise((res) => setTimeout(res, SETTLE_MS));
        const memory = treeMemory(gw.pid);
        steps.push({ target, established: r.established, errors: r.errors, lastError: r.lastError, growSeconds: r.seconds, memory, idle: await idleCost(gw.pid, IDLE_WINDOW_MS) });
        process.stdout.write(`  ${which}: ${r.established}/${target} tunnels in ${r.seconds.toFixed(0)} s\n`);
        if (r.established < target) break; // the deadline or the gateway stopped it: a bigger step cannot do better
      }
    } finally {
      holder.stdin!.end();
      await new Promise((r) => (holder.exitCode !== null ? r(undefined) : holder.once('exit', r)));
    }
    return { base, baseIdle, steps };
  } finally {
    await gw.stop();
  }
}

function step(side: Side, target: number): Step | undefined {
  return side.steps.find((x) => x.target === target);
}

/**
 * (figure at the step − the same figure before the first tunnel) / tunnels
 * held; NaN when the step was not reached. Per tunnel, because a side that
 * falls short is measured at fewer tunnels than the other: its total is of
 * another load.
 */
function perTunnel(side: Side, target: number, at: (figures: { memory: TreeMemory; idle: IdleCost }) => number): number {
  const s = step(side, target);
  if (s === undefined || s.established === 0) return NaN;
  return (at(s) - at({ memory: side.base, idle: side.baseIdle })) / s.established;
}

/**
 * Idle CPU per 1,000 tunnels. A step that read less than before the first
 * tunnel (a short window's noise: 1 s in a quick run) reads 0, not a
 * negative cost.
 */
function idlePerThousand(side: Side, target: number): number {
  return Math.max(0, perTunnel(side, target, (f) => f.idle.cpuMsPerSecond * TUNNELS_PER_ROW_UNIT));
}

export async function benchMemory(): Promise<Table> {
  raiseFdLimit();
  return withNetnsBench('memory', 'wgm', async (env) => {
    const sides = {} as Record<GatewayName, Side>;
    for (const g of GATEWAYS) sides[g] = await runSide(env, g);
    const w = sides.wolfguard;
    const o = sides.ocserv;
    const rows: Row[] = [];
    const reached = (s: Side, target: number) => {
      const st = step(s, target);
      return st === undefined ? 'not tried (the previous step fell short)' : `${st.established}/${target} in ${st.growSeconds.toFixed(0)} s${st.established < target ? ` (stopped: ${st.lastError || `deadline ${GROW_DEADLINE_S} s`})` : ''}`;
    };
    // A side that fell short is measured at what it reached, and the row says so.
    const label = (metric: string, target: number) => {
      const short = GATEWAYS.flatMap((g) => {
        const st = step(sides[g], target);
        if (st === undefined) return [`${g}: not reached`];
        return st.established < target ? [`${g}: measured at ${st.established.toLocaleString('en')}, ${st.lastError !== '' ? st.lastError : `${GROW_DEADLINE_S} s deadline`}`] : [];
      });
      return `${metric} ${target.toLocaleString('en')} tunnels${short.length > 0 ? ` [${short.join('; ')}]` : ''}`;
    };
    for (const target of STEPS) {
      rows.push({ metric: label('RSS per idle tunnel at', target), unit: 'KiB', ours: perTunnel(w, target, (f) => f.memory.rssBytes / KIB), theirs: perTunnel(o, target, (f) => f.memory.rssBytes / KIB), higherIsBetter: false });
    }
    for (const target of STEPS) {
      rows.push({ metric: label('PSS per idle tunnel at', target), unit: 'KiB', ours: perTunnel(w, target, (f) => f.memory.pssBytes / KIB), theirs: perTunnel(o, target, (f) => f.memory.pssBytes / KIB), higherIsBetter: false });
    }
    for (const target of STEPS) {
      rows.push({ metric: label('gateway CPU at idle per 1,000 tunnels, with', target), unit: 'ms/s', ours: idlePerThousand(w, target), theirs: idlePerThousand(o, target), higherIsBetter: false });
    }
    const total = (s: Side) => s.steps.map((x) => `${x.established}: ${(x.memory.rssBytes / MIB).toFixed(0)} MiB RSS in ${x.memory.processes} process(es)`).join('; ');
    return {
      title: 'Memory per idle established tunnel',
      oursName: 'wolfguard',
      theirsName: 'ocserv',
      notes: [
        `tunnels held by bench/memory/holder.ts (${CONCURRENCY} logins in flight, each TLS 1.3 + XML auth + CONNECT, then silent; DPD ${LONG_DPD_S} s on both gateways so none is reaped); pool ${POOL}, max-clients ${MAX_CLIENTS}`,
        `per tunnel = (gateway tree at N − tree before the first tunnel) / N, ${SETTLE_MS / 1000} s after the step; RSS summed over the tree's processes (ocserv's forked workers count shared pages once each), PSS splits shared pages`,
        `reached: wolfguard ${STEPS.map((t) => reached(w, t)).join(', ')}; ocserv ${STEPS.map((t) => reached(o, t)).join(', ')}`,
        `idle cost: the gateway tree's run time (schedstat of every thread) and context switches over ${IDLE_WINDOW_MS / 1000} s with the tunnels held and silent, per ${TUNNELS_PER_ROW_UNIT.toLocaleString('en')} tunnels = (tree at N − tree before the first tunnel) / N; whole tree, ms/s, before the first tunnel then at each step: wolfguard ${[w.baseIdle, ...w.steps.map((x) => x.idle)].map((c) => c.cpuMsPerSecond.toFixed(1)).join(', ')}; ocserv ${[o.baseIdle, ...o.steps.map((x) => x.idle)].map((c) => c.cpuMsPerSecond.toFixed(1)).join(', ')}; wake-ups/s, the same: wolfguard ${[w.baseIdle, ...w.steps.map((x) => x.idle)].map((c) => c.wakeupsPerSecond.toFixed(0)).join(', ')}; ocserv ${[o.baseIdle, ...o.steps.map((x) => x.idle)].map((c) => c.wakeupsPerSecond.toFixed(0)).join(', ')}`,
        `baseline: wolfguard ${(w.base.rssBytes / MIB).toFixed(0)} MiB RSS (${WOLFGUARD_SHARDS} shards), ocserv ${(o.base.rssBytes / MIB).toFixed(0)} MiB RSS in ${o.base.processes} processes; at each step: wolfguard ${total(w)}; ocserv ${total(o)}`,
      ],
      rows,
      data: sides,
    };
  });
}
