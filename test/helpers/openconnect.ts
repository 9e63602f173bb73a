// The real openconnect client, driven inside a client namespace. It logs in
// with the password on stdin, pins the server certificate, and configures its
// TUN through test/helpers/vpnc-script.sh, whose JSON lines (one per script
// call) are how we learn that the tunnel is up and what the gateway pushed.
import { createHash, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WolfguardError, ErrorCodes } from '../../src/common/errors';
import { spawnInNs } from './netns';
import { exitOf, stopChild, trackPath, untrackPath, type ExitStatus } from './reaper';

export const OPENCONNECT = '/usr/sbin/openconnect';
const DEFAULT_CONNECT_TIMEOUT_MS = 20_000;
const STATE_POLL_MS = 20;
const STOP_GRACE_MS = 5_000;
/** Kept output per stream; enough for -v of a whole session, bounded for long benches. */
const MAX_OUTPUT_CHARS = 1 << 20;
/** Route metric of the first client; each later client in this process gets the next one. */
const FIRST_ROUTE_METRIC = 100;
/** Linux IFNAMSIZ - 1. */
const MAX_IFNAME = 15;

/** openconnect's --servercert value for a PEM certificate: "pin-sha256:" + base64(SHA-256(SubjectPublicKeyInfo DER)). */
export function pinSha256(certFile: string): string {
  const cert = new X509Certificate(fs.readFileSync(certFile));
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return `pin-sha256:${createHash('sha256').update(spki).digest('base64')}`;
}

/** The repository root (the folder with package.json), whether we run from test/ or from a build folder. */
function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new WolfguardError(ErrorCodes.FILE_NOT_FOUND, `no package.json above ${__dirname}`);
    dir = up;
  }
}

export const VPNC_SCRIPT = path.join(repoRoot(), 'test', 'helpers', 'vpnc-script.sh');

/** One call of the vpnc-script, decoded. `raw` keeps every variable as openconnect set it. */
export interface VpncState {
  reason: string;
  tundev: string;
  gateway: string;
  ip4?: { address: string; netmask?: string; netaddr?: string; masklen?: number };
  ip6?: { address: string; netmask?: string };
  mtu?: number;
  dns4: string[];
  dns6: string[];
  domain?: string;
  splitInclude: string[];
  splitExclude: string[];
  splitInclude6: string[];
  splitExclude6: string[];
  /** Routes the script installed. */
  routes: string[];
  /** ip commands that failed in the script ("" when none). */
  errors: string;
  raw: Record<string, string>;
}

function list(v: string | undefined): string[] {
  return v === undefined ? [] : v.split(/\s+/).filter((s) => s !== '');
}

function splitList(raw: Record<string, string>, prefix: string): string[] {
  const n = Number(raw[prefix] ?? '0');
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const addr = raw[`${prefix}_${i}_ADDR`];
    const len = raw[`${prefix}_${i}_MASKLEN`];
    if (addr !== undefined && len !== undefined) out.push(`${addr}/${len}`);
  }
  return out;
}

export function decodeVpncState(raw: Record<string, string>): VpncState {
  const s: VpncState = {
    reason: raw.reason ?? '',
    tundev: raw.TUNDEV ?? '',
    gateway: raw.VPNGATEWAY ?? '',
    dns4: list(raw.INTERNAL_IP4_DNS),
    dns6: list(raw.INTERNAL_IP6_DNS),
    splitInclude: splitList(raw, 'CISCO_SPLIT_INC'),
    splitExclude: splitList(raw, 'CISCO_SPLIT_EXC'),
    splitInclude6: splitList(raw, 'CISCO_IPV6_SPLIT_INC'),
    splitExclude6: splitList(raw, 'CISCO_IPV6_SPLIT_EXC'),
    routes: (raw.WG_SCRIPT_ROUTES ?? '').split(';').filter((r) => r !== ''),
    errors: raw.WG_SCRIPT_ERRORS ?? '',
    raw,
  };
  if (raw.INTERNAL_IP4_ADDRESS !== undefined) {
    s.ip4 = { address: raw.INTERNAL_IP4_ADDRESS };
    if (raw.INTERNAL_IP4_NETMASK !== undefined) s.ip4.netmask = raw.INTERNAL_IP4_NETMASK;
    if (raw.INTERNAL_IP4_NETADDR !== undefined) s.ip4.netaddr = raw.INTERNAL_IP4_NETADDR;
    if (raw.INTERNAL_IP4_NETMASKLEN !== undefined) s.ip4.masklen = Number(raw.INTERNAL_IP4_NETMASKLEN);
  }
  if (raw.INTERNAL_IP6_ADDRESS !== undefined || raw.INTERNAL_IP6_NETMASK !== undefined) {
    s.ip6 = { address: raw.INTERNAL_IP6_ADDRESS ?? raw.INTERNAL_IP6_NETMASK!.split('/')[0]! };
    if (raw.INTERNAL_IP6_NETMASK !== undefined) s.ip6.netmask = raw.INTERNAL_IP6_NETMASK;
  }
  if (raw.INTERNAL_IP4_MTU !== undefined) s.mtu = Number(raw.INTERNAL_IP4_MTU);
  if (raw.CISCO_DEF_DOMAIN !== undefined) s.domain = raw.CISCO_DEF_DOMAIN;
  return s;
}

/** Every complete JSON line of a state file (a line still being written is skipped). */
export function readVpncStates(file: string): VpncState[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const end = text.lastIndexOf('\n');
  if (end < 0) return [];
  return text
    .slice(0, end)
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      let o: unknown;
      try {
        o = JSON.parse(l);
      } catch {
        throw new WolfguardError(ErrorCodes.PROTOCOL, `${file}: vpnc-script wrote a line that is not JSON: ${l.slice(0, 200)}`);
      }
      if (o === null || typeof o !== 'object' || Array.isArray(o) || Object.values(o).some((v) => typeof v !== 'string')) {
        throw new WolfguardError(ErrorCodes.PROTOCOL, `${file}: vpnc-script line is not an object of strings: ${l.slice(0, 200)}`);
      }
      return decodeVpncState(o as Record<string, string>);
    });
}

export interface OpenconnectOptions {
  ns: string;
  /** e.g. https://10.200.0.1:4443/ */
  url: string;
  user: string;
  password: string;
  /** "pin-sha256:<b64>" (see pinSha256) or just the base64. */
  servercertPin: string;
  /** TUN name; default oc<N>, unique in this process. */
  interfaceName?: string;
  /** --no-dtls: CSTP (TLS) only. */
  noDtls?: boolean;
  /** -v (default true): HTTP exchange and negotiated ciphersuites in stdout. */
  verbose?: boolean;
  extraArgs?: string[];
  /** JSON-lines file for the vpnc-script; default a temp file removed at process exit. */
  stateFile?: string;
  connectTimeoutMs?: number;
}

export interface OpenconnectClient {
  pid: number;
  /** The argv openconnect ran with (after `ip netns exec <ns>`). */
  argv: string[];
  interfaceName: string;
  stateFile: string;
  /** What the script recorded on reason=connect. */
  state: VpncState;
  /** ms from spawn to the connect script call. */
  connectMs: number;
  /** "(TLS1.3)-(ECDHE-SECP256R1)-(ECDSA-SECP256R1-SHA256)-(AES-256-GCM)" as openconnect -v printed it. */
  tlsCiphersuite: string | undefined;
  exited: Promise<ExitStatus>;
  stdout(): string;
  stderr(): string;
  /** Every script call so far (pre-init, connect, ..., disconnect). */
  events(): VpncState[];
  /** Resolves with the first match of re in stdout+stderr, waiting up to timeoutMs. */
  waitForOutput(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** SIGINT (openconnect says BYE and runs the disconnect script), then SIGKILL after a grace period. */
  stop(): Promise<ExitStatus>;
}

/** openconnect ended before the tunnel came up (wrong password, refused certificate...). */
export class OpenconnectExitError extends Error {
  constructor(
    readonly status: ExitStatus,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(`openconnect exited (code ${status.code}, signal ${status.signal}) before connecting:\n${stderr.trim()}\n--- stdout ---\n${stdout.trim().split('\n').slice(-20).join('\n')}`);
    this.name = 'OpenconnectExitError';
  }
}

let clientSeq = 0;

function appendCapped(buf: string, chunk: string): string {
  const s = buf + chunk;
  return s.length > MAX_OUTPUT_CHARS ? s.slice(s.length - MAX_OUTPUT_CHARS) : s;
}

export function openconnectArgs(opts: OpenconnectOptions, interfaceName: string): string[] {
  const pin = opts.servercertPin.startsWith('pin-sha256:') ? opts.servercertPin : `pin-sha256:${opts.servercertPin}`;
  return [
    '--non-inter',
    '--passwd-on-stdin',
    '-u',
    opts.user,
    '--servercert',
    pin,
    // openconnect runs the script with /bin/sh -c, so the exec bit is not needed.
    '--script',
    `/bin/sh '${VPNC_SCRIPT}'`,
    '--interface',
    interfaceName,
    ...(opts.noDtls === true ? ['--no-dtls'] : []),
    ...(opts.verbose === false ? [] : ['-v']),
    ...(opts.extraArgs ?? []),
    opts.url,
  ];
}

export async function startOpenconnect(opts: OpenconnectOptions): Promise<OpenconnectClient> {
  const seq = clientSeq++;
  const interfaceName = opts.interfaceName ?? `oc${seq}`;
  if (interfaceName.length > MAX_IFNAME) throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, `interface name "${interfaceName}" longer than ${MAX_IFNAME}`);
  let stateFile = opts.stateFile;
  let ownDir: string | undefined;
  if (stateFile === undefined) {
    ownDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-oc-'));
    trackPath(ownDir);
    stateFile = path.join(ownDir, 'vpnc.jsonl');
  }
  // Our temp folder goes once openconnect is gone; events() keeps answering from the last read.
  let finalEvents: VpncState[] | undefined;
  const release = (): void => {
    if (ownDir === undefined) return;
    try {
      finalEvents = readVpncStates(stateFile!);
    } catch {
      finalEvents = [];
    }
    fs.rmSync(ownDir, { recursive: true, force: true });
    untrackPath(ownDir);
    ownDir = undefined;
  };
  fs.writeFileSync(stateFile, '');
  const argv = [OPENCONNECT, ...openconnectArgs(opts, interfaceName)];
  const started = process.hrtime.bigint();
  const child = spawnInNs(opts.ns, argv[0]!, argv.slice(1), {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, WG_VPNC_STATE: stateFile, WG_ROUTE_METRIC: String(FIRST_ROUTE_METRIC + seq) },
  });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  const wake = () => waiters.forEach((w) => w());
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out = appendCapped(out, d);
    wake();
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err = appendCapped(err, d);
    wake();
  });
  child.stdin!.on('error', () => undefined); // it may exit before reading the password
  child.stdin!.end(`${opts.password}\n`);
  const exited = exitOf(child);
  const streamsDone = Promise.all([new Promise((r) => child.stdout!.once('close', r)), new Promise((r) => child.stderr!.once('close', r))]);
  const file = stateFile;

  const findConnect = (): VpncState | Error | undefined => {
    try {
      return readVpncStates(file).find((s) => s.reason === 'connect');
    } catch (e) {
      return e as Error;
    }
  };
  const connected = await new Promise<VpncState | ExitStatus | Error | 'timeout'>((resolve) => {
    let done = false;
    const finish = (v: VpncState | ExitStatus | Error | 'timeout') => {
      if (done) return;
      done = true;
      clearInterval(poll);
      clearTimeout(timer);
      resolve(v);
    };
    const poll = setInterval(() => {
      const c = findConnect();
      if (c !== undefined) finish(c);
    }, STATE_POLL_MS);
    const timer = setTimeout(() => finish('timeout'), opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
    void exited.then((st) => {
      // The script may have written connect just before a fast exit.
      finish(findConnect() ?? st);
    });
  });
  const connectMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (connected instanceof Error) {
    await stopChild(child, 'SIGINT', STOP_GRACE_MS);
    await streamsDone;
    release();
    throw connected;
  }
  if (connected === 'timeout') {
    await stopChild(child, 'SIGINT', STOP_GRACE_MS);
    await streamsDone;
    release();
    throw new Error(`openconnect did not connect within ${opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS} ms:\n${err}\n--- stdout ---\n${out}`);
  }
  if (!('reason' in connected)) {
    await streamsDone;
    release();
    throw new OpenconnectExitError(connected, out, err);
  }
  if (connected.errors !== '') {
    await stopChild(child, 'SIGINT', STOP_GRACE_MS);
    release();
    throw new Error(`vpnc-script could not configure ${interfaceName}: ${connected.errors}`);
  }

  return {
    pid: child.pid!,
    argv,
    interfaceName,
    stateFile: file,
    state: connected,
    connectMs,
    tlsCiphersuite: /Connected to HTTPS on \S+ with ciphersuite (\S+)/.exec(out)?.[1],
    exited,
    stdout: () => out,
    stderr: () => err,
    events: () => finalEvents ?? readVpncStates(file),
    waitForOutput: (re, timeoutMs) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const m = re.exec(out) ?? re.exec(err);
          if (m !== null) {
            cleanup();
            resolve(m);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`openconnect output did not match ${re} within ${timeoutMs} ms:\n${err}\n--- stdout ---\n${out}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
    stop: async () => {
      const st = await stopChild(child, 'SIGINT', STOP_GRACE_MS);
      await streamsDone;
      release();
      return st;
    },
  };
}
