// `npm run bench -- tls-gateways`: TLS 1.3 full and resumed handshakes per
// second and gateway CPU per handshake, wolfguard vs ocserv, each on its real
// TCP port with the same ECDSA P-256 certificate, from the same wolfSSL client
// load (handshake-client.ts) in a client namespace. ocserv forks a worker per
// connection, so its figure includes that: what an operator gets. Needs root.
import * as path from 'node:path';
import * as readline from 'node:readline';
import { withNetnsBench, type BenchEnv } from '../lib/netns-bench';
import { BENCH_PORT, GATEWAYS, startGateway, WOLFGUARD_SHARDS, type GatewayName } from '../lib/gateways';
import { treeCpu, cpuDelta } from '../tunnel/measure';
import { BENCH_CLIENT_GROUPS } from './tls-client';
import type { Row, Table } from '../lib/report';

const QUICK = process.env.BENCH_QUICK !== undefined && process.env.BENCH_QUICK !== '';
const SECONDS = Number(process.env.BENCH_SECONDS ?? (QUICK ? 1 : 5));
const WARMUP_SECONDS = QUICK ? 0.3 : 1;
const CONCURRENCY = Number(process.env.BENCH_TLS_CONCURRENCY ?? 16);

interface Measured {
  perSecond: number;
  cpuUsPerHandshake: number;
  resumedShare: number;
  errors: number;
  firstError: string;
}

async function measure(env: BenchEnv, gwPid: number, mode: 'full' | 'resumed'): Promise<Measured> {
  const { topo } = env;
  const child = topo.spawn(topo.clients[0]!.ns, process.execPath, [path.join(__dirname, 'handshake-client.js'), topo.gw.outerIp, String(BENCH_PORT), mode, String(CONCURRENCY), String(SECONDS), String(WARMUP_SECONDS)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let before: Map<number, number> | undefined;
  let result: { done: number; resumed: number; errors: number; firstError: string; seconds: number } | undefined;
  let cpu = 0;
  for await (const line of readline.createInterface({ input: child.stdout! })) {
    if (line === 'go') before = treeCpu(gwPid);
    else if (line.startsWith('{') && before !== undefined) {
      cpu = cpuDelta(before, treeCpu(gwPid));
      result = JSON.parse(line) as typeof result;
    }
  }
  const code = await exited;
  if (result === undefined) throw new Error(`handshake client (${mode}) exited with ${String(code)} and no result`);
  return { perSecond: result.done / result.seconds, cpuUsPerHandshake: result.done > 0 ? (cpu / result.done) * 1e6 : Infinity, resumedShare: result.done > 0 ? result.resumed / result.done : 0, errors: result.errors, firstError: result.firstError };
}

export async function benchGatewayHandshakes(): Promise<Table> {
  return withNetnsBench('tls-gateways', 'wgt', async (env) => {
    const res = {} as Record<GatewayName, { full: Measured; resumed: Measured }>;
    for (const g of GATEWAYS) {
      const gw = await startGateway(env, g, { maxClients: 1024 });
      try {
        res[g] = { full: await measure(env, gw.pid, 'full'), resumed: await measure(env, gw.pid, 'resumed') };
      } finally {
        await gw.stop();
      }
    }
    const w = res.wolfguard;
    const o = res.ocserv;
    const rows: Row[] = [
      { metric: 'TLS 1.3 full handshakes/s', unit: '1/s', ours: w.full.perSecond, theirs: o.full.perSecond, higherIsBetter: true },
      { metric: 'gateway CPU per full handshake', unit: 'µs', ours: w.full.cpuUsPerHandshake, theirs: o.full.cpuUsPerHandshake, higherIsBetter: false },
      { metric: 'TLS 1.3 resumed handshakes/s', unit: '1/s', ours: w.resumed.perSecond, theirs: o.resumed.perSecond, higherIsBetter: true },
      { metric: 'gateway CPU per resumed handshake', unit: 'µs', ours: w.resumed.cpuUsPerHandshake, theirs: o.resumed.cpuUsPerHandshake, higherIsBetter: false },
    ];
    const pct = (m: Measured) => `${(m.resumedShare * 100).toFixed(0)}%`;
    return {
      title: 'TLS 1.3 handshakes on the gateways\' real ports: wolfguard vs ocserv',
      oursName: 'wolfguard',
      theirsName: 'ocserv',
      notes: [
        `ECDSA P-256 certificate, each gateway's TLS 1.3 defaults, key exchange ${BENCH_CLIENT_GROUPS.join(', ')} (the only group the client offers: bench/tls/tls-client.ts), ${CONCURRENCY} concurrent wolfSSL client connections from one process in a client namespace, ${SECONDS} s per measurement after ${WARMUP_SECONDS} s warm-up; each connection: handshake, "GET /", first reply byte, close`,
        `share actually resumed in the resumed run: wolfguard ${pct(w.resumed)}, ocserv ${pct(o.resumed)}; errors (full+resumed): wolfguard ${w.full.errors}+${w.resumed.errors}, ocserv ${o.full.errors}+${o.resumed.errors}${[w.full, w.resumed, o.full, o.resumed].map((m) => m.firstError).filter((e) => e !== '').map((e) => ` (${e})`).join('')}`,
        `wolfguard with ${WOLFGUARD_SHARDS} shards; ocserv forks one worker per connection (its CPU includes the fork); gateway CPU from /proc over its process tree`,
        'the client shares the 2 cores: handshakes/s is partly client-bound, CPU per handshake is the gateway\'s own cost',
      ],
      rows,
      data: res,
    };
  });
}
