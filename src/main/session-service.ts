// The main thread's answer to its shards: logins (password check off every
// loop, on the libuv threadpool), CONNECTs (cookie → session → lease), ends of
// tunnels, and the timers that end sessions. The registry holds the state;
// this file moves messages.
import type { FromShard, LoginReply, LoginRequest, ToShard, TunnelSession } from '../workers/messages';
import type { SessionRecord, SessionRegistry, Ended } from './sessions/registry';
import type { LoginGuard } from './admission/gateway-admission';
import type { AuthBackend } from './auth/backend';
import { LoginFlows, type LoginSubmission } from './auth/login-flow';
import { effectiveNetwork, loadSupConfig, type SupConfigDirs } from './auth/sup-config';
import { leaseRequestOf } from './auth/sup-pool';
import type { LeaseRequest } from './sessions/ip-pool';
import { randomBytes } from '../../native/lib/wolfcrypt';
import type { ClusterSessions } from './state/cluster-sessions';

/** How often sessions are checked for cookie and session timeouts. */
export const EXPIRE_CHECK_MS = 1000;

export interface Authenticator {
  /** A one-round password check (used when there is no `setup`). */
  verify(user: string, password: string): Promise<{ ok: true; groups: string[] } | { ok: false }>;
  /** A multi-round backend and what logins need of the configuration. */
  setup?: LoginSetup;
}

export interface LoginSetup {
  backend: AuthBackend;
  /** How long a login may wait between its rounds. */
  ttlMs: number;
  defaultSelectGroup?: string;
  supDirs: SupConfigDirs;
  appendRoutes: boolean;
  /** The gateway's routes and DNS, which append-routes adds to a user's or group's. */
  network: { routes: string[]; noRoutes: string[]; dns: string[] };
}

/** How long a login may wait between rounds when the authenticator does not say (ocserv's auth-timeout default). */
const DEFAULT_LOGIN_TTL_MS = 240_000;

/** A one-round Authenticator as a backend. */
function verifyBackend(auth: Authenticator): AuthBackend {
  return {
    name: 'verify',
    start: (user) => ({
      answer: async (a) => {
        const v = await auth.verify(user, a.password ?? '');
        return v.ok ? { kind: 'ok', user, groups: v.groups } : { kind: 'fail', reason: 'wrong user name or password' };
      },
    }),
  };
}

type ConnectMessage = Extract<FromShard, { type: 'connect' }>;

type SessionNetwork = Pick<TunnelSession, 'routes' | 'noRoutes' | 'dns' | 'group'>;

/** What a login gets told when its per-user/group address keys are wrong (the details go to the log, not the client). */
export const SUP_POOL_REFUSED = 'the address pool of this user or group is misconfigured';

/** A session's per-user/group settings, or why its login must be refused. */
type SupChoice = { ok: true; net: SessionNetwork; lease?: LeaseRequest } | { ok: false; error: string };

/** A tunnel connection opened, was refused, or closed while its session stays (the client may come back). */
export interface TunnelEvent {
  kind: 'open' | 'refused' | 'closed';
  peer: string;
  shard: number;
  user?: string;
  session?: string;
  reason?: string;
  /** Tunnels opened with this session's cookie so far (open). */
  tunnels?: number;
}

export interface SessionEvents {
  /** `session` is the new session's id (never its cookie) when the login succeeded. */
  login?(user: string, peer: string, ok: boolean, reason?: string, session?: string): void;
  tunnel?(e: TunnelEvent): void;
  ended?(e: Ended): void;
  /** A problem worth a log line (a bad per-user configuration line, ...). */
  warning?(message: string): void;
}

export class SessionService {
  readonly #registry: SessionRegistry;
  readonly #post: (shard: number, m: ToShard) => void;
  readonly #events: SessionEvents;
  readonly #timer: NodeJS.Timeout;
  readonly #guard: LoginGuard | undefined;
  readonly #flows: LoginFlows;
  #setup: LoginSetup | undefined;
  /** Per-session routes/DNS/group from config-per-user/-group, by session id. */
  readonly #network = new Map<string, SessionNetwork>();
  /** Shared cluster state (state = redis://...); undefined = this node is the whole truth. */
  readonly #cluster: ClusterSessions | undefined;

  constructor(registry: SessionRegistry, auth: Authenticator, post: (shard: number, m: ToShard) => void, events: SessionEvents = {}, guard?: LoginGuard, cluster?: ClusterSessions) {
    this.#guard = guard;
    this.#cluster = cluster;
    this.#registry = registry;
    this.#post = post;
    this.#events = events;
    this.#setup = auth.setup;
    const flowOpts: ConstructorParameters<typeof LoginFlows>[0] = { backend: auth.setup?.backend ?? verifyBackend(auth), ttlMs: auth.setup?.ttlMs ?? DEFAULT_LOGIN_TTL_MS, random: randomBytes };
    if (auth.setup?.defaultSelectGroup !== undefined) flowOpts.defaultSelectGroup = auth.setup.defaultSelectGroup;
    this.#flows = new LoginFlows(flowOpts);
    this.#timer = setInterval(() => this.expire(Date.now()), EXPIRE_CHECK_MS);
    this.#timer.unref();
  }

  get registry(): SessionRegistry {
    return this.#registry;
  }

  /**
   * A reloaded configuration's per-user/group directories, append-routes and
   * gateway routes/DNS for the logins from now on (the files themselves are
   * read at each login). No-op without a multi-round login setup.
   */
  reconfigureLogins(next: Pick<LoginSetup, 'supDirs' | 'appendRoutes' | 'network'>): void {
    if (this.#setup) this.#setup = { ...this.#setup, supDirs: next.supDirs, appendRoutes: next.appendRoutes, network: next.network };
  }

  handle(m: FromShard): void {
    switch (m.type) {
      case 'login':
        void this.#login(m);
        return;
      case 'connect':
        // Only a cookie unknown here asks the cluster: the single-node path stays synchronous.
        if (this.#cluster && this.#registry.byCookie(m.cookie) === undefined) void this.#connectFromCluster(m, this.#cluster);
        else this.#connect(m);
        return;
      case 'tunnel-closed': {
        const e = this.#registry.closed(m.sessionId, { shard: m.shard, conn: m.conn }, m.logout, Date.now());
        if (e) this.#ended(e);
        else {
          const r = this.#registry.byId(m.sessionId);
          if (r && r.state === 'dropped' && r.shard === m.shard && r.conn === m.conn) this.#events.tunnel?.({ kind: 'closed', peer: r.peer, shard: m.shard, user: r.user, session: r.id, reason: m.reason });
        }
        return;
      }
      default:
    }
  }

  #connect(m: ConnectMessage): void {
    const r = this.#registry.connect(m.cookie, { shard: m.shard, conn: m.conn }, Date.now(), m.local);
    if (!r.ok) {
      this.#events.tunnel?.({ kind: 'refused', peer: m.peer, shard: m.shard, reason: r.reason });
      this.#post(m.shard, { type: 'reply', id: m.id, result: { ok: false, status: 401, reason: r.reason } });
      return;
    }
    this.#events.tunnel?.({ kind: 'open', peer: m.peer, shard: m.shard, user: r.session.user, session: r.session.id, tunnels: r.session.tunnels });
    if (r.displaced) this.#post(r.displaced.shard, { type: 'kick', conn: r.displaced.conn, reason: 'session reconnected on another connection' });
    this.#post(m.shard, { type: 'reply', id: m.id, result: { ok: true, session: { ...tunnelView(r.session), ...this.#network.get(r.session.id) } } });
  }

  /** A client of another node (or of this node before a restart) reconnects here with its cookie. */
  async #connectFromCluster(m: ConnectMessage, cluster: ClusterSessions): Promise<void> {
    const c = await cluster.claim(m.cookie, Date.now());
    if (c.kind === 'unavailable') {
      this.#post(m.shard, { type: 'reply', id: m.id, result: { ok: false, status: 503, reason: 'cluster state unavailable' } });
      return;
    }
    if (c.kind === 'adopted' && !this.#network.has(c.session.id)) this.#remember(c.session.id, c.session.user, c.group);
    this.#connect(m);
  }

  /** Another node took the session over: it ends here without touching the cluster state. */
  drop(sessionId: string): boolean {
    const e = this.#registry.end(sessionId, 'replaced');
    if (e) this.#ended(e);
    return e !== undefined;
  }

  /** Closes a session's tunnel connection; the session and its cookie stay (admin "disconnect"). */
  disconnect(sessionId: string): boolean {
    const ref = this.#registry.disconnect(sessionId, Date.now());
    if (ref) {
      const reason = 'disconnected by the operator';
      this.#post(ref.shard, { type: 'kick', conn: ref.conn, reason });
      // The shard reports no close for a kick (main already knows): the line is written here.
      const r = this.#registry.byId(sessionId)!;
      this.#events.tunnel?.({ kind: 'closed', peer: r.peer, shard: ref.shard, user: r.user, session: r.id, reason });
    }
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

  async #login(m: LoginRequest): Promise<void> {
    const now = Date.now();
    const sub: LoginSubmission = { username: m.username, password: m.password, peer: m.peer };
    if (m.context !== undefined) sub.context = m.context;
    if (m.secondaryPassword !== undefined) sub.secondaryPassword = m.secondaryPassword;
    if (m.group !== undefined) sub.group = m.group;
    if (m.cert !== undefined) sub.cert = m.cert;
    let user = this.#flows.userOf(sub, now) ?? m.username;
    let result: LoginReply;
    let sessionId: string | undefined;
    try {
      const refused = this.#guard?.before(user, m.peer, now);
      if (refused !== undefined) {
        result = { ok: false, reason: refused };
      } else {
        const r = await this.#flows.submit(sub, Date.now());
        if (r.user !== '') user = r.user;
        if (r.kind === 'continue') {
          // Not an outcome yet: no ban points, no login event.
          this.#post(m.shard, { type: 'reply', id: m.id, result: { ok: false, reason: 'another round', next: { context: r.context, message: r.prompt.message, fields: r.prompt.fields } } });
          return;
        }
        if (r.kind === 'fail') {
          // A wrong second factor scores like a wrong password.
          this.#guard?.failed(user, m.peer, Date.now());
          result = { ok: false, reason: r.reason };
        } else {
          this.#guard?.succeeded(r.user);
          const sup = this.#supFor(r.user, r.group, true);
          if (!sup.ok) {
            this.#events.warning?.(`login of ${r.user} refused: ${sup.error}`);
            result = { ok: false, reason: SUP_POOL_REFUSED };
          } else {
            const l = this.#cluster ? await this.#cluster.login(r.user, r.groups, m.peer, r.group, Date.now(), sup.lease) : this.#registry.login(r.user, r.groups, m.peer, Date.now(), sup.lease);
            if (l.ok) {
              this.#network.set(l.session.id, sup.net);
              sessionId = l.session.id;
            }
            result = l.ok ? { ok: true, cookie: l.session.cookie, user: r.user } : l;
          }
        }
      }
    } catch {
      result = { ok: false, reason: 'authentication backend error' };
    }
    this.#events.login?.(user, m.peer, result.ok, result.ok ? undefined : result.reason, sessionId);
    this.#post(m.shard, { type: 'reply', id: m.id, result });
  }

  /** Per-user/group routes and DNS of a session adopted from the cluster (its address was chosen at its login). */
  #remember(sessionId: string, user: string, group: string | undefined): void {
    const sup = this.#supFor(user, group, false);
    this.#network.set(sessionId, sup.ok ? sup.net : group !== undefined ? { group } : {});
  }

  /**
   * Per-user/group routes and DNS for the session's CONNECT replies and,
   * with `lease`, where its address comes from; read once, at login, as
   * ocserv does. A mistake in the address keys refuses the login: a session
   * must not quietly get an address outside its group's range.
   */
  #supFor(user: string, group: string | undefined, lease: boolean): SupChoice {
    const net: SessionNetwork = {};
    if (group !== undefined) net.group = group;
    const st = this.#setup;
    if (!st || (st.supDirs.perUser === undefined && st.supDirs.perGroup === undefined)) return { ok: true, net };
    const sup = loadSupConfig(st.supDirs, user, group);
    for (const w of sup.warnings) this.#events.warning?.(w);
    const eff = effectiveNetwork(sup.config, st.network, st.appendRoutes);
    if (sup.config.routes !== undefined) net.routes = eff.routes;
    if (sup.config.noRoutes !== undefined) net.noRoutes = eff.noRoutes;
    if (sup.config.dns !== undefined) net.dns = eff.dns;
    if (!lease) return { ok: true, net };
    if (sup.errors.length > 0) return { ok: false, error: sup.errors.join('; ') };
    try {
      const req = leaseRequestOf(sup.config, this.#registry.pool);
      return req === undefined ? { ok: true, net } : { ok: true, net, lease: req };
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    }
  }

  #ended(e: Ended): void {
    this.#network.delete(e.session.id);
    this.#cluster?.ended(e);
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
