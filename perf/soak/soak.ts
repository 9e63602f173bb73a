// The soak (issue 10): many login/logout cycles, then a day's worth of DPD,
// keepalive and reconnect churn compressed in time, against the real gateway
// in namespaces, sampling its fd count and RSS from /proc as it goes. What
// must hold: fds back to the idle count, no session or connection left, RSS
// flat (the second half of a phase may not keep growing like the first).
//
//   npm run soak                      100,000 cycles + 200 tunnels × 2,880 DPDs
//   SOAK_CYCLES=… SOAK_TUNNELS=… SOAK_DPDS=… npm run soak
// Results go to perf/results/soak-<date>-<host>.md and .json. The e2e test
// test/e2e/soak.test.ts runs the same with small numbers in `npm test`.
//
//   client ns ──veth── gateway ns (wolfguard) ──veth── lan ns
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { closeScratch, openScratch } from '../../test/helpers/e2e-scratch';
import { createTopology, type Topology } from '../../test/helpers/netns';
import { startWolfguard, type WolfguardHandle } from '../../test/helpers/wolfguard';
import type { TestPki } from '../../test/helpers/certs';
import type { ShardStats } from '../../src/workers/messages';

export interface SoakOptions {
  cycles: number;
  /** Cycles before the idle baseline is taken: what is made lazily (thread pool, caches, JIT, heap growth) belongs in it. */
  warmupCycles: number;
  concurrency: number;
  tunnels: number;
  /** DPDs per tunnel in the churn phase (2,880 = a day at openconnect's 30 s). */
  dpds: number;
  reconnectEvery: number;
  port: number;
  /** How often fds and RSS are sampled. */
  sampleMs: number;
  /** Namespace tag. */
  tag: string;
}

export interface Sample {
  t: number;
  phase: 'idle' | 'cycles' | 'churn' | 'settled';
  fds: number;
  rssKiB: number;
}

export interface SoakResult {
  options: SoakOptions;
  cycles: { done: number; errors: number; seconds: number; firstErrors: string[] };
  churn: { dpdsAnswered: number; reconnects: number; errors: number; seconds: number; firstErrors: string[] };
  base: { fds: number; rssKiB: number };
  after: { fds: number; rssKiB: number; sessions: number; connections: number };
  /** What the fds held after the soak and not at the baseline (readlink of /proc/PID/fd/N). */
  fdsNew: string[];
  /** Peak RSS per phase, and RSS at the middle and end of each phase (flatness). */
  phases: Record<'cycles' | 'churn', { peakRssKiB: number; midRssKiB: number; endRssKiB: number; peakFds: number }>;
  samples: Sample[];
}

const USER = 'soak';
const PASSWORD = 'soak-password-1';
const POOL4 = '10.86.0.0/20';
const SETTLE_TIMEOUT_MS = 30_000;
/** Time for the gateway to close an admin connection the soak itself made. */
const ADMIN_CLOSE_MS = 300;

function procStatus(pid: number): { fds: number; rssKiB: number } {
  const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
  const rssKiB = Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return { fds, rssKiB };
}

/** What the process's fds point at (sockets, pipes, files), as readlink shows them. */
function fdTargets(pid: number): string[] {
  const out: string[] = [];
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      out.push(fs.readlinkSync(`/proc/${pid}/fd/${fd}`).replace(/\[\d+\]$/, '[…]'));
    } catch {
      /* closed meanwhile */
    }
  }
  return out.sort();
}

/** Entries of `after` beyond those of `before` (a multiset difference). */
function added(before: string[], after: string[]): string[] {
  const left = new Map<string, number>();
  for (const x of before) left.set(x, (left.get(x) ?? 0) + 1);
  const out: string[] = [];
  for (const x of after) {
    const n = left.get(x) ?? 0;
    if (n > 0) left.set(x, n - 1);
    else out.push(x);
  }
  return out;
}

function clientScript(): string {
  return path.join(__dirname, 'client.js');
}

async function runClient(topo: Topology, ns: string, args: string[], timeoutMs: number): Promise<Record<string, unknown>> {
  const r = await topo.tryExec(ns, process.execPath, [clientScript(), ...args], { timeoutMs });
  if (r.code !== 0) throw new Error(`soak client ${args[0]} failed (${r.code}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

function phaseStats(samples: Sample[], phase: 'cycles' | 'churn') {
  const s = samples.filter((x) => x.phase === phase);
  if (s.length === 0) return { peakRssKiB: 0, midRssKiB: 0, endRssKiB: 0, peakFds: 0 };
  return {
    peakRssKiB: Math.max(...s.map((x) => x.rssKiB)),
    midRssKiB: s[Math.floor(s.length / 2)]!.rssKiB,
    endRssKiB: s[s.length - 1]!.rssKiB,
    peakFds: Math.max(...s.map((x) => x.fds)),
  };
}

export async function runSoak(o: SoakOptions, onProgress: (line: string) => void = () => {}): Promise<SoakResult> {
  let pki: TestPki | undefined;
  let workDir: string | undefined;
  let topo: Topology | undefined;
  let gw: WolfguardHandle | undefined;
  const samples: Sample[] = [];
  let phase: Sample['phase'] = 'idle';
  let timer: NodeJS.Timeout | undefined;
  const t0 = Date.now();
  try {
    ({ pki, workDir } = openScratch('soak'));
    topo = await createTopology({ clients: 1, tag: o.tag });
    gw = await startWolfguard({
      ns: topo.gw.ns,
      dir: path.join(workDir, 'gw'),
      port: o.port,
      cert: pki.ecCert,
      key: pki.ecKey,
      users: [{ name: USER, password: PASSWORD }],
      ipv4Pool: POOL4,
      routes: [topo.lan.prefix],
      workers: 2,
      // The churn holds `tunnels` sessions at once; the helper's default max-clients (128, ocserv's example) would refuse the rest.
      maxClients: o.tunnels + o.concurrency,
      // Ban points off: one address logging in 100,000 times is the soak, not an attack.
      extra: ['max-ban-score = 0'],
    });
    const g = gw;
    const client = topo.clients[0]!;
    const args = (mode: string, ...rest: number[]) => [mode, topo!.gw.outerIp, String(o.port), USER, PASSWORD, ...rest.map(String)];
    await runClient(topo, client.ns, args('cycles', o.warmupCycles, o.concurrency), Math.max(60_000, o.warmupCycles * 50));
    await new Promise((r) => setTimeout(r, 1000));
    const base = procStatus(g.pid);
    const baseFds = fdTargets(g.pid);
    samples.push({ t: Date.now() - t0, phase, ...base });
    timer = setInterval(() => {
      try {
        samples.push({ t: Date.now() - t0, phase, ...procStatus(g.pid) });
      } catch {
        /* the gateway died: the checks after the phase say so */
      }
    }, o.sampleMs);

    phase = 'cycles';
    let started = Date.now();
    const cy = await runClient(topo, client.ns, args('cycles', o.cycles, o.concurrency), Math.max(120_000, o.cycles * 50));
    const cycles = { done: cy.cycles as number, errors: cy.errors as number, seconds: (Date.now() - started) / 1000, firstErrors: cy.firstErrors as string[] };
    onProgress(`cycles: ${cycles.done} in ${cycles.seconds.toFixed(0)} s, ${cycles.errors} errors; ${JSON.stringify(procStatus(g.pid))}`);

    phase = 'churn';
    started = Date.now();
    const ch = await runClient(topo, client.ns, args('churn', o.tunnels, o.dpds, o.reconnectEvery), Math.max(120_000, o.dpds * 100));
    const churn = {
      dpdsAnswered: ch.dpdsAnswered as number,
      reconnects: ch.reconnects as number,
      errors: ch.errors as number,
      seconds: (Date.now() - started) / 1000,
      firstErrors: ch.firstErrors as string[],
    };
    onProgress(`churn: ${churn.dpdsAnswered} DPDs, ${churn.reconnects} reconnects in ${churn.seconds.toFixed(0)} s, ${churn.errors} errors; ${JSON.stringify(procStatus(g.pid))}`);

    phase = 'settled';
    const end = Date.now() + SETTLE_TIMEOUT_MS;
    let after = { ...procStatus(g.pid), sessions: -1, connections: -1 };
    let newFds: string[] = [];
    while (Date.now() < end) {
      const sessions = (await g.admin<unknown[]>('GET', '/sessions')).body.length;
      const connections = (await g.admin<ShardStats[]>('GET', '/shards')).body.reduce((a, s) => a + s.connections, 0);
      // The admin connections just used close on the gateway's side a moment later: count after that.
      await new Promise((r) => setTimeout(r, ADMIN_CLOSE_MS));
      after = { ...procStatus(g.pid), sessions, connections };
      newFds = added(baseFds, fdTargets(g.pid));
      if (after.fds <= base.fds && sessions === 0 && connections === 0) break;
    }
    clearInterval(timer);
    timer = undefined;
    samples.push({ t: Date.now() - t0, phase, fds: after.fds, rssKiB: after.rssKiB });
    return { options: o, cycles, churn, base, after, fdsNew: newFds, phases: { cycles: phaseStats(samples, 'cycles'), churn: phaseStats(samples, 'churn') }, samples };
  } finally {
    if (timer !== undefined) clearInterval(timer);
    await closeScratch({ gw, topo, pki, workDir });
  }
}

function envNumber(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

function report(r: SoakResult): string {
  const mib = (k: number) => (k / 1024).toFixed(1);
  const o = r.options;
  return [
    `# wolfguard soak ${new Date().toISOString()}`,
    '',
    `host ${os.hostname()}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}; gateway with 2 shards, ban points off`,
    '',
    '| phase | work | errors | seconds | fds peak | RSS middle (MiB) | RSS end (MiB) | RSS peak (MiB) |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
    `| idle baseline | after ${o.warmupCycles} warm-up cycles | | | ${r.base.fds} | | ${mib(r.base.rssKiB)} | |`,
    `| login/logout cycles | ${r.cycles.done} of ${o.cycles} (concurrency ${o.concurrency}) | ${r.cycles.errors} | ${r.cycles.seconds.toFixed(0)} | ${r.phases.cycles.peakFds} | ${mib(r.phases.cycles.midRssKiB)} | ${mib(r.phases.cycles.endRssKiB)} | ${mib(r.phases.cycles.peakRssKiB)} |`,
    `| DPD/keepalive churn | ${o.tunnels} tunnels × ${o.dpds} DPDs (${r.churn.dpdsAnswered} answered), reconnect every ${o.reconnectEvery} (${r.churn.reconnects}) | ${r.churn.errors} | ${r.churn.seconds.toFixed(0)} | ${r.phases.churn.peakFds} | ${mib(r.phases.churn.midRssKiB)} | ${mib(r.phases.churn.endRssKiB)} | ${mib(r.phases.churn.peakRssKiB)} |`,
    `| settled | | | | ${r.after.fds} | | ${mib(r.after.rssKiB)} | |`,
    '',
    `- after: ${r.after.sessions} sessions, ${r.after.connections} connections held by the shards; fds not there at the baseline: ${r.fdsNew.length === 0 ? 'none' : r.fdsNew.join(', ')}`,
    `- ${o.dpds} DPDs per tunnel = ${((o.dpds * 30) / 3600).toFixed(1)} h of openconnect at its default 30 s DPD`,
    `- fds and RSS of the gateway process from /proc every ${o.sampleMs} ms (${r.samples.length} samples in the JSON file)`,
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const o: SoakOptions = {
    cycles: envNumber('SOAK_CYCLES', 100_000),
    warmupCycles: envNumber('SOAK_WARMUP_CYCLES', 2000),
    concurrency: envNumber('SOAK_CONCURRENCY', 16),
    tunnels: envNumber('SOAK_TUNNELS', 200),
    dpds: envNumber('SOAK_DPDS', 2880),
    reconnectEvery: envNumber('SOAK_RECONNECT_EVERY', 240),
    port: 4471,
    sampleMs: 1000,
    tag: 'wgsoak',
  };
  const r = await runSoak(o, (l) => process.stdout.write(`${l}\n`));
  const dir = path.join(__dirname, '..', '..', '..', 'perf', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const stem = path.join(dir, `soak-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}-${os.hostname()}`);
  const md = report(r);
  fs.writeFileSync(`${stem}.md`, md);
  fs.writeFileSync(`${stem}.json`, JSON.stringify(r, null, 1));
  process.stdout.write(`${md}\nsaved ${stem}.md and ${stem}.json\n`);
  const ok = r.cycles.errors === 0 && r.churn.errors === 0 && r.after.fds <= r.base.fds && r.after.sessions === 0 && r.after.connections === 0;
  if (!ok) process.exitCode = 1;
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}
