// `npm run bench -- logins`: whole logins per second (TLS 1.3 handshake + XML
// password auth + CONNECT + logout) and gateway CPU per login, wolfguard vs
// Debian's ocserv, same certificate, user ($6$ hash), pools and configuration
// file, the same load generator (bench/logins/loadgen.ts) in a client
// namespace. Needs root.
import * as path from 'node:path';
import type { Topology } from '../../test/helpers/netns';
import { withNetnsBench } from '../lib/netns-bench';
import { startOcserv } from '../../test/helpers/ocserv';
import { startWolfguard } from '../../test/helpers/wolfguard';
import { treeCpu, cpuDelta } from '../tunnel/measure';
import type { Row, Table } from '../lib/report';

const SECONDS = Number(process.env.BENCH_SECONDS ?? (process.env.BENCH_QUICK ? 2 : 5));
const CONCURRENCY = Number(process.env.BENCH_LOGIN_CONCURRENCY ?? 16);
const PORT = 4443;
const USER = { name: 'bench', password: 'bench-password-1' };

interface Side {
  perSecond: number;
  cpuMsPerLogin: number;
  errors: number;
}

async function runSide(topo: Topology, which: 'wolfguard' | 'ocserv', common: Parameters<typeof startOcserv>[0]): Promise<Side> {
  const gw = which === 'wolfguard' ? await startWolfguard({ ...common, workers: Number(process.env.WOLFGUARD_WORKERS ?? 2) }) : await startOcserv(common);
  try {
    const gen = path.join(__dirname, 'loadgen.js');
    const run = (secs: number) => topo.exec(topo.clients[0]!.ns, process.execPath, [gen, topo.gw.outerIp, String(PORT), USER.name, USER.password, String(secs), String(CONCURRENCY)], { timeoutMs: (secs + 60) * 1000 });
    await run(1); // warm-up
    const before = treeCpu(gw.pid);
    const r = JSON.parse((await run(SECONDS)).stdout.trim()) as { logins: number; errors: number; seconds: number };
    const cpu = cpuDelta(before, treeCpu(gw.pid));
    return { perSecond: r.logins / r.seconds, cpuMsPerLogin: r.logins > 0 ? (cpu * 1000) / r.logins : Infinity, errors: r.errors };
  } finally {
    await gw.stop();
  }
}

export async function benchLogins(): Promise<Table> {
  return withNetnsBench('logins', 'wgl', async ({ pki, work, topo }) => {
    const common = (dir: string) => ({
      ns: topo.gw.ns,
      dir: path.join(work, dir),
      port: PORT,
      udpPort: 0,
      cert: pki.ecCert,
      key: pki.ecKey,
      users: [USER],
      ipv4Pool: '10.80.0.0/16',
      ipv6Pool: 'fd00:80::/64',
      routes: [topo.lan.prefix],
      dns: ['10.80.0.1'],
      maxClients: 100_000,
    });
    const ours = await runSide(topo, 'wolfguard', common('wolfguard'));
    const theirs = await runSide(topo, 'ocserv', common('ocserv'));
    const rows: Row[] = [
      { metric: 'logins per second (TLS 1.3 + XML auth + CONNECT + logout)', unit: 'logins/s', ours: ours.perSecond, theirs: theirs.perSecond, higherIsBetter: true },
      { metric: 'gateway CPU per login', unit: 'CPU ms', ours: ours.cpuMsPerLogin, theirs: theirs.cpuMsPerLogin, higherIsBetter: false },
    ];
    return {
      title: 'Logins: the whole start of a client session',
      oursName: 'wolfguard',
      theirsName: 'ocserv',
      notes: [
        `${CONCURRENCY} concurrent clients for ${SECONDS} s after a 1 s warm-up, from one load-generator process (bench/logins/loadgen.ts) in a client namespace; password hashes $6$ (SHA-512 crypt, 5000 rounds) on both`,
        `failed logins: wolfguard ${ours.errors}, ocserv ${theirs.errors}`,
        'the load generator shares the 2 cores with the gateway: CPU per login is the gateway\'s own cost',
      ],
      rows,
    };
  });
}
