// The main thread's answer to its shards: logins (password check off every
// loop, on the libuv threadpool), CONNECTs (cookie → session → lease), ends of
// tunnels, and the timers that end sessions. The registry holds the state;
// this file moves messages.
import type { FromShard, ToShard, TunnelSession } from '../workers/messages';
import type { SessionRecord, SessionRegistry, Ended } from './sessions/registry';
import type { LoginGuard } from './admission/gateway-admission';

/** How often sessions are checked for cookie and session timeouts. */
export const EXPIRE_CHECK_MS = 1000;

export interface Authenticator {
  verify(user: string, password: string): Promise<{ ok: true; groups: string[] } | { ok: false }>;
}

export interface SessionEvents {
  login?(user: string, peer: string, ok: boolean, reason?: string): void;
  ended?(e: Ended): void;
}

export class SessionService {
  readonly #registry: SessionRegistry;
  readonly #auth: Authenticator;
  readonly #post: (shard: number, m: ToShard) => void;
  readonly #events: SessionEvents;
  readonly #timer: NodeJS.Timeout;
  readonly #guard: LoginGuard | undefined;

  constructor(registry: SessionRegistry, auth: Authenticator, post: (shard: number, m: ToShard) => void, events: SessionEvents = {}, guard?: LoginGuard) {
    this.#guard = guard;
    this.#registry = registry;
    this.#auth = auth;
    this.#post = post;
    this.#events = events;
    this.#timer = setInterval(() => this.expire(Date.now()), EXPIRE_CHECK_MS);
    this.#timer.unref();
  }

  get registry(): SessionRegistry {
    return this.#registry;
  }

  handle(m: FromShard): void {
    switch (m.type) {
      case 'login':
        void this.#login(m.shard, m.id, m.username, m.password, m.peer);
        return;
      case 'connect': {
        const r = this.#registry.connect(m.cookie, { shard: m.shard, conn: m.conn }, Date.now(), m.local);
        if (!r.ok) {
          this.#post(m.shard, { type: 'reply', id: m.id, result: { ok: false, status: 401, reason: r.reason } });
          return;
        }
        if (r.displaced) this.#post(r.displaced.shard, { type: 'kick', conn: r.displaced.conn, reason: 'session reconnected on another connection' });
        this.#post(m.shard, { type: 'reply', id: m.id, result: { ok: true, session: tunnelView(r.session) } });
        return;
      }
      case 'tunnel-closed': {
        const e = this.#registry.closed(m.sessionId, { shard: m.shard, conn: m.conn }, m.logout, Date.now());
        if (e) this.#ended(e);
        return;
      }
      default:
    }
  }

  /** Closes a session's tunnel connection; the session and its cookie stay (admin "disconnect"). */
  disconnect(sessionId: string): boolean {
    const ref = this.#registry.disconnect(sessionId, Date.now());
    if (ref) this.#post(ref.shard, { type: 'kick', conn: ref.conn, reason: 'disconnected by the operator' });
    return ref !== undefined;
  }

  /** Ends a session now (admin); closes its tunnel if it has one. */
  end(sessionId: string): boolean {
    const e = this.#registry.end(sessionId, 'admin');
    if (e) this.#ended(e);
    return e !== undefined;
  }

  expire(now: number): void {
    for (const e of this.#registry.expire(now)) this.#ended(e);
  }

  close(): void {
    clearInterval(this.#timer);
  }

  async #login(shard: number, id: number, username: string, password: string, peer: string): Promise<void> {
    let result: { ok: true; cookie: string; user: string } | { ok: false; reason: string };
    try {
      const refused = this.#guard?.before(username, peer, Date.now());
      const v = refused === undefined ? await this.#auth.verify(username, password) : ({ ok: false } as const);
      if (refused !== undefined) {
        result = { ok: false, reason: refused };
      } else if (!v.ok) {
        this.#guard?.failed(username, peer, Date.now());
        result = { ok: false, reason: 'wrong user name or password' };
      } else {
        this.#guard?.succeeded(username);
        const r = this.#registry.login(username, v.groups, peer, Date.now());
        result = r.ok ? { ok: true, cookie: r.session.cookie, user: username } : r;
      }
    } catch {
      result = { ok: false, reason: 'authentication backend error' };
    }
    this.#events.login?.(username, peer, result.ok, result.ok ? undefined : result.reason);
    this.#post(shard, { type: 'reply', id, result });
  }

  #ended(e: Ended): void {
    if (e.kick) this.#post(e.kick.shard, { type: 'kick', conn: e.kick.conn, reason: e.reason, notify: true });
    this.#events.ended?.(e);
  }
}

function tunnelView(s: SessionRecord): TunnelSession {
  const v: TunnelSession = { id: s.id, user: s.user, lease: s.addresses.lease, createdAt: s.createdAt, dtlsAppId: s.dtlsAppId };
  if (s.addresses.ipv4) v.ipv4 = s.addresses.ipv4;
  if (s.addresses.ipv6) v.ipv6 = s.addresses.ipv6;
  return v;
}
