// The in-process state store: the contract of store.ts over plain maps.
//
// A single gateway (`state` absent or `state = local`) never pays for it on
// a login or CONNECT: its registry, IP pool and admission engine already are
// the whole truth (see SessionService). This implementation is the model of
// what RedisStore must do, shared by the contract tests, and lets several
// stores in one process (one LocalBackend) behave as a cluster.
import type { ClaimResult, CreateResult, LeaseRange, NewSession, SessionLimitsSpec, StateEvent, StateStore, StateStoreEvents, StoredBan, StoredSession } from './store';

interface Held {
  session: StoredSession;
  expires: number;
}

/** Everything the nodes of one in-process "cluster" share. */
export class LocalBackend {
  readonly sessions = new Map<string, Held>();
  readonly byCookie = new Map<string, string>();
  readonly leases = new Map<number, string>();
  /** Where the next lease search of a range starts, by "first:end" (each group's pool has its own). */
  readonly leaseCursors = new Map<string, number>();
  readonly nodes = new Map<string, number>();
  readonly bans = new Map<string, StoredBan>();
  readonly points = new Map<string, { score: number; expires: number }>();
  readonly listeners = new Set<(e: StateEvent) => void>();

  constructor(readonly now: () => number = Date.now) {}

  publish(e: StateEvent): void {
    for (const l of this.listeners) l(e);
  }

  /** Drops what outlived its time-to-live (Redis does this with key expiry). */
  sweep(): void {
    const now = this.now();
    for (const [id, h] of this.sessions) if (h.expires <= now) this.remove(id);
    for (const [n, exp] of this.nodes) if (exp <= now) this.nodes.delete(n);
    for (const [p, b] of this.bans) if (b.until <= now) this.bans.delete(p);
    for (const [a, p] of this.points) if (p.expires <= now) this.points.delete(a);
  }

  remove(id: string): void {
    const h = this.sessions.get(id);
    if (!h) return;
    this.sessions.delete(id);
    this.byCookie.delete(h.session.cookieDigest);
    if (this.leases.get(h.session.lease) === id) this.leases.delete(h.session.lease);
  }
}

export interface LocalStoreOptions {
  nodeId: string;
  /** Shared with other LocalStores to model several nodes; default: a private one. */
  backend?: LocalBackend;
  /** How long a node counts as alive after its last heartbeat. */
  nodeTtlMs?: number;
}

/** Node time-to-live when none is given (three missed heartbeats of 2 s). */
export const DEFAULT_NODE_TTL_MS = 6000;

export class LocalStore implements StateStore {
  readonly kind = 'local' as const;
  readonly nodeId: string;
  readonly up = true;
  readonly #b: LocalBackend;
  readonly #nodeTtlMs: number;
  #listener: ((e: StateEvent) => void) | undefined;

  constructor(opts: LocalStoreOptions) {
    this.nodeId = opts.nodeId;
    this.#b = opts.backend ?? new LocalBackend();
    this.#nodeTtlMs = opts.nodeTtlMs ?? DEFAULT_NODE_TTL_MS;
  }

  start(events: StateStoreEvents): Promise<void> {
    this.#b.nodes.set(this.nodeId, this.#b.now() + this.#nodeTtlMs);
    const listener = (e: StateEvent) => {
      if (e.from !== this.nodeId) events.event?.(e);
    };
    this.#listener = listener;
    this.#b.listeners.add(listener);
    return Promise.resolve();
  }

  close(): Promise<void> {
    if (this.#listener) this.#b.listeners.delete(this.#listener);
    this.#b.nodes.delete(this.nodeId);
    return Promise.resolve();
  }

  createSession(s: NewSession, limits: SessionLimitsSpec, range: LeaseRange, ttlMs: number): Promise<CreateResult> {
    const b = this.#b;
    b.sweep();
    if (limits.maxClients > 0 && b.sessions.size >= limits.maxClients) return Promise.resolve({ ok: false, outcome: 'max_clients' });
    let same = 0;
    for (const h of b.sessions.values()) if (h.session.user === s.user) same++;
    if (limits.maxSameClients > 0 && same >= limits.maxSameClients) return Promise.resolve({ ok: false, outcome: 'max_same_clients' });
    const cursorKey = `${range.first}:${range.end}`;
    const lease = nextLease(range, b.leaseCursors.get(cursorKey) ?? -1, (n) => !b.leases.has(n));
    if (lease === undefined) return Promise.resolve({ ok: false, outcome: 'no_lease' });
    // One lease (an explicit address) needs no cursor: no key per user piles up.
    if (range.end - range.first > 1) b.leaseCursors.set(cursorKey, lease + 1);
    const session: StoredSession = { ...s, lease, owner: this.nodeId };
    b.sessions.set(s.id, { session, expires: b.now() + ttlMs });
    b.byCookie.set(s.cookieDigest, s.id);
    b.leases.set(lease, s.id);
    return Promise.resolve({ ok: true, session });
  }

  claimSession(digest: string, ttlMs: number): Promise<ClaimResult> {
    const b = this.#b;
    b.sweep();
    const id = b.byCookie.get(digest);
    const h = id === undefined ? undefined : b.sessions.get(id);
    if (!h) return Promise.resolve({ ok: false });
    const prev = h.session.owner;
    h.session = { ...h.session, owner: this.nodeId };
    h.expires = b.now() + ttlMs;
    if (prev === this.nodeId) return Promise.resolve({ ok: true, session: h.session, previousAlive: true });
    const previousAlive = b.nodes.has(prev);
    if (previousAlive) b.publish({ type: 'drop', sessionId: h.session.id, owner: prev, from: this.nodeId });
    return Promise.resolve({ ok: true, session: h.session, previousOwner: prev, previousAlive });
  }

  endSession(sessionId: string): Promise<boolean> {
    const h = this.#b.sessions.get(sessionId);
    if (!h || h.session.owner !== this.nodeId) return Promise.resolve(false);
    this.#b.remove(sessionId);
    return Promise.resolve(true);
  }

  restoreSessions(sessions: readonly StoredSession[], ttlMs: number): Promise<number> {
    const b = this.#b;
    let n = 0;
    for (const s of sessions) {
      const holder = b.leases.get(s.lease);
      if (holder !== undefined && holder !== s.id) continue; // someone else leased it meanwhile: theirs
      b.sessions.set(s.id, { session: { ...s, owner: this.nodeId }, expires: b.now() + ttlMs });
      b.byCookie.set(s.cookieDigest, s.id);
      b.leases.set(s.lease, s.id);
      n++;
    }
    return Promise.resolve(n);
  }

  heartbeat(ttlMs: number): Promise<void> {
    const b = this.#b;
    const now = b.now();
    b.nodes.set(this.nodeId, now + this.#nodeTtlMs);
    for (const h of b.sessions.values()) if (h.session.owner === this.nodeId) h.expires = now + ttlMs;
    b.sweep();
    return Promise.resolve();
  }

  ban(ban: StoredBan): Promise<void> {
    this.#b.bans.set(ban.prefix, ban);
    this.#b.publish({ type: 'ban', ban, from: this.nodeId });
    return Promise.resolve();
  }

  unban(prefix: string): Promise<boolean> {
    const had = this.#b.bans.delete(prefix);
    this.#b.points.delete(prefixAddress(prefix));
    this.#b.publish({ type: 'unban', prefix, from: this.nodeId });
    return Promise.resolve(had);
  }

  bans(): Promise<StoredBan[]> {
    this.#b.sweep();
    return Promise.resolve([...this.#b.bans.values()]);
  }

  addBanPoints(address: string, points: number, windowMs: number): Promise<number> {
    const b = this.#b;
    b.sweep();
    const now = b.now();
    const p = b.points.get(address) ?? { score: 0, expires: now + windowMs };
    p.score += points;
    p.expires = now + windowMs;
    b.points.set(address, p);
    return Promise.resolve(p.score);
  }
}

/**
 * The first free lease at or after `cursor`, wrapping around [first, end).
 * Starting after the last one given keeps a freed address out of use for as
 * long as possible (a stale packet for its old owner may still be in flight).
 */
export function nextLease(range: LeaseRange, cursor: number, free: (n: number) => boolean): number | undefined {
  const span = range.end - range.first;
  if (span <= 0) return undefined;
  const start = cursor >= range.first && cursor < range.end ? cursor - range.first : 0;
  for (let i = 0; i < span; i++) {
    const n = range.first + ((start + i) % span);
    if (free(n)) return n;
  }
  return undefined;
}

/** "192.0.2.7/32" → "192.0.2.7" (the key ban points are counted under). */
export function prefixAddress(prefix: string): string {
  const slash = prefix.indexOf('/');
  return slash < 0 ? prefix : prefix.slice(0, slash);
}
