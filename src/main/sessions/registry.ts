// Who is logged in, with which cookie, holding which addresses, tunnelled
// through which shard. Main thread only; no I/O: every method takes `now` and
// returns what the caller must do (kick a connection on some shard), so the
// whole life of a session is testable without sockets.
//
// A session is born at a successful login, keeps its lease (addresses) and
// cookie across dropped connections, and ends at logout, at the cookie timeout
// after its last connection dropped, at the session timeout (counted from the
// login, so reconnecting does not reset it), or by an operator.
import { createHash } from 'node:crypto';
import type { IpPool, LeaseAddresses, LeaseRequest } from './ip-pool';

/** Bytes of randomness in a cookie (256 bits; sent to the client base64url-encoded). */
export const COOKIE_BYTES = 32;
/** Bytes of randomness in a session id (for logs and the admin interface, never a credential). */
export const SESSION_ID_BYTES = 8;
/**
 * The DTLS App-ID (X-DTLS-App-ID): the client copies it into its ClientHello
 * session_id, which is how the main thread finds the session of a datagram.
 * 32 bytes, the most a session_id holds.
 */
export const DTLS_APP_ID_BYTES = 32;

export type SessionState = 'authenticated' | 'connected' | 'dropped';
export type EndReason = 'logout' | 'cookie-expired' | 'session-timeout' | 'admin' | 'replaced';

export interface SessionRecord {
  readonly id: string;
  readonly cookie: string;
  readonly user: string;
  readonly groups: readonly string[];
  readonly addresses: LeaseAddresses;
  readonly createdAt: number;
  readonly peer: string;
  /** Hex of the DTLS App-ID. */
  readonly dtlsAppId: string;
  state: SessionState;
  /** The shard and its connection number while connected (or last connected). */
  shard: number;
  conn: number;
  /** When the last connection dropped (state 'dropped'), or when authenticated. */
  since: number;
  /** How many times a tunnel was opened with this cookie. */
  tunnels: number;
  /** The gateway address the current (or last) tunnel connection reached; DTLS answers from it. */
  localAddress?: string;
}

export interface ConnectionRef {
  shard: number;
  conn: number;
}

export type LoginResult = { ok: true; session: SessionRecord } | { ok: false; reason: string };
export type ConnectResult = { ok: true; session: SessionRecord; displaced?: ConnectionRef } | { ok: false; reason: string };
export interface Ended {
  session: SessionRecord;
  reason: EndReason;
  /** The live connection to close, when there was one. */
  kick?: ConnectionRef;
}

/** Per-user and global session slots (SessionLimits, or the admission engine's). */
export interface SessionSlots {
  reserve(user: string, sessionId: string, now: number): { ok: boolean; outcome: string };
  commit(sessionId: string, now: number): boolean;
  release(sessionId: string): boolean;
}

export interface RegistryOptions {
  pool: IpPool;
  limits: SessionSlots;
  /** How long the cookie of a session without a connection stays valid. */
  cookieTimeoutMs: number;
  /** Longest life of a session from its login; null = unlimited. */
  sessionTimeoutMs: number | null;
  random: (n: number) => Buffer;
  /** persistent-cookies: a logout leaves the session's cookie valid until the cookie timeout, as a drop does. */
  persistentCookies?: boolean;
}

export class SessionRegistry {
  /**
   * Keyed by a SHA-256 of the cookie, not the cookie: a lookup compares
   * digests of what the client sent, so its timing tells nothing about how
   * much of a real cookie a guess matched (a constant-time compare in effect).
   */
  readonly #byCookie = new Map<string, SessionRecord>();
  readonly #byId = new Map<string, SessionRecord>();
  readonly #byAppId = new Map<string, SessionRecord>();
  #opts: RegistryOptions;

  constructor(opts: RegistryOptions) {
    this.#opts = opts;
  }

  /** New limits and timeouts (config reload); existing sessions keep their leases. */
  configure(opts: Partial<Pick<RegistryOptions, 'cookieTimeoutMs' | 'sessionTimeoutMs'>>): void {
    this.#opts = { ...this.#opts, ...opts };
  }

  get size(): number {
    return this.#byId.size;
  }

  get pool(): IpPool {
    return this.#opts.pool;
  }

  sessions(): IterableIterator<SessionRecord> {
    return this.#byId.values();
  }

  byId(id: string): SessionRecord | undefined {
    return this.#byId.get(id);
  }

  /** The session of a cookie, if the cookie is valid. */
  byCookie(cookie: string): SessionRecord | undefined {
    return this.#byCookie.get(cookieKey(cookie));
  }

  /** The session whose DTLS App-ID is `hex` (a ClientHello's session_id). */
  byDtlsAppId(hex: string): SessionRecord | undefined {
    return this.#byAppId.get(hex);
  }

  /**
   * A user proved who they are: make a session (limits and the pool
   * permitting), its lease from `lease` (a group's range, an explicit
   * address) when given.
   */
  login(user: string, groups: readonly string[], peer: string, now: number, lease?: LeaseRequest): LoginResult {
    const id = this.#opts.random(SESSION_ID_BYTES).toString('hex');
    const r = this.#opts.limits.reserve(user, id, now);
    if (!r.ok) {
      return { ok: false, reason: r.outcome === 'max_same_clients' ? 'too many sessions for this user' : 'the gateway is full' };
    }
    const pool = this.#opts.pool;
    // An explicit address already held gets none (allocateFor claims exactly that lease): ocserv refuses the login rather than giving another.
    const addresses = lease === undefined ? pool.allocate() : pool.allocateFor(lease);
    if (!addresses) {
      this.#opts.limits.release(id);
      return { ok: false, reason: lease ? noLeaseReason(lease) : NO_FREE_ADDRESS };
    }
    const cookie = this.#opts.random(COOKIE_BYTES).toString('base64url');
    const dtlsAppId = this.#opts.random(DTLS_APP_ID_BYTES).toString('hex');
    const session: SessionRecord = { id, cookie, user, groups, addresses, createdAt: now, peer, dtlsAppId, state: 'authenticated', shard: -1, conn: -1, since: now, tunnels: 0 };
    this.#byCookie.set(cookieKey(cookie), session);
    this.#byAppId.set(dtlsAppId, session);
    this.#byId.set(id, session);
    return { ok: true, session };
  }

  /**
   * Takes in a session made or kept elsewhere (the cluster state: a login
   * this node stored there, or a client of another node reconnecting here)
   * with its own id, cookie, addresses and DTLS App-ID. False when its id,
   * cookie or App-ID is already here or its lease is taken locally.
   */
  adopt(session: SessionRecord, now: number): boolean {
    const key = cookieKey(session.cookie);
    if (this.#byId.has(session.id) || this.#byCookie.has(key) || this.#byAppId.has(session.dtlsAppId)) return false;
    if (!this.#opts.pool.claim(session.addresses.lease)) return false;
    // The cluster already counted it; the local slot keeps local counts and releases in step.
    this.#opts.limits.reserve(session.user, session.id, now);
    this.#byCookie.set(key, session);
    this.#byAppId.set(session.dtlsAppId, session);
    this.#byId.set(session.id, session);
    return true;
  }

  /**
   * A CONNECT with `cookie` arrived on (shard, conn). A session already
   * connected elsewhere is moved: the old connection is returned to be closed
   * (a client that reconnects after a network change).
   */
  connect(cookie: string, ref: ConnectionRef, now: number, localAddress?: string): ConnectResult {
    const s = this.#byCookie.get(cookieKey(cookie));
    if (!s) return { ok: false, reason: 'unknown or expired cookie' };
    if (this.#timedOut(s, now)) return { ok: false, reason: 'session timed out' };
    const displaced = s.state === 'connected' && (s.shard !== ref.shard || s.conn !== ref.conn) ? { shard: s.shard, conn: s.conn } : undefined;
    s.state = 'connected';
    s.shard = ref.shard;
    s.conn = ref.conn;
    s.since = now;
    s.tunnels++;
    if (localAddress) s.localAddress = localAddress;
    this.#opts.limits.commit(s.id, now);
    return displaced ? { ok: true, session: s, displaced } : { ok: true, session: s };
  }

  /**
   * The tunnel on (shard, conn) closed. A logout ends the session; anything
   * else leaves it waiting for a reconnect with its cookie. A report from a
   * connection the session has since left is ignored.
   */
  closed(sessionId: string, ref: ConnectionRef, logout: boolean, now: number): Ended | undefined {
    const s = this.#byId.get(sessionId);
    if (!s || s.shard !== ref.shard || s.conn !== ref.conn) return undefined;
    if (logout && this.#opts.persistentCookies !== true) return this.#end(s, 'logout');
    if (s.state === 'connected') {
      s.state = 'dropped';
      s.since = now;
    }
    return undefined;
  }

  /**
   * Drops a session's live connection but keeps the session (operator
   * "disconnect"): the client reconnects with its cookie. Returns the
   * connection to close, or undefined when it had none.
   */
  disconnect(sessionId: string, now: number): ConnectionRef | undefined {
    const s = this.#byId.get(sessionId);
    if (!s || s.state !== 'connected') return undefined;
    s.state = 'dropped';
    s.since = now;
    return { shard: s.shard, conn: s.conn };
  }

  /** A shard died: its connected sessions are dropped (they come back with their cookies). */
  dropShard(shard: number, now: number): SessionRecord[] {
    const out: SessionRecord[] = [];
    for (const s of this.#byId.values()) {
      if (s.state !== 'connected' || s.shard !== shard) continue;
      s.state = 'dropped';
      s.since = now;
      out.push(s);
    }
    return out;
  }

  /** Ends a session now (operator, logout from the auth page, ...). */
  end(sessionId: string, reason: EndReason): Ended | undefined {
    const s = this.#byId.get(sessionId);
    return s ? this.#end(s, reason) : undefined;
  }

  /** Sessions whose cookie or session time ran out; each is already removed. */
  expire(now: number): Ended[] {
    const out: Ended[] = [];
    for (const s of this.#byId.values()) {
      if (this.#timedOut(s, now)) out.push(this.#end(s, 'session-timeout'));
      else if (s.state !== 'connected' && now - s.since >= this.#opts.cookieTimeoutMs) out.push(this.#end(s, 'cookie-expired'));
    }
    return out;
  }

  #timedOut(s: SessionRecord, now: number): boolean {
    const t = this.#opts.sessionTimeoutMs;
    return t !== null && now - s.createdAt >= t;
  }

  #end(s: SessionRecord, reason: EndReason): Ended {
    this.#byCookie.delete(cookieKey(s.cookie));
    this.#byId.delete(s.id);
    this.#byAppId.delete(s.dtlsAppId);
    this.#opts.pool.release(s.addresses.lease);
    this.#opts.limits.release(s.id);
    const ended: Ended = { session: s, reason };
    if (s.state === 'connected') ended.kick = { shard: s.shard, conn: s.conn };
    return ended;
  }
}

/** What a login gets when its pool (the gateway's or a group's) has no free address. */
export const NO_FREE_ADDRESS = 'no free tunnel address';

/** Why a login with this lease request got no lease: a full range reads like a full pool; an explicit address is named. */
export function noLeaseReason(lease: LeaseRequest): string {
  return lease.kind === 'exact' ? `tunnel address ${lease.label} is in use by another session` : NO_FREE_ADDRESS;
}

function cookieKey(cookie: string): string {
  return createHash('sha256').update(cookie).digest('base64');
}
