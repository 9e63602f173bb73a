// `npm run bench -- tunnel` / `-- dtls`: tunnelled TCP throughput and the
// gateway's CPU seconds per GB moved, wolfguard vs Debian's ocserv, side by
// side in one run on one topology (client namespace ⇄ gateway namespace ⇄ lan
// namespace): the same openconnect client over CSTP (TLS only) or over DTLS
// (PSK-NEGOTIATE), the same certificate, user, pools, MTU and configuration
// file, the same iperf3 load. Needs root.
import * as path from 'node:path';
import type { Topology } from '../../test/helpers/netns';
import { withNetnsBench } from '../lib/netns-bench';
import { startOcserv } from '../../test/helpers/ocserv';
import { startWolfguard } from '../../test/helpers/wolfguard';
import { startOpenconnect, pinSha256 } from '../../test/helpers/openconnect';
import { runIperf } from '../../test/helpers/iperf';
import { measureTunnel, type TunnelMeasurement } from './measure';
import type { Row, Table } from '../lib/report';

const SECONDS = Number(process.env.BENCH_SECONDS ?? (process.env.BENCH_QUICK ? 2 : 5));
const PORT = 4443;
const USER = { name: 'bench', password: 'bench-password-1' };

interface Side {
  upload: TunnelMeasurement;
  download: TunnelMeasurement;
  cipher: string;
  mtu: number | undefined;
}

async function runSide(topo: Topology, which: 'wolfguard' | 'ocserv', common: Parameters<typeof startOcserv>[0], pin: string, dtls: boolean): Promise<Side> {
  const gw = which === 'wolfguard' ? await startWolfguard({ ...common, workers: Number(process.env.WOLFGUARD_WORKERS ?? 2) }) : await startOcserv(common);
  try {
    const c = await startOpenconnect({ ns: topo.clients[0]!.ns, url: `https://${topo.gw.outerIp}:${PORT}/`, user: USER.name, password: USER.password, servercertPin: pin, noDtls: !dtls });
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
  return withNetnsBench(dtls ? 'dtls' : 'tunnel', 'wgb', async ({ pki, work, topo }) => {
    const pin = pinSha256(pki.ecCert);
    const common = (dir: string) => ({
      ns: topo.gw.ns,
      dir: path.join(work, dir),
      port: PORT,
      udpPort: dtls ? PORT : 0,
      cert: pki.ecCert,
      key: pki.ecKey,
      users: [USER],
      ipv4Pool: '10.77.0.0/24',
      ipv6Pool: 'fd00:77::/64',
      routes: [topo.lan.prefix, topo.lan.prefix6],
      dns: ['10.77.0.1'],
      dpd: 90,
      keepalive: 32400,
    });
    const ours = await runSide(topo, 'wolfguard', common('wolfguard'), pin, dtls);
    const theirs = await runSide(topo, 'ocserv', common('ocserv'), pin, dtls);
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
        `wolfguard with ${process.env.WOLFGUARD_WORKERS ?? 2} shards; ocserv forks one worker per client`,
        'client, gateway and iperf3 share this machine\'s cores: with few cores the client (openconnect) is often the bottleneck, so CPU per GB is the gateway\'s own cost and the fairer figure',
        `retransmits (upload): wolfguard ${ours.upload.iperf.retransmits ?? 'n/a'}, ocserv ${theirs.upload.iperf.retransmits ?? 'n/a'}`,
      ],
      rows,
    };
  });
}
