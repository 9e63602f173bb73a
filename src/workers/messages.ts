// The messages main thread and shards exchange over the worker port. Kept
// small and flat: they are structured-cloned on every connection and login.
import type { GatewayConfig } from '../main/config/types';
import type { PlaneCpuKeep, TunFraming } from '../../native/lib';
import type { AuthField } from '../protocol/auth-xml';

/** main → shard: take over this accepted TCP connection. */
export interface AdoptMessage {
  type: 'adopt';
  /** A private duplicate of the accepted socket's fd; the shard owns it now. */
  fd: number;
  peer: PeerInfo;
}

/** Both ends of an accepted connection; `local` is the gateway address the client reached (multi-homed gateways answer DTLS from it). */
export interface PeerInfo {
  address: string;
  port: number;
  local?: string;
}

/** main → shard: close a tunnel connection (session ended, or moved to another connection). */
export interface KickMessage {
  type: 'kick';
  conn: number;
  reason: string;
  /**
   * The session ended for good: tell the client with a CSTP DISCONNECT (as
   * ocserv does) so it quits instead of retrying a dead cookie. Not for a
   * disconnect that lets the client come back with its cookie.
   */
  notify?: boolean;
}

/** main → shard: the answer to a request the shard made. */
export interface ReplyMessage {
  type: 'reply';
  id: number;
  result: LoginReply | ConnectReply;
}

/** main → shard: a DTLS ClientHello for one of this shard's tunnels, with a UDP socket connected to its sender. */
export interface DtlsHandoffMessage {
  type: 'dtls';
  conn: number;
  /** The shard owns it now. */
  fd: number;
  hello: Uint8Array;
}

/** A stats request; `loop`: the metrics endpoint's, which also wants the shard's event-loop figures (loop-monitor.ts). */
export interface StatsRequest {
  type: 'stats';
  id: number;
  loop?: boolean;
}

export type ToShard = AdoptMessage | KickMessage | ReplyMessage | DtlsHandoffMessage | StatsRequest | { type: 'crash' } | { type: 'config'; gateway: GatewayConfig } | TicketKeysMessage | { type: 'stop' };

/** New TLS session-ticket keys (current first, then the previous one), the same for every shard. */
export interface TicketKeysMessage {
  type: 'ticket-keys';
  keys: Uint8Array[];
}

/**
 * Tunnels whose DTLS channel is up, the data packets they received, the frames
 * they sent, and the socket syscalls that took (batching: calls < frames).
 */
export interface DtlsShardStats {
  up: number;
  dataFramesIn: number;
  framesOut: number;
  sendCalls: number;
  recvCalls: number;
  /** Datagrams sent in UDP GSO runs (of framesOut). */
  gsoDatagrams: number;
}

/** Bytes (plaintext: CSTP frames on TLS, typed records on DTLS) and frames of one channel of the shard's tunnels. */
export interface ChannelCounters {
  bytesIn: number;
  bytesOut: number;
  framesIn: number;
  framesOut: number;
}

/** A shard's traffic by channel. */
export interface ChannelStats {
  tls: ChannelCounters;
  dtls: ChannelCounters;
}

/** A shard's counters, for the admin interface and tests. */
export interface ShardStats {
  shard: number;
  connections: number;
  tunnels: number;
  dtls: DtlsShardStats;
  /** Tunnel traffic by channel since the shard started (ended tunnels included). */
  channels: ChannelStats;
  pump?: import('../../native/lib').PumpStats;
  /** Event-loop delay p99 and utilization since the previous stats request with `loop` (loop-monitor.ts); absent before the second one. */
  lagP99Ms?: number;
  loopUtilization?: number;
  /** TLS handshakes in progress, and the pending ones closed to make room (max-pending-handshakes). */
  handshakes?: { pending: number; evicted: number };
}

/** What a shard needs to know of a session to open its tunnel. */
export interface TunnelSession {
  id: string;
  user: string;
  lease: number;
  /** When the session was created (the session timeout counts from here). */
  createdAt: number;
  /** Hex of the DTLS App-ID offered in the CONNECT reply. */
  dtlsAppId: string;
  ipv4?: string;
  ipv6?: string;
  /** Per-user/group overrides of the gateway's routes, no-routes and DNS (config-per-user/-group); absent = the gateway's. */
  routes?: string[];
  noRoutes?: string[];
  dns?: string[];
  /** The group the session logged in with. */
  group?: string;
}

/** Another round of the login form (a second factor): the client answers it with `context` as its webvpncontext cookie. */
export interface LoginNextRound {
  context: string;
  message: string;
  fields: AuthField[];
}

/** A failure with `next` is not a failure yet: the login needs another round (shards that do not know `next` fail closed). */
/** `status` 503: the gateway cannot take logins now (cluster state unavailable); absent = 401. */
export type LoginReply = { ok: true; cookie: string; user: string } | { ok: false; reason: string; next?: LoginNextRound; status?: 503 };
export type ConnectReply = { ok: true; session: TunnelSession } | { ok: false; status: 401 | 503; reason: string };

export interface LoginRequest {
  type: 'login';
  id: number;
  shard: number;
  username: string;
  password: string;
  peer: string;
  /** The webvpncontext cookie of an earlier round of the same login. */
  context?: string;
  /** The second-factor field (secondary_password). */
  secondaryPassword?: string;
  /** The group the client chose (<group-select> / group_list). */
  group?: string;
  /** The client certificate wolfSSL verified in this connection's handshake (certificate login). */
  cert?: import('../main/auth/cert-fields').CertIdentity;
}

export interface ConnectRequest {
  type: 'connect';
  id: number;
  shard: number;
  conn: number;
  cookie: string;
  peer: string;
  /** The gateway address the client's TLS connection reached. */
  local?: string;
}

/** shard → main: a tunnel connection ended (logout = the client said so). */
export interface TunnelClosedMessage {
  type: 'tunnel-closed';
  shard: number;
  conn: number;
  sessionId: string;
  logout: boolean;
  reason: string;
}

/** shard → main. */
export type FromShard =
  | { type: 'ready'; shard: number }
  | { type: 'released'; shard: number; count: number; handshakeMs: number[] }
  | { type: 'error'; shard: number; message: string }
  | { type: 'stats'; id: number; stats: ShardStats }
  | LoginRequest
  | ConnectRequest
  | TunnelClosedMessage;

/** The cross-shard data-plane mesh a shard's pump joins (see native/lib/tun.ts attachMesh). */
export interface MeshConfig {
  routes: SharedArrayBuffer;
  /** outRings[i]: this shard → shard i (null for itself). */
  outRings: Array<SharedArrayBuffer | null>;
  /** inRings[i]: shard i → this shard. */
  inRings: Array<SharedArrayBuffer | null>;
  wakeFds: number[];
  /** The TUN steering program's address map fd (process-wide; owned by the main thread), when steering is on. */
  steerFd?: number;
}

export interface ShardConfig {
  shard: number;
  certFile: string;
  keyFile: string;
  /** Milliseconds a TLS handshake may take before the connection is dropped. */
  handshakeTimeoutMs: number;
  /** The gateway's configuration (absent: TLS and HTTP only, as in the thread-shape test). */
  gateway?: GatewayConfig;
  /** This shard's queue of the TUN device (absent: no data plane). */
  tunFd?: number;
  /** How tunFd was opened (absent: plain). */
  tunFraming?: TunFraming;
  /** The pump's data-plane thread slice, µs (TunnelPumpOptions; absent: its default). */
  planeSliceUs?: number;
  /** The CPU to keep the pump's data-plane thread on (WOLFGUARD_PLANE_CPUS; absent: none). */
  planeCpu?: number;
  /** When it is kept there (TunnelPumpOptions; absent: always). */
  planeCpuKeep?: PlaneCpuKeep;
  /** Netmask of the IPv4 pool and prefix of the IPv6 pool, as the client must be told. */
  mesh?: MeshConfig;
  /**
   * TLS session-ticket keys shared by every shard (48 bytes each, current
   * first): a ticket one shard issued resumes on any other. Absent: each
   * shard's context keeps its own keys and resumes only its own tickets.
   */
  ticketKeys?: Uint8Array[];
}
