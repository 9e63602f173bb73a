// Loads the compiled addon and describes its raw surface. Everything here is
// what C++ exposes, unvalidated; the rest of native/lib wraps it with checks,
// types and WolfguardError codes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCodes, WolfguardError } from '../../src/common/errors';

/** Event kinds passed to a connection's onEvent (mirror of EventKind in connection.h). */
export const EventKind = {
  HANDSHAKE: 1,
  DATA: 2,
  DRAIN: 3,
  END: 4,
  ERROR: 5,
  PSK: 6,
  CONTROL: 7,
} as const;

export type OnEvent = (kind: number, a?: unknown, b?: unknown) => unknown;

export interface NativeContext {
  useCertificateChain(pem: Buffer): number;
  usePrivateKey(pem: Buffer): number;
  checkPrivateKey(): number;
  loadVerify(pem: Buffer): number;
  loadCrl(pem: Buffer): number;
  setVerify(mode: 0 | 1 | 2): number;
  setCipherList(list: string): number;
  setSessionCache(enabled: boolean, timeoutSec: number): number;
  setGroups(groups: number[]): number;
  setTickets(enabled: boolean): number;
  setTicketKeys(current: Buffer, previous?: Buffer): number;
  setPskIdentityHint(hint: string): number;
  enablePsk(): number;
  /** Legacy Cisco DTLS: sessions resumed only from setLegacySession of each connection. */
  enableLegacyResume(): number;
  free(): void;
}

export interface NativeSessionHandle {
  readonly __brand: 'WOLFSSL_SESSION';
}

export interface ConnectionStats {
  bytesIn: number;
  bytesOut: number;
  queuedOut: number;
  /** Tunnel mode: CSTP frames received / sent, packets dropped by the bounded queue, DPD answered. */
  framesIn?: number;
  framesOut?: number;
  txDrops?: number;
  /** Tunnel mode: times the tunnel stopped being written because its client fell behind (overload hand-back, connection.cc). */
  drainPauses?: number;
  /** Overload pauses ended by the client's answer to the pause's DPD probe (CSTP). */
  drainProbeResumes?: number;
  dpdAnswered?: number;
  /** DATA frames received (the idle timeout looks at these). */
  dataFramesIn?: number;
  /** Socket syscalls: with batching (TLS cork, DTLS sendmmsg/recvmmsg) fewer than frames. */
  sendCalls?: number;
  recvCalls?: number;
  /** DTLS: datagrams that left in UDP GSO runs (one sendmmsg() message carrying several, cut by the kernel). */
  gsoDatagrams?: number;
  /** Tunnel mode: milliseconds since the peer last sent anything. */
  idleMs?: number;
}

/** Slots of liveness()'s array (connection.cc kLivenessFields): what the tunnel check and the status totals read without building stats(). */
export const LivenessSlot = { idleMs: 0, dataFramesIn: 1, bytesIn: 2, bytesOut: 3, framesIn: 4, framesOut: 5, sendCalls: 6, recvCalls: 7, gsoDatagrams: 8 } as const;
export const LIVENESS_FIELDS = Object.keys(LivenessSlot).length;

export interface NativeConnection {
  start(): void;
  /** 1 written, 0 queued (DRAIN follows), < 0 wolfSSL error. */
  write(buf: Uint8Array): number;
  readStart(): void;
  readStop(): void;
  shutdown(): void;
  destroy(): void;
  exportKeyingMaterial(length: number, label: string, context?: Uint8Array): Buffer | number;
  info(): { version: string; cipher: string | null; resumed: boolean; group: string | null } | null;
  peerCertificates(): Buffer[];
  setPskServer(hint?: string): number;
  setPskClient(identity: string, key: Uint8Array): number;
  injectDatagram(buf: Uint8Array): number;
  setMtu(mtu: number): number;
  getSession(): NativeSessionHandle | null;
  setSession(s: NativeSessionHandle): number;
  stats(): ConnectionStats;
  /** Writes idle ms, DATA frames received and the traffic counters into out (LivenessSlot). */
  liveness(out: Float64Array): void;
  /** Frees the handshake secrets kept for the exporter. */
  releaseSecrets(): void;
  /** Tunnel mode: CSTP frames are handled natively from now on (1 = ok). */
  startTunnel(pump: NativePump, maxQueueBytes: number, head?: Buffer): number;
  /** Legacy Cisco DTLS (server): the session id, master secret and suite this connection resumes. */
  setLegacySession(id: Uint8Array, masterSecret: Uint8Array, suite: string): number;
}

export interface PumpStats {
  tunRxPackets: number;
  tunRxBytes: number;
  tunTxPackets: number;
  tunTxBytes: number;
  noRoute: number;
  tunTxDrops: number;
  malformed: number;
  routes: number;
  ringOut: number;
  ringOutDrops: number;
  ringIn: number;
  ringInNoRoute: number;
  wakeups: number;
  /** TUN reads done on the throttle timer while every tunnel of the pump was paused (WOLFGUARD_TUN_THROTTLE). */
  throttledReads: number;
  /** Steering map writes the kernel refused (its address map full, say); those tunnels' packets take the ring path. */
  steerErrors: number;
  /** First packets of a TUN read after a quiet spell (200 µs), sent before the read that finds the queue empty (native/src/tun.cc, kQuietNs). */
  earlyFlushes: number;
  /** CPU time of the shard's data-plane thread (WOLFGUARD_DATA_THREAD), ms; 0 without one. */
  planeCpuMs: number;
  /** The data-plane thread's time slice as the kernel reports it, µs; 0 = the kernel's default (none asked, or a kernel before 6.12). */
  planeSliceUs: number;
  /** The one CPU the data-plane thread may run on now (WOLFGUARD_PLANE_CPUS), or -1: none asked, not kept there now (planeCpuKeep 'shared' with fewer than two planes carrying packets), the kernel refused it, or an operator's taskset widened it since. */
  planeCpu: number;
  /** The CPU the data-plane thread is kept on whenever it is kept on one, or -1: none asked, or the kernel refused it. */
  planeCpuAssigned: number;
  /** write() calls the packets written to the TUN queue took (a run of UDP datagrams takes one: framing 'uso'). */
  tunTxWrites: number;
  /** Packets written to the TUN queue in a run of several (framing 'uso'). */
  tunTxCoalesced: number;
}

export interface NativePump {
  addRoute(conn: NativeConnection, address: Buffer): number;
  removeRoutes(conn: NativeConnection): void;
  stats(): PumpStats;
  close(): void;
  attachMesh(self: number, routes: Uint8Array, outRings: Array<Uint8Array | null>, inRings: Array<Uint8Array | null>, wakeFds: number[], steerFd?: number): number;
}

export interface NativeAddon {
  wolfsslVersion: string;
  /** The hash of wolfSSL's Hash_DRBG: SHA-256, chosen at load (native/src/alloc.cc). */
  drbg: 'SHA-256' | 'SHA-512';
  versions: Record<'TLSv1.2' | 'TLSv1.3' | 'DTLSv1.2' | 'DTLSv1.3', number>;
  hashTypes: Record<'sha1' | 'sha256' | 'sha384' | 'sha512', number>;
  Context: new (dtls: boolean, server: boolean, minVersion: number, maxVersion: number) => NativeContext;
  Connection: new (ctx: NativeContext, fd: number, onEvent: OnEvent) => NativeConnection;
  Pump: new (tunQueueFd: number, planeSliceUs: number, planeCpu: number, planeCpuShared: 0 | 1, framing: number) => NativePump;
  /** The CPUs this process may run on (sched_getaffinity), ascending. */
  allowedCpus(): number[];
  tunOpen(name: string, queues: number, framing: number): { name: string; fds: number[]; vnet: number };
  eventFd(): number;
  /** Attaches the queue-steering program to the TUN device of tunFd: [address map fd, queue map fd]; throws naming the failing step. */
  tunSteer(tunFd: number, addressCapacity: number, shards: number): [number, number];
  /** 0 or -errno. */
  tunSteerQueue(queueMapFd: number, shard: number, queueIndex: number): number;
  /** The owner shard the address map holds for an address, or -errno (-2: none). */
  tunSteerOwner(addressMapFd: number, address: Buffer): number;
  routeLease(routes: Uint8Array, address: Buffer): [number, number];
  ciphers(): string | null;
  /** A client session to resume as a legacy Cisco DTLS client does, or a wolfSSL code. */
  legacyClientSession(id: Uint8Array, masterSecret: Uint8Array, suite: string): NativeSessionHandle | number;
  allocatorStats(): { allocator: string; mimallocVersion: number; allocs: number; frees: number };
  hmac(type: number, key: Uint8Array, data: Uint8Array): Buffer;
  sha256(data: Uint8Array): Buffer;
  randomBytes(n: number): Buffer;
  crypt(password: string, setting: string, cb: (err: Error | null, hash: string | null) => void): void;
  gensalt(prefix: string, rounds: number): string | null;
  dupFd(fd: number): number;
  closeFd(fd: number): void;
  udpConnect(localIp: string, localPort: number, remoteIp: string, remotePort: number, rcvBufBytes: number): number;
  rcvBufBytes(fd: number): number | null;
  peerName(fd: number): { address: string; port: number; family: 'IPv4' | 'IPv6' } | null;
  sockName(fd: number): { address: string; port: number; family: 'IPv4' | 'IPv6' } | null;
}

/** The project root: the nearest folder above this file holding package.json. */
function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'native'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return path.resolve(__dirname, '..', '..', '..');
    dir = up;
  }
}

let loaded: NativeAddon | undefined;

/** Where the addon is loaded from (WOLFGUARD_ADDON, else the package's build). */
export function addonFile(): string {
  return process.env.WOLFGUARD_ADDON ?? path.join(packageRoot(), 'native', 'build', 'Release', 'wolfguard.node');
}

/** The addon of this thread (each worker_thread gets its own instance state). */
export function addon(): NativeAddon {
  if (loaded) return loaded;
  const file = addonFile();
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require(file) as NativeAddon;
  } catch (e) {
    throw new WolfguardError(
      ErrorCodes.ADDON_LOAD,
      `cannot load the native addon at ${file}: ${(e as Error).message} (run \`npm install\` to build it)`,
      { file },
      { cause: e },
    );
  }
  return loaded;
}
