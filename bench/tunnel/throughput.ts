// `npm run bench -- tunnel` / `-- dtls`: tunnelled TCP throughput and the
// gateway's CPU seconds per GB moved, wolfguard vs Debian's ocserv, side by
// side in one run on one topology (client namespace ⇄ gateway namespace ⇄ lan
// namespace): the same openconnect client over CSTP (TLS only) or over DTLS
// (PSK-NEGOTIATE), the same certificate, user, pools, MTU and configuration
// file, the same iperf3 load. Needs root.
import { withNetnsBench, type BenchEnv } from '../lib/netns-bench';
import { BENCH_PORT, BENCH_USER, WOLFGUARD_SHARDS, startGateway, type GatewayName } from '../lib/gateways';
import { startOpenconnect, pinSha256 } from '../../test/helpers/openconnect';
import { runIperf } from '../../test/helpers/iperf';
import { measureTunnel, type TunnelMeasurement } from './measure';
import type { Row, Table } from '../lib/report';

const SECONDS = Number(process.env.BENCH_SECONDS ?? (process.env.BENCH_QUICK ? 2 : 5));

interface Side {
  upload: TunnelMeasurement;
  download: TunnelMeasurement;
  cipher: string;
  mtu: number | undefined;
}

async function runSide(env: BenchEnv, which: GatewayName, pin: string, dtls: boolean): Promise<Side> {
  const { topo } = env;
  const gw = await startGateway(env, which, { dtls });
  try {
    const c = await startOpenconnect({ ns: topo.clients[0]!.ns, url: `https://${topo.gw.outerIp}:${BENCH_PORT}/`, user: BENCH_USER.name, password: BENCH_USER.password, servercertPin: pin, noDtls: !dtls });
    try {
      if (dtls) await c.waitForOutput(/Established DTLS connection/, 15_000);
      const iperf = (reverse: boolean) => () => runIperf({ serverNs: topo.lan.ns, serverIp: topo.lan.ip, clientNs: topo.clients[0]!.ns, seconds: SECONDS, reverse });
      // Warm-up: TCP windows, caches, JIT.
      await iperf(false)();
      const upload = await measureTunnel(gw.pid, iperf(false));
      const download = await measureTunnel(gw.pid, iperf(true));
      return { upload, download, cipher: c.tlsCiphersuite ?? 'unknown', mtu: c.state.mtu };
    } finally {
      await c.stop();
    }
  } finally {
    await gw.stop();
  }
}

export function benchTunnel(): Promise<Table> {
  return bench(false);
}

export function benchDtls(): Promise<Table> {
  return bench(true);
}

async function bench(dtls: boolean): Promise<Table> {
  return withNetnsBench(dtls ? 'dtls' : 'tunnel', 'wgb', async (env) => {
    const pin = pinSha256(env.pki.ecCert);
    const ours = await runSide(env, 'wolfguard', pin, dtls);
    const theirs = await runSide(env, 'ocserv', pin, dtls);
    const rows: Row[] = [
      { metric: 'upload (client → lan) throughput', unit: 'Mbit/s', ours: ours.upload.mbitPerSec, theirs: theirs.upload.mbitPerSec, higherIsBetter: true },
      { metric: 'download (lan → client) throughput', unit: 'Mbit/s', ours: ours.download.mbitPerSec, theirs: theirs.download.mbitPerSec, higherIsBetter: true },
      { metric: 'gateway CPU per GB, upload', unit: 'CPU s/GB', ours: ours.upload.cpuSecondsPerGB, theirs: theirs.upload.cpuSecondsPerGB, higherIsBetter: false },
      { metric: 'gateway CPU per GB, download', unit: 'CPU s/GB', ours: ours.download.cpuSecondsPerGB, theirs: theirs.download.cpuSecondsPerGB, higherIsBetter: false },
    ];
    return {
      title: dtls ? 'DTLS tunnel (PSK-NEGOTIATE): one openconnect client, iperf3 through the gateway' : 'CSTP (TLS) tunnel: one openconnect client, iperf3 through the gateway',
      oursName: 'wolfguard',
      theirsName: 'ocserv',
      notes: [
        `${SECONDS} s per direction after a warm-up run; same namespaces, certificate (ECDSA P-256), user, pools and configuration file for both; ${dtls ? 'openconnect with DTLS (waits for "Established DTLS connection")' : 'openconnect --no-dtls'}`,
        `negotiated: wolfguard ${ours.cipher} (tunnel MTU ${ours.mtu}), ocserv ${theirs.cipher} (tunnel MTU ${theirs.mtu})`,
        `wolfguard with ${WOLFGUARD_SHARDS} shards; ocserv forks one worker per client`,
        'client, gateway and iperf3 share this machine\'s cores: with few cores the client (openconnect) is often the bottleneck, so CPU per GB is the gateway\'s own cost and the fairer figure',
        `retransmits (upload): wolfguard ${ours.upload.iperf.retransmits ?? 'n/a'}, ocserv ${theirs.upload.iperf.retransmits ?? 'n/a'}`,
      ],
      rows,
    };
  });
}
