// `npm run bench -- small`: 200-byte packets through the tunnel, CSTP (TLS)
// and DTLS, wolfguard vs ocserv in one run: Mbit/s and packets/s delivered and
// the gateway's CPU seconds per GB of IP packets moved.
//
// Both ways the sender is paced at OFFERED_MBIT. Upload: iperf3 UDP (-b, 172-
// byte payloads: 200-byte IP packets) from the client namespace through
// openconnect to the lan host. Download: the bench's paced UDP sender
// (rtt/udp-load.ts; iperf3's UDP -R runs did not end on time through a
// saturated tunnel) from the lan host to a sink behind openconnect. Delivered
// = what reached the far end: iperf3's count up; down, the sink's reads plus
// what its socket dropped. Needs root.
import { withNetnsBench, type BenchEnv } from '../lib/netns-bench';
import { BENCH_PORT, BENCH_USER, GATEWAYS, startGateway, WOLFGUARD_SHARDS, type GatewayName } from '../lib/gateways';
import { startOpenconnect, pinSha256 } from '../../test/helpers/openconnect';
import { runIperf } from '../../test/helpers/iperf';
import { treeCpu, cpuDelta } from './measure';
import { REPEATS, medianOf } from '../lib/repeats';
import { PASSES, passOrder, runsInPass } from '../lib/turns';
import type { Row, Table } from '../lib/report';
import { reached, sendLoad, startSink } from '../rtt/udp-load-run';

const QUICK = process.env.BENCH_QUICK !== undefined && process.env.BENCH_QUICK !== '';
/** Shorter than the other rows' runs: each is repeated (REPEATS) and the median kept. */
const SECONDS = Number(process.env.BENCH_SECONDS ?? (QUICK ? 2 : 3));
const IP_PACKET_BYTES = 200;
const IP_UDP_HEADERS = 28;
const PAYLOAD_BYTES = IP_PACKET_BYTES - IP_UDP_HEADERS;
/**
 * Offered load each way (Mbit/s of UDP payload: 109k packets/s): more than
 * passes through openconnect and either gateway in 200-byte packets on 2
 * cores, except wolfguard's CSTP download, which delivers all of it (its
 * figure is then the offer, a floor). Paced, not iperf3's unpaced `-b 0`: that sender took a core of its own
 * writing 260-450k packets/s, 80-90 % of them dropped at the client's TUN,
 * and each run's figure was how the scheduler split the two cores between it
 * and the tunnel (one gateway's runs spread 43-65k packets/s).
 */
const OFFERED_MBIT = 150;
const SINK_PORT = 9998;
const BITS_PER_BYTE = 8;
const BYTES_PER_GB = 1e9;

interface Flow {
  packetsPerSecond: number;
  /** IP-level (200-byte packets). */
  mbitPerSec: number;
  cpuSecondsPerGB: number;
  lostPercent: number;
}

interface Run {
  upload: Flow;
  download: Flow;
}

interface Side {
  /** Medians over the runs. */
  upload: Flow;
  download: Flow;
  /** Every run, in order. */
  runs: Run[];
  mtu: number | undefined;
}

function flow(packets: number, seconds: number, sentPackets: number, cpuSeconds: number): Flow {
  const ipBytes = packets * IP_PACKET_BYTES;
  return {
    packetsPerSecond: packets / seconds,
    mbitPerSec: (ipBytes * BITS_PER_BYTE) / seconds / 1e6,
    cpuSecondsPerGB: ipBytes > 0 ? cpuSeconds / (ipBytes / BYTES_PER_GB) : Infinity,
    lostPercent: sentPackets > 0 ? (100 * (sentPackets - packets)) / sentPackets : NaN,
  };
}

async function download(env: BenchEnv, gwPid: number, clientNs: string, clientIp: string): Promise<Flow> {
  const sink = await startSink(env, clientNs, SINK_PORT, SECONDS);
  const before = treeCpu(gwPid);
  const sent = await sendLoad(env, clientIp, SINK_PORT, OFFERED_MBIT, PAYLOAD_BYTES, SECONDS);
  const got = await sink.result;
  const cpu = cpuDelta(before, treeCpu(gwPid));
  return flow(reached(got), sent.seconds, sent.packets, cpu);
}

/** One pass: a fresh gateway and openconnect session, `count` upload + download runs. */
async function runPass(env: BenchEnv, which: GatewayName, dtls: boolean, count: number): Promise<{ runs: Run[]; mtu: number | undefined }> {
  const { topo } = env;
  const clientNs = topo.clients[0]!.ns;
  const gw = await startGateway(env, which, { dtls });
  try {
    const oc = await startOpenconnect({ ns: clientNs, url: `https://${topo.gw.outerIp}:${BENCH_PORT}/`, user: BENCH_USER.name, password: BENCH_USER.password, servercertPin: pinSha256(env.pki.ecCert), noDtls: !dtls });
    try {
      if (dtls) await oc.waitForOutput(/Established DTLS connection/, 15_000);
      const iperf = (seconds: number) => runIperf({ serverNs: topo.lan.ns, serverIp: topo.lan.ip, clientNs, seconds, extraArgs: ['-u', '-b', `${OFFERED_MBIT}M`, '-l', String(PAYLOAD_BYTES)] });
      await iperf(1); // warm-up
      const ip = oc.state.ip4?.address;
      if (ip === undefined) throw new Error(`openconnect to ${which} got no IPv4 address`);
      const runs: Run[] = [];
      for (let i = 0; i < count; i++) {
        const before = treeCpu(gw.pid);
        const up = await iperf(SECONDS);
        const upCpu = cpuDelta(before, treeCpu(gw.pid));
        const upload = flow(up.receivedBytes / PAYLOAD_BYTES, up.seconds, up.sentBytes / PAYLOAD_BYTES, upCpu);
        runs.push({ upload, download: await download(env, gw.pid, clientNs, ip) });
      }
      return { runs, mtu: oc.state.mtu };
    } finally {
      await oc.stop();
    }
  } finally {
    await gw.stop();
  }
}

export async function benchSmallPackets(): Promise<Table> {
  return withNetnsBench('small', 'wgs', async (env) => {
    const res = {} as Record<'tls' | 'dtls', Record<GatewayName, Side>>;
    for (const ch of ['tls', 'dtls'] as const) {
      const runs: Record<GatewayName, Run[]> = { wolfguard: [], ocserv: [] };
      const mtu = {} as Record<GatewayName, number | undefined>;
      const passesDone = { wolfguard: 0, ocserv: 0 };
      for (const g of passOrder(PASSES)) {
        const count = runsInPass(REPEATS, PASSES, passesDone[g]++);
        if (count === 0) continue;
        const p = await runPass(env, g, ch === 'dtls', count);
        runs[g].push(...p.runs);
        mtu[g] = p.mtu;
      }
      res[ch] = {} as Record<GatewayName, Side>;
      for (const g of GATEWAYS) res[ch][g] = { upload: medianOf(runs[g].map((r) => r.upload)), download: medianOf(runs[g].map((r) => r.download)), runs: runs[g], mtu: mtu[g] };
    }
    const rows: Row[] = [];
    for (const ch of ['tls', 'dtls'] as const) {
      const label = ch === 'tls' ? 'CSTP (TLS)' : 'DTLS';
      for (const dir of ['upload', 'download'] as const) {
        const w = res[ch].wolfguard[dir];
        const o = res[ch].ocserv[dir];
        rows.push(
          { metric: `${label} ${dir}, 200-byte packets`, unit: 'Mbit/s', ours: w.mbitPerSec, theirs: o.mbitPerSec, higherIsBetter: true },
          { metric: `${label} ${dir}, 200-byte packets`, unit: 'kpackets/s', ours: w.packetsPerSecond / 1000, theirs: o.packetsPerSecond / 1000, higherIsBetter: true },
          { metric: `${label} ${dir}, 200-byte packets, gateway CPU per GB`, unit: 'CPU s/GB', ours: w.cpuSecondsPerGB, theirs: o.cpuSecondsPerGB, higherIsBetter: false },
        );
      }
    }
    const loss = (ch: 'tls' | 'dtls') => GATEWAYS.map((g) => `${g} ${res[ch][g].upload.lostPercent.toFixed(0)}% up / ${res[ch][g].download.lostPercent.toFixed(0)}% down`).join(', ');
    return {
      title: '200-byte packets through the tunnel (CSTP and DTLS)',
      oursName: 'wolfguard',
      theirsName: 'ocserv',
      notes: [
        `one openconnect client; offered ${OFFERED_MBIT} Mbit/s of payload each way; upload: iperf3 -u -b ${OFFERED_MBIT}M -l ${PAYLOAD_BYTES} for ${SECONDS} s after a 1 s warm-up; download: bench/rtt/udp-load.ts paced at ${OFFERED_MBIT} Mbit/s for ${SECONDS} s to a UDP sink behind openconnect; delivered = datagrams that reached the sink's socket (read, or dropped by the kernel when the Node sink, sharing the cores with openconnect, fell behind)`,
        `each figure is the median of ${REPEATS} upload + download run(s) (BENCH_REPEATS), taken in turns (${passOrder(PASSES).join(', ')}; each pass a fresh gateway and session, a side's first pass ${runsInPass(REPEATS, PASSES, 0)} run(s), its second the rest); Mbit/s of each run: ${(['tls', 'dtls'] as const).flatMap((ch) => (['upload', 'download'] as const).map((dir) => `${ch === 'tls' ? 'CSTP' : 'DTLS'} ${dir} ${GATEWAYS.map((g) => `${g} ${res[ch][g].runs.map((r) => r[dir].mbitPerSec.toFixed(1)).join(', ')}`).join(', ')}`)).join('; ')}`,
        'Mbit/s and CPU per GB count whole 200-byte IP packets delivered; gateway CPU from /proc over its process tree during the run',
        `loss between sender and receiver (openconnect, the client TUN and the gateway all drop when saturated): CSTP ${loss('tls')}; DTLS ${loss('dtls')}`,
        `wolfguard with ${WOLFGUARD_SHARDS} shards; ocserv one worker per client; the sender, openconnect and the gateway share the 2 cores, and the offered load exceeds what passes between them (openconnect is one thread), so packets/s depends on the gateway's CPU as well as on the client's (a side that delivers all that is offered is capped by the offer: its figure is a floor), and CPU per GB is the gateway's own cost`,
      ],
      rows,
      data: res,
    };
  });
}
