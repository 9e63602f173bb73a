// `npm run bench -- drops`: where the packets of a tunnelled TCP upload are
// lost. Runs the same CSTP iperf3 upload as `-- tunnel` against each gateway
// and reads, before and after, every drop counter on the path: the network
// devices of each namespace (`ip -s -j link`: the client's and the gateway's
// TUN, the bridge, the lan veth), each namespace's SNMP/netstat counters
// (TCP retransmits, receive-queue and backlog drops) and the per-CPU
// softnet backlog drops. The counters that moved say where the retransmitted
// segments died.
import { withNetnsBench, type BenchEnv } from '../lib/netns-bench';
import { BENCH_PORT, BENCH_USER, WOLFGUARD_SHARDS, startGateway, type GatewayName } from '../lib/gateways';
import { startOpenconnect, pinSha256 } from '../../test/helpers/openconnect';
import { runIperf } from '../../test/helpers/iperf';
import { readFileSync } from 'node:fs';
import type { Row, Table } from '../lib/report';

const SECONDS = Number(process.env.BENCH_SECONDS ?? (process.env.BENCH_QUICK ? 2 : 5));
/** BENCH_CLIENT_TXQUEUELEN: set the client TUN's queue length (packets) after connecting; unset = openconnect's default (500). */
const CLIENT_TXQUEUELEN = process.env.BENCH_CLIENT_TXQUEUELEN;
/** Netstat/SNMP counters that name a drop or a retransmission. */
const NET_COUNTERS = ['TcpRetransSegs', 'TcpExtTCPRcvQDrop', 'TcpExtTCPBacklogDrop', 'TcpExtTCPOFODrop', 'TcpExtTCPZeroWindowDrop', 'TcpExtListenDrops', 'IpInDiscards', 'IpOutDiscards', 'TcpExtTCPSackRecovery', 'TcpExtTCPLossProbes', 'TcpExtTCPTimeouts'];

type Counters = Map<string, number>;

/** `Tcp: a b` / `Tcp: 1 2` line pairs of /proc/net/snmp and /proc/net/netstat as "Tcpa" → 1. */
export function parseProcNet(text: string): Counters {
  const out: Counters = new Map();
  const lines = text.split('\n').filter((l) => l.includes(':'));
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const [hp, ...names] = lines[i]!.trim().split(/\s+/);
    const [vp, ...values] = lines[i + 1]!.trim().split(/\s+/);
    if (hp !== vp || hp === undefined) continue;
    const prefix = hp.slice(0, -1);
    names.forEach((n, j) => out.set(prefix + n, Number(values[j])));
  }
  return out;
}

/** Sum of the third column (packets dropped because the backlog was full) of /proc/net/softnet_stat. */
export function softnetDrops(text: string): number {
  return text
    .trim()
    .split('\n')
    .reduce((s, l) => s + parseInt(l.trim().split(/\s+/)[1] ?? '0', 16), 0);
}

async function snapshot(env: BenchEnv): Promise<Counters> {
  const { topo } = env;
  const out: Counters = new Map();
  const named: [string, string][] = [
    ['client', topo.clients[0]!.ns],
    ['gw', topo.gw.ns],
    ['lan', topo.lan.ns],
  ];
  for (const [label, ns] of named) {
    const links = JSON.parse((await topo.exec(ns, 'ip', ['-s', '-j', 'link'])).stdout) as { ifname: string; stats64?: { rx: Record<string, number>; tx: Record<string, number> } }[];
    for (const l of links) {
      if (!l.stats64 || l.ifname === 'lo') continue;
      const dev = l.ifname.startsWith('tun') || l.ifname.startsWith('vpns') || l.ifname.startsWith('wg') ? 'tun' : l.ifname;
      for (const dir of ['rx', 'tx'] as const) {
        const k = `${label} ${dev} ${dir} dropped`;
        out.set(k, (out.get(k) ?? 0) + (l.stats64[dir].dropped ?? 0));
      }
    }
    const net = parseProcNet((await topo.exec(ns, 'cat', ['/proc/net/snmp', '/proc/net/netstat'])).stdout);
    for (const c of NET_COUNTERS) out.set(`${label} ${c}`, net.get(c) ?? 0);
  }
  out.set('softnet backlog drops (all CPUs)', softnetDrops(readFileSync('/proc/net/softnet_stat', 'utf8')));
  return out;
}

interface Side {
  retransmits: number | undefined;
  mbit: number;
  moved: Counters;
}

async function runSide(env: BenchEnv, which: GatewayName): Promise<Side> {
  const { topo } = env;
  const gw = await startGateway(env, which, {});
  try {
    const c = await startOpenconnect({ ns: topo.clients[0]!.ns, url: `https://${topo.gw.outerIp}:${BENCH_PORT}/`, user: BENCH_USER.name, password: BENCH_USER.password, servercertPin: pinSha256(env.pki.ecCert), noDtls: true });
    try {
      if (CLIENT_TXQUEUELEN !== undefined && CLIENT_TXQUEUELEN !== '') {
        const links = JSON.parse((await topo.exec(topo.clients[0]!.ns, 'ip', ['-j', 'link'])).stdout) as { ifname: string; link_type?: string }[];
        for (const l of links.filter((x) => x.link_type === 'none')) await topo.exec(topo.clients[0]!.ns, 'ip', ['link', 'set', l.ifname, 'txqueuelen', CLIENT_TXQUEUELEN]);
      }
      const iperf = () => runIperf({ serverNs: topo.lan.ns, serverIp: topo.lan.ip, clientNs: topo.clients[0]!.ns, seconds: SECONDS });
      await iperf();
      const before = await snapshot(env);
      const r = await iperf();
      const after = await snapshot(env);
      const moved: Counters = new Map();
      for (const [k, v] of after) {
        const d = v - (before.get(k) ?? 0);
        if (d !== 0) moved.set(k, d);
      }
      return { retransmits: r.retransmits, mbit: r.receivedBitsPerSecond / 1e6, moved };
    } finally {
      await c.stop();
    }
  } finally {
    await gw.stop();
  }
}

export async function benchDrops(): Promise<Table> {
  return withNetnsBench('drops', 'wgd', async (env) => {
    const ours = await runSide(env, 'wolfguard');
    const theirs = await runSide(env, 'ocserv');
    const keys = [...new Set([...ours.moved.keys(), ...theirs.moved.keys()])].sort();
    const rows: Row[] = [
      { metric: 'upload throughput', unit: 'Mbit/s', ours: ours.mbit, theirs: theirs.mbit, higherIsBetter: true },
      { metric: 'iperf3 retransmits', unit: 'segments', ours: ours.retransmits ?? NaN, theirs: theirs.retransmits ?? NaN, higherIsBetter: false },
      ...keys.map((k) => ({ metric: k, unit: 'count', ours: ours.moved.get(k) ?? 0, theirs: theirs.moved.get(k) ?? 0, higherIsBetter: false })),
    ];
    return {
      title: 'Where a CSTP upload loses packets: drop counters moved during one iperf3 upload',
      oursName: 'wolfguard',
      theirsName: 'ocserv',
      notes: [
        `${SECONDS} s iperf3 TCP upload (client → lan) after a warm-up run, openconnect --no-dtls; wolfguard with ${WOLFGUARD_SHARDS} shards`,
        'counters read before and after in each namespace (client, gateway, lan): `ip -s -j link` dropped per device (TUN devices named "tun"), /proc/net/snmp and /proc/net/netstat; softnet drops are machine-wide',
        'only counters that moved on either side are listed',
        `client TUN txqueuelen: ${CLIENT_TXQUEUELEN ?? "openconnect's default"}`,
      ],
      rows,
    };
  });
}
