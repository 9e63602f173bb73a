// Network namespaces for end-to-end tests: real VPN clients on one side, the
// gateway under test in the middle, a "lan" host behind it. Every name is
// suffixed with our pid, so parallel test files never meet.
//
//   client ns <tag>c0-<pid>           gateway ns <tag>gw-<pid>                lan ns <tag>lan-<pid>
//   ┌────────────────────────┐        ┌───────────────────────────────┐       ┌────────────────────────┐
//   │ eth0 10.200.0.10/24    │◄─veth─►│ c0 ─┐                         │       │                        │
//   │      fd00:200::10/64   │        │     br0 10.200.0.1/24         │       │                        │
//   │ tunN (made by the VPN  │        │         fd00:200::1/64        │       │ eth0 10.201.0.2/24     │
//   │  client)               │        │ c1 ─┘  (outerIp)              │       │      fd00:201::2/64    │
//   └────────────────────────┘        │                               │       │ default via gateway    │
//   client ns <tag>c1-<pid> ...  ────►│ vpns0.. (gateway's TUNs)      │       │ (routes back to every  │
//                                     │ lan0 10.201.0.1/24 ◄──────────┼─veth─►│  VPN pool, no NAT)     │
//                                     │      fd00:201::1/64 (lanIp)   │       └────────────────────────┘
//                                     │ ip_forward=1, ipv6 forwarding │
//                                     └───────────────────────────────┘
//
// Clients only have the 10.200.0.0/24 link: the lan is reachable from them
// through the VPN tunnel or not at all. With `sharedClientNs` every client
// shares one namespace (one eth0, distinct TUN names and route metrics).
import { execFile, spawn as spawnProcess, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { WolfguardError, ErrorCodes } from '../../src/common/errors';
import { trackNamespace, untrackNamespace, trackProcess, untrackProcess, stopChild, namespacePidsSync } from './reaper';

export const OUTER_NET4 = '10.200.0';
export const OUTER_NET6 = 'fd00:200::';
export const LAN_NET4 = '10.201.0';
export const LAN_NET6 = 'fd00:201::';
export const OUTER_PREFIX4 = `${OUTER_NET4}.0/24`;
export const OUTER_PREFIX6 = `${OUTER_NET6}/64`;
export const LAN_PREFIX4 = `${LAN_NET4}.0/24`;
export const LAN_PREFIX6 = `${LAN_NET6}/64`;
/** The gateway namespace's bridge of the client links (outer side) and its link to the lan host. */
export const GW_OUTER_DEV = 'br0';
export const GW_LAN_DEV = 'lan0';
/** Each client namespace's link to the gateway's bridge. */
export const CLIENT_DEV = 'eth0';
/** Host part of the first client's outer address; client i gets FIRST_CLIENT_HOST + i. */
const FIRST_CLIENT_HOST = 10;
const MAX_CLIENTS = 240;
const EXEC_TIMEOUT_MS = 60_000;
const EXEC_MAX_BUFFER = 64 * 1024 * 1024;
const STOP_GRACE_MS = 2_000;

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  timeoutMs?: number;
  input?: string;
  env?: NodeJS.ProcessEnv;
}

/** Runs a command to completion in a namespace; never rejects for a non-zero exit (see execInNs). */
export function tryExecInNs(ns: string, cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = execFile('ip', ['netns', 'exec', ns, cmd, ...args], { timeout: opts.timeoutMs ?? EXEC_TIMEOUT_MS, maxBuffer: EXEC_MAX_BUFFER, encoding: 'utf8', env: opts.env ?? process.env, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (child.pid !== undefined) untrackProcess(child.pid);
      if (err !== null && typeof (err as { code?: unknown }).code === 'string') {
        reject(new Error(`cannot run ${cmd} in ${ns}: ${err.message}`));
        return;
      }
      resolve({ code: child.exitCode, signal: child.signalCode, stdout, stderr });
    });
    if (child.pid !== undefined) trackProcess(child.pid);
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Runs a command in a namespace; rejects with its stderr when it fails. */
export async function execInNs(ns: string, cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const r = await tryExecInNs(ns, cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} in ${ns} failed (${r.code ?? r.signal}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r;
}

/**
 * Starts a long-lived command in a namespace. `ip netns exec` execs the
 * command in place, so the returned child's pid is the command's own pid.
 */
export function spawnInNs(ns: string, cmd: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
  const child = spawnProcess('ip', ['netns', 'exec', ns, cmd, ...args], opts);
  if (child.pid !== undefined) {
    const pid = child.pid;
    trackProcess(pid);
    child.once('exit', () => untrackProcess(pid));
  }
  return child;
}

/** Feeds lines to `ip [-n ns] -batch -`: one process for many link/addr/route commands. */
async function ipBatch(ns: string | undefined, lines: string[]): Promise<void> {
  const args = ns === undefined ? ['-batch', '-'] : ['-n', ns, '-batch', '-'];
  await new Promise<void>((resolve, reject) => {
    const child = execFile('ip', args, { timeout: EXEC_TIMEOUT_MS, encoding: 'utf8' }, (err, _stdout, stderr) => {
      if (err !== null) reject(new Error(`ip ${args.join(' ')} failed: ${stderr.trim() || err.message}\n${lines.join('\n')}`));
      else resolve();
    });
    child.stdin?.end(lines.join('\n') + '\n');
  });
}

export interface TopologyOptions {
  /** Number of clients (default 1). */
  clients?: number;
  /** Short word in every namespace name (default "wg"); keeps `ip netns list` readable. */
  tag?: string;
  /** All clients in one namespace instead of one namespace each. */
  sharedClientNs?: boolean;
}

export interface ClientSlot {
  ns: string;
  ip: string;
  ip6: string;
}

export interface Topology {
  gw: { ns: string; outerIp: string; outerIp6: string; lanIp: string; lanIp6: string };
  lan: { ns: string; ip: string; ip6: string; prefix: string; prefix6: string };
  clients: ClientSlot[];
  /** Every namespace of the topology. */
  namespaces: string[];
  /** Wall time createTopology took, in ms. */
  createdMs: number;
  exec(ns: string, cmd: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  tryExec(ns: string, cmd: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  spawn(ns: string, cmd: string, args: readonly string[], opts?: SpawnOptions): ChildProcess;
  /** Stops what spawn() started, kills anything still inside the namespaces, deletes them. Idempotent. */
  destroy(): Promise<void>;
}

let topologySeq = 0;

export async function createTopology(opts: TopologyOptions = {}): Promise<Topology> {
  const started = process.hrtime.bigint();
  const n = opts.clients ?? 1;
  const tag = opts.tag ?? 'wg';
  if (!Number.isInteger(n) || n < 1 || n > MAX_CLIENTS) throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, `clients must be 1..${MAX_CLIENTS}, got ${n}`);
  if (!/^[a-z][a-z0-9]{0,7}$/.test(tag)) throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, `tag must be 1..8 lower-case letters/digits, got "${tag}"`);
  if (process.getuid?.() !== 0) throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, 'network namespaces need root');
  const seq = topologySeq++;
  const base = seq === 0 ? tag : `${tag}${seq}`;
  const suffix = `-${process.pid}`;
  const gwNs = `${base}gw${suffix}`;
  const lanNs = `${base}lan${suffix}`;
  const clientNsCount = opts.sharedClientNs === true ? 1 : n;
  const clientNs = Array.from({ length: clientNsCount }, (_, i) => `${base}c${i}${suffix}`);
  const all = [gwNs, lanNs, ...clientNs];
  const children = new Set<ChildProcess>();
  let destroyed = false;

  const clientIp = (i: number) => `${OUTER_NET4}.${FIRST_CLIENT_HOST + i}`;
  const clientIp6 = (i: number) => `${OUTER_NET6}${(FIRST_CLIENT_HOST + i).toString(16)}`;

  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    await Promise.all([...children].map((c) => stopChild(c, 'SIGTERM', STOP_GRACE_MS)));
    for (const ns of all) {
      for (const pid of namespacePidsSync(ns)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // raced with its exit
        }
      }
    }
    await Promise.all(
      all.map(
        (ns) =>
          new Promise<void>((resolve) => {
            execFile('ip', ['netns', 'del', ns], () => {
              untrackNamespace(ns);
              resolve();
            });
          }),
      ),
    );
  };

  for (const ns of all) trackNamespace(ns);
  try {
    await ipBatch(undefined, all.map((ns) => `netns add ${ns}`));
    // Every IPv6 address, link-local included, is added with nodad and the
    // kernel's own link-local is turned off (addrgenmode none): otherwise
    // link-locals stay tentative for ~1 s after link up, neighbour discovery
    // fails meanwhile and the first IPv6 packets through a fresh topology are
    // lost. (sysctl accept_dad=0 in every namespace works too but costs a
    // process per namespace.)
    const ipv6Link = (dev: string, host: number) => [`link set dev ${dev} addrgenmode none`, `addr add fe80::${host.toString(16)}/64 dev ${dev} nodad`];
    const gwLines = [
      'link set lo up',
      `link add ${GW_OUTER_DEV} type bridge`,
      ...ipv6Link(GW_OUTER_DEV, 1),
      `addr add ${OUTER_NET4}.1/24 dev ${GW_OUTER_DEV}`,
      `addr add ${OUTER_NET6}1/64 dev ${GW_OUTER_DEV} nodad`,
      `link set ${GW_OUTER_DEV} up`,
      `link add ${GW_LAN_DEV} type veth peer name eth0 netns ${lanNs}`,
      ...ipv6Link(GW_LAN_DEV, 1),
      `addr add ${LAN_NET4}.1/24 dev ${GW_LAN_DEV}`,
      `addr add ${LAN_NET6}1/64 dev ${GW_LAN_DEV} nodad`,
      `link set ${GW_LAN_DEV} up`,
    ];
    // Bridge ports carry no addresses of their own.
    clientNs.forEach((ns, i) => gwLines.push(`link add c${i} type veth peer name eth0 netns ${ns}`, `link set dev c${i} addrgenmode none`, `link set c${i} master ${GW_OUTER_DEV}`, `link set c${i} up`));
    await ipBatch(gwNs, gwLines);
    await Promise.all([
      ipBatch(lanNs, ['link set lo up', ...ipv6Link('eth0', 2), `addr add ${LAN_NET4}.2/24 dev eth0`, `addr add ${LAN_NET6}2/64 dev eth0 nodad`, 'link set eth0 up', `route add default via ${LAN_NET4}.1`, `route add ::/0 via ${LAN_NET6}1`]),
      ...clientNs.map((ns, i) => ipBatch(ns, ['link set lo up', ...ipv6Link('eth0', FIRST_CLIENT_HOST + i), `addr add ${clientIp(i)}/24 dev eth0`, `addr add ${clientIp6(i)}/64 dev eth0 nodad`, 'link set eth0 up'])),
      execInNs(gwNs, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']),
    ]);
  } catch (err) {
    await destroy();
    throw err;
  }

  const spawn = (ns: string, cmd: string, args: readonly string[], spawnOpts: SpawnOptions = {}): ChildProcess => {
    const c = spawnInNs(ns, cmd, args, spawnOpts);
    children.add(c);
    c.once('exit', () => children.delete(c));
    return c;
  };

  return {
    gw: { ns: gwNs, outerIp: `${OUTER_NET4}.1`, outerIp6: `${OUTER_NET6}1`, lanIp: `${LAN_NET4}.1`, lanIp6: `${LAN_NET6}1` },
    lan: { ns: lanNs, ip: `${LAN_NET4}.2`, ip6: `${LAN_NET6}2`, prefix: LAN_PREFIX4, prefix6: LAN_PREFIX6 },
    clients: Array.from({ length: n }, (_, i) => (opts.sharedClientNs === true ? { ns: clientNs[0]!, ip: clientIp(0), ip6: clientIp6(0) } : { ns: clientNs[i]!, ip: clientIp(i), ip6: clientIp6(i) })),
    namespaces: all,
    createdMs: Number(process.hrtime.bigint() - started) / 1e6,
    exec: execInNs,
    tryExec: tryExecInNs,
    spawn,
    destroy,
  };
}
