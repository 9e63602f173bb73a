// The state several gateway nodes must share (issue 9): sessions and their
// cookies, per-user and global session counts, tunnel address leases, bans
// and the ban points of failed logins, plus which nodes are alive.
//
// Two implementations: LocalStore (in-process; the single-node default, whose
// gateway does not even consult it on the hot paths: the registry already is
// the whole truth there) and RedisStore (config `state = redis://...`).
// Both keep the same contract, checked by the same unit tests.
//
// Who calls it: the main thread's SessionService (logins, CONNECTs with a
// cookie this node does not know, ends of sessions), the admin ban commands,
// and the login guard (ban points). Nothing on the data path touches it.
import { createHash } from 'node:crypto';

/** Everything a node needs to rebuild a session it adopts (addresses come from `lease` and the shared pool config). */
export interface StoredSession {
  readonly id: string;
  /** SHA-256 (base64) of the cookie, as the registry keys it: the store never holds a usable cookie. */
  readonly cookieDigest: string;
  readonly user: string;
  readonly groups: readonly string[];
  /** The group chosen at login (per-group routes), if any. */
  readonly group?: string;
  readonly lease: number;
  readonly createdAt: number;
  readonly peer: string;
  /** Hex of the DTLS App-ID. */
  readonly dtlsAppId: string;
  /** The node that serves it now. */
  readonly owner: string;
}

export type NewSession = Omit<StoredSession, 'lease' | 'owner'>;

/** The lease range every node derives from the same ipv4-network / ipv6 config: [first, end). */
export interface LeaseRange {
  readonly first: number;
  readonly end: number;
}

export interface SessionLimitsSpec {
  /** 0 = unlimited. */
  readonly maxClients: number;
  /** 0 = unlimited. */
  readonly maxSameClients: number;
}

export type CreateOutcome = 'ok' | 'max_clients' | 'max_same_clients' | 'no_lease';
export type CreateResult = { ok: true; session: StoredSession } | { ok: false; outcome: Exclude<CreateOutcome, 'ok'> };

/**
 * A session found by cookie and now owned by the caller. `previousOwner` is
 * the node that had it (undefined when it was the caller's already);
 * `previousAlive` says whether that node still heartbeats (then it must be
 * told to drop it: the store publishes that itself).
 */
export type ClaimResult = { ok: true; session: StoredSession; previousOwner?: string; previousAlive: boolean } | { ok: false };

export interface StoredBan {
  /** Canonical prefix text ("192.0.2.7/32"). */
  readonly prefix: string;
  /** Epoch ms; Infinity = until unbanned. */
  readonly until: number;
  readonly reason?: string;
}

/** What other nodes did, delivered to every node (the sender included is filtered out). */
export type StateEvent =
  | { type: 'ban'; ban: StoredBan; from: string }
  | { type: 'unban'; prefix: string; from: string }
  /** `sessionId` moved to another node: its old owner drops it locally (no store call). */
  | { type: 'drop'; sessionId: string; owner: string; from: string };

export interface StateStoreEvents {
  event?(e: StateEvent): void;
  /** The store became reachable (true) or unreachable (false); called on changes only. */
  availability?(up: boolean): void;
}

export interface StateStore {
  readonly kind: 'local' | 'redis';
  readonly nodeId: string;
  /** Reachable right now (LocalStore: always). */
  readonly up: boolean;
  /** Connects, registers this node, starts the heartbeat. Resolves even when the store is down (it keeps retrying). */
  start(events: StateStoreEvents): Promise<void>;
  close(): Promise<void>;

  /** In one atomic step: take the user's and the global slot, lease an address, store the session as ours. */
  createSession(s: NewSession, limits: SessionLimitsSpec, range: LeaseRange, ttlMs: number): Promise<CreateResult>;
  /** The session of a cookie digest, made ours (atomically); a dead or live owner loses it. */
  claimSession(cookieDigest: string, ttlMs: number): Promise<ClaimResult>;
  /** The session ended here: frees its slots, lease and keys (only when we still own it). */
  endSession(sessionId: string): Promise<boolean>;
  /** Rewrites sessions this node serves (after the store lost them, e.g. a restarted Redis). */
  restoreSessions(sessions: readonly StoredSession[], ttlMs: number): Promise<number>;
  /** Keeps this node alive and its sessions' time-to-live fresh. */
  heartbeat(ttlMs: number): Promise<void>;

  ban(b: StoredBan): Promise<void>;
  unban(prefix: string): Promise<boolean>;
  bans(): Promise<StoredBan[]>;
  /** Adds ban points to an address (shared by all nodes); returns its score within the window. */
  addBanPoints(address: string, points: number, windowMs: number): Promise<number>;
}

/** The registry's cookie key: SHA-256 of the cookie, base64. */
export function cookieDigest(cookie: string): string {
  return createHash('sha256').update(cookie).digest('base64');
}

/** Longest node id accepted (it is part of Redis key names). */
export const MAX_NODE_ID_CHARS = 64;
const NODE_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

export function isValidNodeId(id: string): boolean {
  return NODE_ID_RE.test(id);
}

/** A node id from the host name and pid: unique per process, and readable in `redis-cli keys`. */
export function defaultNodeId(hostname: string, pid: number): string {
  const host = hostname.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, MAX_NODE_ID_CHARS - 12) || 'node';
  return `${host}-${pid}`;
}
