// The reference gateway: Debian's ocserv (1.1.x) run in the gateway namespace
// with a generated config and password file. Used to prove the harness and as
// the baseline wolfguard is compared with.
//
// What this ocserv needs to run inside a test namespace (found on Debian 12,
// ocserv 1.1.6): run-as-user/group that exist (nobody/nogroup), a
// socket-file and pid-file we can write (the folder must be traversable by
// nobody: sec-mod's socket is created there and owned by nobody),
// rate-limit-ms = 0 and max-ban-score = 0 (otherwise concurrent logins are
// delayed and wrong-password tests get the client IP banned),
// max-same-clients = 0 (many clients share a user), and `-f` so it stays our
// child (it makes itself a process group leader, so its "kill(0, SIGKILL)"
// when workers will not die stays inside its own group). isolate-workers
// (seccomp) is off to keep worker failures readable; not tried on. use-occtl
// is on with its socket in the folder.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WolfguardError, ErrorCodes } from '../../src/common/errors';
import { formatAddress, netmaskFromPrefix, parsePrefix, FAMILY_V4, FAMILY_V6 } from '../../src/common/address';
import { spawnInNs, tryExecInNs, type ExecResult } from './netns';
import { exitOf, stopChild, type ExitStatus } from './reaper';

const OCSERV = '/usr/sbin/ocserv';
const OCCTL = '/usr/bin/occtl';
const DEFAULT_READY_TIMEOUT_MS = 10_000;
const READY_POLL_MS = 50;
const STOP_GRACE_MS = 5_000;

export interface OcservUser {
  name: string;
  password: string;
  /** ocpasswd group field entries (default none: "*"). */
  groups?: string[];
}

export interface OcservOptions {
  /** Gateway namespace. */
  ns: string;
  /** Folder for ocserv.conf, ocpasswd, sockets, pid and log; made if missing, chmod 0755. */
  dir: string;
  /** TCP port; UDP (DTLS) uses the same unless udpPort is given. */
  port: number;
  /** 0 disables DTLS (no udp-port line). */
  udpPort?: number;
  cert: string;
  key: string;
  users: OcservUser[];
  /** e.g. 10.77.0.0/24 */
  ipv4Pool: string;
  /** e.g. fd00:77::/64; each client gets a /128 from it. */
  ipv6Pool?: string;
  /** Split-include routes pushed to clients (CIDR, v4 or v6); none means "everything". */
  routes?: string[];
  dns?: string[];
  defaultDomain?: string;
  dpd?: number;
  keepalive?: number;
  mtu?: number;
  /** GnuTLS priority string (tls-priorities). */
  tlsPriorities?: string;
  maxClients?: number;
  /** ocserv -d level (default 1). */
  debug?: number;
  /** Extra raw config lines. */
  extra?: string[];
  /** An OTP users file (liboath format): auth = "plain[passwd=...,otp=FILE]". */
  otpFile?: string;
  /** auth lines (values, quoted as written) replacing the default plain one, e.g. ['"certificate"']. */
  auth?: string[];
  readyTimeoutMs?: number;
}

export interface OcservHandle {
  pid: number;
  confPath: string;
  logPath: string;
  argv: string[];
  /** ms from spawn until the TCP port listened. */
  readyMs: number;
  exited: Promise<ExitStatus>;
  log(): string;
  /** occtl against this instance (e.g. ['show', 'users']). */
  occtl(args: string[]): Promise<ExecResult>;
  /** SIGTERM (ocserv stops its workers), then SIGKILL of the whole tree after a grace period. */
  stop(): Promise<ExitStatus>;
}

function poolLines(v4: string, v6: string | undefined): string[] {
  const p4 = parsePrefix(v4);
  if (p4.family !== FAMILY_V4) throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, `ipv4Pool must be IPv4, got ${v4}`);
  const lines = [`ipv4-network = ${formatAddress(p4.words, p4.family)}`, `ipv4-netmask = ${netmaskFromPrefix(p4.length)}`];
  if (v6 !== undefined) {
    const p6 = parsePrefix(v6);
    if (p6.family !== FAMILY_V6) throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, `ipv6Pool must be IPv6, got ${v6}`);
    lines.push(`ipv6-network = ${v6}`, 'ipv6-subnet-prefix = 128');
  }
  return lines;
}

/** ocpasswd lines ("user:*:sha512-crypt"); hashes made by `openssl passwd -6`, the crypt(3) ocserv checks with. */
export function ocpasswdText(users: OcservUser[]): string {
  return users
    .map((u) => {
      if (!/^[A-Za-z0-9._@-]+$/.test(u.name)) throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, `user name "${u.name}" not usable in ocpasswd`);
      const hash = execFileSync('openssl', ['passwd', '-6', '-stdin'], { input: `${u.password}\n`, encoding: 'utf8' }).trim();
      return `${u.name}:${u.groups && u.groups.length > 0 ? u.groups.join(',') : '*'}:${hash}\n`;
    })
    .join('');
}

export function ocservConfig(opts: OcservOptions): string {
  const dir = path.resolve(opts.dir);
  const udp = opts.udpPort ?? opts.port;
  const lines = [
    ...(opts.auth ?? [`"plain[passwd=${path.join(dir, 'ocpasswd')}${opts.otpFile === undefined ? '' : `,otp=${path.resolve(opts.otpFile)}`}]"`]).map((a) => `auth = ${a}`),
    `tcp-port = ${opts.port}`,
    ...(udp === 0 ? [] : [`udp-port = ${udp}`]),
    'run-as-user = nobody',
    'run-as-group = nogroup',
    `socket-file = ${path.join(dir, 'ocserv.sock')}`,
    `pid-file = ${path.join(dir, 'ocserv.pid')}`,
    'use-occtl = true',
    `occtl-socket-file = ${path.join(dir, 'occtl.sock')}`,
    `server-cert = ${path.resolve(opts.cert)}`,
    `server-key = ${path.resolve(opts.key)}`,
    'isolate-workers = false',
    `max-clients = ${opts.maxClients ?? 128}`,
    'max-same-clients = 0',
    'rate-limit-ms = 0',
    'max-ban-score = 0',
    'auth-timeout = 60',
    'cookie-timeout = 300',
    'deny-roaming = false',
    'try-mtu-discovery = false',
    `keepalive = ${opts.keepalive ?? 32400}`,
    `dpd = ${opts.dpd ?? 90}`,
    'mobile-dpd = 1800',
    'device = vpns',
    'predictable-ips = true',
    'ping-leases = false',
    ...poolLines(opts.ipv4Pool, opts.ipv6Pool),
    ...(opts.dns ?? []).map((d) => `dns = ${d}`),
    ...(opts.defaultDomain === undefined ? [] : [`default-domain = ${opts.defaultDomain}`]),
    ...(opts.routes ?? []).map((r) => `route = ${r}`),
    ...(opts.mtu === undefined ? [] : [`mtu = ${opts.mtu}`]),
    ...(opts.tlsPriorities === undefined ? [] : [`tls-priorities = "${opts.tlsPriorities}"`]),
    ...(opts.extra ?? []),
  ];
  return lines.join('\n') + '\n';
}

const OTHERS_SEARCH = 0o001;

/** ocserv workers run as nobody and must reach sec-mod's socket in dir: every folder above it must be searchable by others. */
function checkReachableByNobody(dir: string): void {
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    if ((fs.statSync(d).mode & OTHERS_SEARCH) === 0) {
      throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, `ocserv workers (user nobody) cannot reach ${dir}: ${d} lacks o+x (mkdtemp makes 0700; chmod it 0755)`);
    }
    if (d === path.dirname(d)) return;
  }
}

export async function startOcserv(opts: OcservOptions): Promise<OcservHandle> {
  const dir = path.resolve(opts.dir);
  fs.mkdirSync(dir, { recursive: true });
  fs.chmodSync(dir, 0o755);
  checkReachableByNobody(dir);
  const confPath = path.join(dir, 'ocserv.conf');
  const logPath = path.join(dir, 'ocserv.log');
  fs.writeFileSync(path.join(dir, 'ocpasswd'), ocpasswdText(opts.users), { mode: 0o644 });
  fs.writeFileSync(confPath, ocservConfig(opts));
  const argv = [OCSERV, '-f', '-d', String(opts.debug ?? 1), '-c', confPath];
  // A file, not a pipe: nobody reads a pipe during a long bench and a full pipe would stall ocserv.
  const logFd = fs.openSync(logPath, 'w');
  const started = process.hrtime.bigint();
  let child;
  try {
    child = spawnInNs(opts.ns, argv[0]!, argv.slice(1), { stdio: ['ignore', logFd, logFd] });
  } finally {
    fs.closeSync(logFd);
  }
  const exited = exitOf(child);
  const log = () => {
    try {
      return fs.readFileSync(logPath, 'utf8');
    } catch {
      return '';
    }
  };
  const deadline = Date.now() + (opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS);
  let gone: ExitStatus | undefined;
  void exited.then((st) => (gone = st));
  for (;;) {
    if (gone !== undefined) throw new Error(`ocserv exited (code ${gone.code}, signal ${gone.signal}) before listening:\n${log()}`);
    // ss shows the listening socket without connecting to it (a probe connection would fork a worker).
    const ss = await tryExecInNs(opts.ns, 'ss', ['-Hltn', `sport = :${opts.port}`]);
    if (ss.stdout.includes('LISTEN') && log().includes('sec-mod initialized')) break;
    if (Date.now() > deadline) {
      await stopChild(child, 'SIGTERM', STOP_GRACE_MS);
      throw new Error(`ocserv did not listen on ${opts.port} in time:\n${log()}`);
    }
    await new Promise((r) => setTimeout(r, READY_POLL_MS));
  }
  const readyMs = Number(process.hrtime.bigint() - started) / 1e6;
  return {
    pid: child.pid!,
    confPath,
    logPath,
    argv,
    readyMs,
    exited,
    log,
    occtl: (args) => tryExecInNs(opts.ns, OCCTL, ['-s', path.join(dir, 'occtl.sock'), ...args]),
    stop: () => stopChild(child, 'SIGTERM', STOP_GRACE_MS),
  };
}
