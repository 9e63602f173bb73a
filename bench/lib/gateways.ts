// The two gateways under comparison, started on one configuration file in a
// bench topology (see netns-bench.ts): what every gateway-vs-ocserv row shares.
import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { processTree } from '../../test/helpers/reaper';
import * as path from 'node:path';
import { startOcserv, type OcservOptions } from '../../test/helpers/ocserv';
import { startWolfguard } from '../../test/helpers/wolfguard';
import type { BenchEnv } from './netns-bench';

export type GatewayName = 'wolfguard' | 'ocserv';
export const GATEWAYS: readonly GatewayName[] = ['wolfguard', 'ocserv'];
export const BENCH_PORT = 4443;
export const BENCH_USER = { name: 'bench', password: 'bench-password-1' };
/** Shards of wolfguard in every row (one per core on the 2-core reference machine). */
export const WOLFGUARD_SHARDS = Number(process.env.WOLFGUARD_WORKERS ?? 2);

export interface RunningGateway {
  pid: number;
  stop(): Promise<unknown>;
}

export interface ConfigChoices {
  dtls?: boolean;
  /** Pool big enough for every tunnel the row holds at once. */
  ipv4Pool?: string;
  maxClients?: number;
  /** Seconds; idle-tunnel rows raise it so no tunnel is reaped while held. */
  dpd?: number;
}

export function gatewayConfig(env: BenchEnv, which: GatewayName, c: ConfigChoices = {}): OcservOptions {
  const { topo, pki, work } = env;
  return {
    ns: topo.gw.ns,
    dir: path.join(work, which),
    port: BENCH_PORT,
    udpPort: c.dtls === true ? BENCH_PORT : 0,
    cert: pki.ecCert,
    key: pki.ecKey,
    users: [BENCH_USER],
    ipv4Pool: c.ipv4Pool ?? '10.77.0.0/24',
    ipv6Pool: 'fd00:77::/64',
    routes: [topo.lan.prefix, topo.lan.prefix6],
    dns: ['10.77.0.1'],
    dpd: c.dpd ?? 90,
    keepalive: 32400,
    ...(c.maxClients === undefined ? {} : { maxClients: c.maxClients }),
  };
}

export async function startGateway(env: BenchEnv, which: GatewayName, c: ConfigChoices = {}): Promise<RunningGateway> {
  const conf = gatewayConfig(env, which, c);
  const gw = which === 'wolfguard' ? await startWolfguard({ ...conf, workers: WOLFGUARD_SHARDS }) : await startOcserv(conf);
  // BENCH_GATEWAY_CPUS (a taskset list, e.g. "0"): confine the gateway to
  // those CPUs (every thread; ocserv's workers forked later inherit it), for
  // the cores-vs-shards measurements of tuning.md. The client and load keep every core.
  const cpus = process.env.BENCH_GATEWAY_CPUS;
  if (cpus !== undefined && cpus !== '') for (const p of processTree(gw.pid)) execFileSync('taskset', ['-acp', cpus, String(p)], { stdio: 'ignore' });
  // perf/profile.sh attaches to each gateway as it comes up.
  const pidFile = process.env.BENCH_PID_FILE;
  if (pidFile !== undefined && pidFile !== '') fs.appendFileSync(pidFile, `${which} ${gw.pid}\n`);
  return gw;
}
