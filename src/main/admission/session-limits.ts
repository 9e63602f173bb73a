// Per-user (max-same-clients) and global (max-clients) session limits.
//
// Why reserve/commit/release: logins are asynchronous (password hashing runs
// elsewhere, shards forward results by message), so "count, then add later"
// lets ten parallel logins all see a count below the limit. Here the count
// moves at the moment a login succeeds: reserve() is a synchronous
// check-and-take on the main thread, which is the only place that holds this
// table, so shards never race each other. commit() marks the reservation as
// used by a CONNECT; release() returns the slot when the session ends (logout,
// cookie expiry, admin kill) - not when a connection drops, because a dropped
// session may come back with its cookie and still is a session.
//
// A session is counted once for its whole life, keyed by its session id (the
// identity behind its cookie). A reconnect with its own cookie finds its own
// slot and is never refused, whatever the limit (ocserv once refused exactly
// that with max-same-clients = 1). A reservation never committed within
// pendingTtlMs is given back by expirePending() (the client authenticated but
// never opened the tunnel).

import { invalidArgument } from '../../common/errors';

export interface SessionLimitsConfig {
  /** Total sessions; 0 = unlimited. */
  maxClients: number;
  /** Sessions per user name; 0 = unlimited. */
  maxSameClients: number;
  /** How long a reservation may wait for its CONNECT (ms). */
  pendingTtlMs: number;
}

export type ReserveOutcome = 'reserved' | 'own_session' | 'max_clients' | 'max_same_clients';

export interface ReserveResult {
  readonly ok: boolean;
  readonly outcome: ReserveOutcome;
  /** Sessions this user holds after the call. */
  readonly userSessions: number;
  /** Sessions in total after the call. */
  readonly totalSessions: number;
}

interface Held {
  readonly user: string;
  committed: boolean;
  /** When reserved, or when last committed. */
  since: number;
}

export class SessionLimits {
  private readonly held = new Map<string, Held>();
  private readonly perUser = new Map<string, number>();
  private cfg: SessionLimitsConfig;

  constructor(cfg: SessionLimitsConfig) {
    this.cfg = { ...cfg };
  }

  /** New limits apply to new sessions; sessions already held are never dropped. */
  configure(cfg: SessionLimitsConfig): void {
    this.cfg = { ...cfg };
  }

  get total(): number {
    return this.held.size;
  }

  countFor(user: string): number {
    return this.perUser.get(user) ?? 0;
  }

  /** Does this session id hold a slot? */
  holds(sessionId: string): boolean {
    return this.held.has(sessionId);
  }

  /**
   * Take a slot for `sessionId` of `user` (at authentication success). A
   * session id that already holds a slot is its own reconnect: ok, no count.
   */
  reserve(user: string, sessionId: string, now: number): ReserveResult {
    const existing = this.held.get(sessionId);
    if (existing !== undefined) {
      if (existing.user !== user) throw invalidArgument(`session ${sessionId} belongs to another user`, { sessionId });
      return this.result(true, 'own_session', user);
    }
    if (this.cfg.maxClients > 0 && this.held.size >= this.cfg.maxClients) return this.result(false, 'max_clients', user);
    const n = this.countFor(user);
    if (this.cfg.maxSameClients > 0 && n >= this.cfg.maxSameClients) return this.result(false, 'max_same_clients', user);
    this.held.set(sessionId, { user, committed: false, since: now });
    this.perUser.set(user, n + 1);
    return this.result(true, 'reserved', user);
  }

  /**
   * The session opened its tunnel (CONNECT), first time or reconnect. False
   * when it holds no slot (reservation expired or released): refuse the CONNECT.
   */
  commit(sessionId: string, now: number): boolean {
    const h = this.held.get(sessionId);
    if (h === undefined) return false;
    h.committed = true;
    h.since = now;
    return true;
  }

  /** The session ended; its slot is free. False when it held none. */
  release(sessionId: string): boolean {
    const h = this.held.get(sessionId);
    if (h === undefined) return false;
    this.held.delete(sessionId);
    const n = (this.perUser.get(h.user) ?? 1) - 1;
    if (n <= 0) this.perUser.delete(h.user);
    else this.perUser.set(h.user, n);
    return true;
  }

  /** Release reservations not committed within pendingTtlMs; returns their session ids. */
  expirePending(now: number): string[] {
    const gone: string[] = [];
    for (const [id, h] of this.held) {
      if (!h.committed && now - h.since >= this.cfg.pendingTtlMs) gone.push(id);
    }
    for (const id of gone) this.release(id);
    return gone;
  }

  private result(ok: boolean, outcome: ReserveOutcome, user: string): ReserveResult {
    return { ok, outcome, userSessions: this.countFor(user), totalSessions: this.held.size };
  }
}
