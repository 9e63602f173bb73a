// `npm run bench -- logins`: whole logins per second (TLS 1.3 handshake + XML
// password auth + CONNECT + logout) and gateway CPU per login, wolfguard vs
// Debian's ocserv, same certificate, user ($6$ hash), pools and configuration
// file, the same load generator (bench/logins/loadgen.ts) in a client
// namespace. Needs root.
import * as path from 'node:path';
import { withNetnsBench, type BenchEnv } from '../lib/netns-bench';
import { BENCH_PORT, BENCH_USER, startGateway, type GatewayName } from '../lib/gateways';
import { treeCpu, cpuDelta } from '../tunnel/measure';
import type { Row, Table } from '../lib/report';

const SECONDS = Number(process.env.BENCH_SECONDS ?? (process.env.BENCH_QUICK ? 2 : 5));
const CONCURRENCY = Number(process.env.BENCH_LOGIN_CONCURRENCY ?? 16);
/** Pool for every login of a run (each holds a lease until its logout is processed). */
const POOL4 = '10.80.0.0/16';
/** max-clients far above what a run opens, so no login is refused for it. */
const MAX_CLIENTS = 100_000;

interface Side {
  perSecond: number;
  cpuMsPerLogin: number;
  errors: number;
}

async function runSide(env: BenchEnv, which: GatewayName): Promise<Side> {
  const { topo } = env;
  const gw = await startGateway(env, which, { ipv4Pool: POOL4, maxClients: MAX_CLIENTS });
  try {
    const gen = path.join(__dirname, 'loadgen.js');
    const run = (secs: number) => topo.exec(topo.clients[0]!.ns, process.execPath, [gen, topo.gw.outerIp, String(BENCH_PORT), BENCH_USER.name, BENCH_USER.password, String(secs), String(CONCURRENCY)], { timeoutMs: (secs + 60) * 1000 });
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
  return withNetnsBench('logins', 'wgl', async (env) => {
    const ours = await runSide(env, 'wolfguard');
    const theirs = await runSide(env, 'ocserv');
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
