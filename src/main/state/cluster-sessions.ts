// What a gateway node does with a shared state store (state = redis://...):
// logins are stored cluster-wide before the registry takes them (adopt),
// a CONNECT with a cookie unknown here asks the store and adopts the session
// with its addresses and DTLS App-ID, ended sessions leave the store, bans
// travel both ways, the node heartbeats, and after the store comes back the
// node writes its sessions back (a restarted Redis knows none of them).
//
// With the default in-process state there is no ClusterSessions at all:
// the registry, pool and admission engine are the whole truth and a login or
// CONNECT costs what it always did.
import { formatPrefix, parsePrefix } from '../../common/address';
import type { AdmissionEngine } from '../admission/engine';
import type { BanScoreConfig } from '../admission/ban-score';
import { FIRST_CLIENT_LEASE, type IpPool, type LeaseRequest } from '../sessions/ip-pool';
import { COOKIE_BYTES, DTLS_APP_ID_BYTES, NO_FREE_ADDRESS, SESSION_ID_BYTES, noLeaseReason, type Ended, type SessionRecord, type SessionRegistry } from '../sessions/registry';
import { cookieDigest, type LeaseRange, type SessionLimitsSpec, type StateEvent, type StateStore, type StoredBan, type StoredSession } from './store';

/** The reason a login or CONNECT gets when the store cannot be reached (HTTP 503). */
export const STATE_UNAVAILABLE = 'cluster state unavailable';
export const DEFAULT_HEARTBEAT_MS = 2000;
export { DEFAULT_NODE_TTL_MS } from './local-store';

export type ClusterLogin = { ok: true; session: SessionRecord } | { ok: false; reason: string; status?: 503 };
export type ClusterClaim = { kind: 'adopted'; session: SessionRecord; group?: string } | { kind: 'unknown' } | { kind: 'unavailable' };

export interface ClusterLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface ClusterOptions {
  store: StateStore;
  registry: SessionRegistry;
  pool: IpPool;
  /** Whether the pool has IPv4 (its broadcast lease is never given out). */
  hasIpv4: boolean;
  engine: AdmissionEngine;
  /** Operator notes of bans (GatewayAdmission.banNotes), kept in step with remote bans. */
  banNotes: Map<string, string>;
  limits: SessionLimitsSpec;
  cookieTimeoutMs: number;
  heartbeatMs: number;
  nodeTtlMs: number;
  random: (n: number) => Buffer;
  log: ClusterLog;
  /** A session this node no longer serves (another node adopted it): end it here, kick its connection. */
  dropped(sessionId: string): void;
}

export function leaseRange(pool: IpPool, hasIpv4: boolean): LeaseRange {
  return { first: FIRST_CLIENT_LEASE, end: hasIpv4 ? pool.capacity - 1 : pool.capacity };
}

/** The store's range for a login: a group's sub-range or one explicit lease, within the pool's client leases. */
export function requestRange(all: LeaseRange, lease: LeaseRequest | undefined): LeaseRange {
  if (lease === undefined) return all;
  const r = lease.kind === 'exact' ? { first: lease.lease, end: lease.lease + 1 } : lease;
  return { first: Math.max(r.first, all.first), end: Math.min(r.end, all.end) };
}

export class ClusterSessions {
  readonly #o: ClusterOptions;
  readonly #range: LeaseRange;
  #limits: SessionLimitsSpec;
  #cookieTimeoutMs: number;
  #timer: NodeJS.Timeout | undefined;
  /** Group chosen at login, by session id (stored so an adopting node applies per-group settings). */
  readonly #groups = new Map<string, string>();

  constructor(o: ClusterOptions) {
    this.#o = o;
    this.#range = leaseRange(o.pool, o.hasIpv4);
    this.#limits = o.limits;
    this.#cookieTimeoutMs = o.cookieTimeoutMs;
  }

  get store(): StateStore {
    return this.#o.store;
  }

  /** Time-to-live of a session's keys: a dead owner's sessions stay claimable for the cookie timeout. */
  get sessionTtlMs(): number {
    return this.#cookieTimeoutMs + this.#o.nodeTtlMs;
  }

  configure(limits: SessionLimitsSpec, cookieTimeoutMs: number): void {
    this.#limits = limits;
    this.#cookieTimeoutMs = cookieTimeoutMs;
  }

  async start(): Promise<void> {
    await this.#o.store.start({
      event: (e) => this.#onEvent(e),
      availability: (up) => {
        if (up) {
          this.#o.log.info('cluster state reachable: registering this node and its sessions', { node: this.#o.store.nodeId });
          void this.#resync();
        } else {
          this.#o.log.error('cluster state unavailable: established tunnels keep running, new logins are refused until it is back', { node: this.#o.store.nodeId });
        }
      },
    });
    if (this.#o.store.up) await this.#resync();
    // Down from the start: no transition to report, so say it here (once).
    else this.#o.log.error('cluster state unavailable at start-up: new logins are refused until it is reachable', { node: this.#o.store.nodeId });
    this.#timer = setInterval(() => {
      if (this.#o.store.up) this.#o.store.heartbeat(this.sessionTtlMs).catch(() => undefined);
    }, this.#o.heartbeatMs);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#o.store.close();
  }

  /**
   * A user proved who they are: store the session cluster-wide, then the
   * registry adopts it. `lease` narrows where its address comes from (a
   * group's pool, an explicit address); the store searches only that range.
   */
  async login(user: string, groups: readonly string[], peer: string, group: string | undefined, now: number, lease?: LeaseRequest): Promise<ClusterLogin> {
    const store = this.#o.store;
    if (!store.up) return { ok: false, reason: STATE_UNAVAILABLE, status: 503 };
    const r = this.#o.random;
    const id = r(SESSION_ID_BYTES).toString('hex');
    const cookie = r(COOKIE_BYTES).toString('base64url');
    const dtlsAppId = r(DTLS_APP_ID_BYTES).toString('hex');
    let created;
    try {
      created = await store.createSession({ id, cookieDigest: cookieDigest(cookie), user, groups, ...(group !== undefined ? { group } : {}), createdAt: now, peer, dtlsAppId }, this.#limits, requestRange(this.#range, lease), this.sessionTtlMs);
    } catch {
      return { ok: false, reason: STATE_UNAVAILABLE, status: 503 };
    }
    if (!created.ok) {
      const reason = created.outcome === 'max_same_clients' ? 'too many sessions for this user' : created.outcome === 'max_clients' ? 'the gateway is full' : lease ? noLeaseReason(lease) : NO_FREE_ADDRESS;
      return { ok: false, reason };
    }
    const session = this.#record(created.session, cookie, now);
    if (!this.#o.registry.adopt(session, now)) {
      await store.endSession(id).catch(() => undefined);
      return { ok: false, reason: lease ? noLeaseReason(lease) : NO_FREE_ADDRESS };
    }
    if (group !== undefined) this.#groups.set(id, group);
    return { ok: true, session };
  }

  /** A CONNECT whose cookie this node does not know: is it a session of the cluster? Adopt it if so. */
  async claim(cookie: string, now: number): Promise<ClusterClaim> {
    const store = this.#o.store;
    if (!store.up) return { kind: 'unavailable' };
    let c;
    try {
      c = await store.claimSession(cookieDigest(cookie), this.sessionTtlMs);
    } catch {
      return { kind: 'unavailable' };
    }
    if (!c.ok) return { kind: 'unknown' };
    // Meanwhile (we awaited) the same cookie may have been adopted here by a parallel CONNECT.
    const here = this.#o.registry.byCookie(cookie);
    if (here) return { kind: 'adopted', session: here, ...(c.session.group !== undefined ? { group: c.session.group } : {}) };
    const session = this.#record(c.session, cookie, now);
    if (!this.#o.registry.adopt(session, now)) {
      this.#o.log.warn('a session of the cluster could not be adopted (its address is in use here)', { session: c.session.id, lease: c.session.lease });
      return { kind: 'unknown' };
    }
    if (c.session.group !== undefined) this.#groups.set(c.session.id, c.session.group);
    this.#o.log.info('session adopted from another node', { session: c.session.id, user: c.session.user, from: c.previousOwner, ownerAlive: c.previousAlive });
    return { kind: 'adopted', session, ...(c.session.group !== undefined ? { group: c.session.group } : {}) };
  }

  /** A session ended here: it leaves the store too (unless another node took it: then the store is theirs). */
  ended(e: Ended): void {
    this.#groups.delete(e.session.id);
    if (e.reason === 'replaced') return;
    this.#o.store.endSession(e.session.id).catch(() => this.#o.log.warn('a session could not be removed from the cluster state (its keys expire on their own)', { session: e.session.id }));
  }

  /** `ban ip` here: every node applies it. */
  banned(prefix: string, until: number, reason?: string): void {
    this.#o.store.ban({ prefix, until, ...(reason !== undefined && reason !== '' ? { reason } : {}) }).catch(() => this.#o.log.warn('ban not shared with the cluster (state unavailable); it holds on this node', { prefix }));
  }

  /** `unban ip` here: every node lifts it. */
  unbanned(prefix: string): void {
    this.#o.store.unban(prefix).catch(() => this.#o.log.warn('unban not shared with the cluster (state unavailable); lifted on this node only', { prefix }));
  }

  /**
   * A failed login: its ban points also count in the store, so a guesser
   * spread over nodes reaches max-ban-score as it would on one.
   */
  async failedLogin(peer: string, now: number): Promise<void> {
    const cfg: BanScoreConfig = this.#o.engine.activeRules.banScore;
    if (cfg.maxBanScore <= 0 || cfg.pointsWrongPassword <= 0 || !this.#o.store.up) return;
    let prefix: string;
    try {
      prefix = formatPrefix(parsePrefix(peer));
    } catch {
      return;
    }
    const address = prefix.slice(0, prefix.indexOf('/'));
    try {
      const score = await this.#o.store.addBanPoints(address, cfg.pointsWrongPassword, cfg.banResetTimeMs > 0 ? cfg.banResetTimeMs : cfg.banTimeMs);
      if (score < cfg.maxBanScore || cfg.banTimeMs <= 0) return;
      const until = now + cfg.banTimeMs;
      this.#applyBan({ prefix, until, reason: 'ban points (cluster)' }, now);
      await this.#o.store.ban({ prefix, until, reason: 'ban points (cluster)' });
    } catch {
      // Points are best effort: the local engine still scores this node's share.
    }
  }

  #record(s: StoredSession, cookie: string, now: number): SessionRecord {
    return { id: s.id, cookie, user: s.user, groups: s.groups, addresses: this.#o.pool.addresses(s.lease), createdAt: s.createdAt, peer: s.peer, dtlsAppId: s.dtlsAppId, state: 'authenticated', shard: -1, conn: -1, since: now, tunnels: 0 };
  }

  #stored(s: SessionRecord): StoredSession {
    const g = this.#groups.get(s.id);
    return { id: s.id, cookieDigest: cookieDigest(s.cookie), user: s.user, groups: s.groups, ...(g !== undefined ? { group: g } : {}), lease: s.addresses.lease, createdAt: s.createdAt, peer: s.peer, dtlsAppId: s.dtlsAppId, owner: this.#o.store.nodeId };
  }

  /** After (re)connecting: alive again, our sessions written back, the cluster's bans applied here. */
  async #resync(): Promise<void> {
    const store = this.#o.store;
    try {
      await store.heartbeat(this.sessionTtlMs);
      const mine = [...this.#o.registry.sessions()].map((s) => this.#stored(s));
      const restored = mine.length > 0 ? await store.restoreSessions(mine, this.sessionTtlMs) : 0;
      if (restored < mine.length) this.#o.log.warn('some sessions could not be written back to the cluster state (their addresses are leased elsewhere)', { sessions: mine.length, restored });
      const now = Date.now();
      for (const b of await store.bans()) this.#applyBan(b, now);
    } catch {
      // The store dropped again; the next 'ready' runs this again.
    }
  }

  #applyBan(b: StoredBan, now: number): void {
    if (b.until <= now) return;
    try {
      const entry = this.#o.engine.ban(b.prefix, now, b.until === Infinity ? Infinity : b.until - now);
      if (b.reason !== undefined) this.#o.banNotes.set(entry.prefix, b.reason);
    } catch (e) {
      this.#o.log.warn('a ban from the cluster could not be applied', { prefix: b.prefix, err: (e as Error).message });
    }
  }

  #onEvent(e: StateEvent): void {
    const now = Date.now();
    switch (e.type) {
      case 'ban':
        this.#applyBan(e.ban, now);
        this.#o.log.info('ban from another node applied', { prefix: e.ban.prefix, from: e.from });
        return;
      case 'unban':
        try {
          this.#o.engine.unban(e.prefix);
          this.#o.banNotes.delete(e.prefix);
          this.#o.log.info('unban from another node applied', { prefix: e.prefix, from: e.from });
        } catch {
          // A prefix we cannot parse cannot be banned here either.
        }
        return;
      case 'drop':
        this.#groups.delete(e.sessionId);
        this.#o.dropped(e.sessionId);
        return;
    }
  }
}
