// The state store in Redis (config `state = redis://...`; see state-url.ts
// for the URL forms and redis-scripts.ts for the key layout and scripts).
//
// Redis down must never hang or break what already runs: every command is
// bounded (commandTimeout, no offline queue: a command while disconnected
// fails at once), failures surface as a rejected promise the caller turns
// into "cluster state unavailable", and ioredis reconnects by itself. On every
// (re)connection the node registers again and the caller restores its
// sessions (availability(true)), since a Redis restarted without persistence
// remembers nothing.
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { ClaimResult, CreateResult, LeaseRange, NewSession, SessionLimitsSpec, StateEvent, StateStore, StateStoreEvents, StoredBan, StoredSession } from './store';
import type { StateSpec } from './state-url';
import { prefixAddress } from './local-store';
import * as S from './redis-scripts';
import { ErrorCodes, WolfguardError } from '../../common/errors';

/** Bound on one Redis command: a login waits no longer than this for the cluster state. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 1000;
/** How long connecting may take before ioredis gives up and retries. */
export const CONNECT_TIMEOUT_MS = 2000;
/** Longest pause between reconnection attempts. */
export const MAX_RECONNECT_DELAY_MS = 2000;
const RECONNECT_STEP_MS = 100;
/** How long start() waits for the first connection (it goes on retrying afterwards). */
export const START_WAIT_MS = 3000;
export const DEFAULT_KEY_PREFIX = 'wg';

type Client = Redis | Cluster;

/** The scripts as ioredis defines them on a client (defineCommand). */
interface Scripted {
  wgCreate(...args: (string | number)[]): Promise<[string, number?]>;
  wgClaim(...args: (string | number)[]): Promise<string[] | null>;
  wgEnd(...args: (string | number)[]): Promise<number>;
  wgHeartbeat(...args: (string | number)[]): Promise<number>;
  wgRestore(...args: (string | number)[]): Promise<number>;
  wgBan(...args: (string | number)[]): Promise<number>;
  wgUnban(...args: (string | number)[]): Promise<number>;
  wgListBans(...args: (string | number)[]): Promise<string[]>;
  wgPoints(...args: (string | number)[]): Promise<number>;
}

const SCRIPTS: Array<[keyof Scripted, number, string]> = [
  ['wgCreate', 5, S.CREATE_SESSION],
  ['wgClaim', 1, S.CLAIM_SESSION],
  ['wgEnd', 1, S.END_SESSION],
  ['wgHeartbeat', 2, S.HEARTBEAT],
  ['wgRestore', 1, S.RESTORE_SESSION],
  ['wgBan', 2, S.BAN],
  ['wgUnban', 3, S.UNBAN],
  ['wgListBans', 2, S.LIST_BANS],
  ['wgPoints', 1, S.ADD_POINTS],
];

export interface RedisStoreOptions {
  spec: Exclude<StateSpec, { kind: 'local' }>;
  nodeId: string;
  /** Key prefix; all keys carry it as one hash tag ("{wg}:..."). */
  keyPrefix?: string;
  /** A node is dead this long after its last heartbeat. */
  nodeTtlMs: number;
  commandTimeoutMs?: number;
}

function clientOptions(timeoutMs: number): RedisOptions {
  return {
    commandTimeout: timeoutMs,
    connectTimeout: CONNECT_TIMEOUT_MS,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (times: number) => Math.min(times * RECONNECT_STEP_MS, MAX_RECONNECT_DELAY_MS),
    lazyConnect: true,
  };
}

export function createRedisClient(spec: RedisStoreOptions['spec'], timeoutMs: number): Client {
  const base = clientOptions(timeoutMs);
  switch (spec.kind) {
    case 'redis':
      return new Redis({
        ...base,
        host: spec.host,
        port: spec.port,
        db: spec.db,
        ...(spec.username !== undefined ? { username: spec.username } : {}),
        ...(spec.password !== undefined ? { password: spec.password } : {}),
        ...(spec.tls ? { tls: {} } : {}),
      });
    case 'redis-unix':
      return new Redis({ ...base, path: spec.path, db: spec.db, ...(spec.username !== undefined ? { username: spec.username } : {}), ...(spec.password !== undefined ? { password: spec.password } : {}) });
    case 'redis-sentinel':
      return new Redis({ ...base, sentinels: spec.sentinels, name: spec.name, db: spec.db, ...(spec.password !== undefined ? { password: spec.password } : {}) });
    case 'redis-cluster':
      return new Cluster(spec.nodes, {
        // Cluster's own ready check needs its offline queue; commandTimeout still bounds every command.
        enableOfflineQueue: true,
        lazyConnect: true,
        clusterRetryStrategy: (times: number) => Math.min(times * RECONNECT_STEP_MS, MAX_RECONNECT_DELAY_MS),
        // Node connections are the Cluster's to manage: its own offline queue and retry settings above, not ours.
        redisOptions: { commandTimeout: timeoutMs, connectTimeout: CONNECT_TIMEOUT_MS, maxRetriesPerRequest: 1, ...(spec.password !== undefined ? { password: spec.password } : {}) },
      });
  }
}

export class RedisStore implements StateStore {
  readonly kind = 'redis' as const;
  readonly nodeId: string;
  readonly #opts: RedisStoreOptions;
  readonly #P: string;
  readonly #channel: string;
  #client: Client | undefined;
  #sub: Client | undefined;
  #up = false;
  #closed = false;
  #events: StateStoreEvents = {};

  constructor(opts: RedisStoreOptions) {
    this.#opts = opts;
    this.nodeId = opts.nodeId;
    this.#P = `{${opts.keyPrefix ?? DEFAULT_KEY_PREFIX}}:`;
    this.#channel = `${this.#P}events`;
  }

  get up(): boolean {
    return this.#up;
  }

  get #r(): Client & Scripted {
    if (!this.#client) throw new WolfguardError(ErrorCodes.STATE_UNAVAILABLE, 'the state store is not started (or closed)');
    return this.#client as Client & Scripted;
  }

  async start(events: StateStoreEvents): Promise<void> {
    this.#events = events;
    const timeout = this.#opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    const client = createRedisClient(this.#opts.spec, timeout);
    for (const [name, numberOfKeys, lua] of SCRIPTS) client.defineCommand(name, { numberOfKeys, lua });
    this.#client = client;
    // ioredis reports every failed attempt as 'error'; availability() is the one line per change.
    client.on('error', () => undefined);
    client.on('ready', () => this.#setUp(true));
    client.on('close', () => this.#setUp(false));
    client.on('end', () => this.#setUp(false));
    // Pub/sub needs a connection of its own; ioredis resubscribes after a reconnect.
    const sub = createRedisClient(this.#opts.spec, timeout);
    this.#sub = sub;
    sub.on('error', () => undefined);
    sub.on('message', (_channel: string, text: string) => this.#onMessage(text));
    sub.on('ready', () => void sub.subscribe(this.#channel).catch(() => undefined));
    const ready = new Promise<void>((resolve) => {
      const t = setTimeout(resolve, START_WAIT_MS);
      client.once('ready', () => {
        clearTimeout(t);
        resolve();
      });
    });
    client.connect().catch(() => undefined);
    sub.connect().catch(() => undefined);
    await ready;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const c = this.#client;
    const s = this.#sub;
    this.#client = undefined;
    this.#sub = undefined;
    if (c && this.#up) await c.del(`${this.#P}node:${this.nodeId}`).catch(() => undefined);
    c?.disconnect();
    s?.disconnect();
    this.#up = false;
  }

  #setUp(up: boolean): void {
    if (this.#closed || up === this.#up) return;
    this.#up = up;
    this.#events.availability?.(up);
  }

  #onMessage(text: string): void {
    let e: StateEvent;
    try {
      e = JSON.parse(text) as StateEvent;
    } catch {
      return;
    }
    if (typeof e !== 'object' || e === null || e.from === this.nodeId) return;
    if (e.type === 'ban') {
      const b = e.ban as { prefix?: unknown; until?: unknown; reason?: unknown };
      if (typeof b?.prefix !== 'string') return;
      const ban: StoredBan = { prefix: b.prefix, until: b.until === null || typeof b.until !== 'number' ? Infinity : b.until, ...(typeof b.reason === 'string' ? { reason: b.reason } : {}) };
      this.#events.event?.({ type: 'ban', ban, from: String(e.from) });
    } else if (e.type === 'unban' && typeof e.prefix === 'string') {
      this.#events.event?.(e);
    } else if (e.type === 'drop' && typeof e.sessionId === 'string' && e.owner === this.nodeId) {
      this.#events.event?.(e);
    }
  }

  async createSession(s: NewSession, limits: SessionLimitsSpec, range: LeaseRange, ttlMs: number): Promise<CreateResult> {
    const P = this.#P;
    const r = await this.#r.wgCreate(
      `${P}all`,
      `${P}users:${s.user}`,
      `${P}ck:${s.cookieDigest}`,
      `${P}s:${s.id}`,
      `${P}owned:${this.nodeId}`,
      P,
      s.id,
      Math.max(1, Math.round(ttlMs)),
      limits.maxClients,
      limits.maxSameClients,
      range.first,
      range.end,
      this.nodeId,
      ...sessionFields(s),
    );
    const outcome = String(r[0]);
    if (outcome === 'ok') return { ok: true, session: { ...s, lease: Number(r[1]), owner: this.nodeId } };
    if (outcome === 'max_clients' || outcome === 'max_same_clients' || outcome === 'no_lease') return { ok: false, outcome };
    throw new WolfguardError(ErrorCodes.STATE_UNAVAILABLE, `state store: session ${s.id} or its cookie exists already`, { sessionId: s.id });
  }

  async claimSession(digest: string, ttlMs: number): Promise<ClaimResult> {
    const r = await this.#r.wgClaim(`${this.#P}ck:${digest}`, this.#P, this.nodeId, Math.max(1, Math.round(ttlMs)), this.#channel);
    if (!Array.isArray(r) || r.length < 2) return { ok: false };
    const prev = String(r[0]);
    const alive = Number(r[1]) === 1;
    const h = new Map<string, string>();
    for (let i = 2; i + 1 < r.length; i += 2) h.set(String(r[i]), String(r[i + 1]));
    const session = sessionFromHash(h);
    if (!session) return { ok: false };
    return prev === this.nodeId ? { ok: true, session, previousAlive: true } : { ok: true, session, previousOwner: prev, previousAlive: alive };
  }

  async endSession(sessionId: string): Promise<boolean> {
    return (await this.#r.wgEnd(`${this.#P}s:${sessionId}`, this.#P, this.nodeId, sessionId)) === 1;
  }

  async restoreSessions(sessions: readonly StoredSession[], ttlMs: number): Promise<number> {
    const ttl = Math.max(1, Math.round(ttlMs));
    const results = await Promise.all(
      sessions.map((s) => this.#r.wgRestore(`${this.#P}s:${s.id}`, this.#P, this.nodeId, ttl, s.id, s.cookieDigest, s.lease, s.user, ...sessionFields(s))),
    );
    return results.filter((n) => n === 1).length;
  }

  async heartbeat(ttlMs: number): Promise<void> {
    await this.#r.wgHeartbeat(`${this.#P}node:${this.nodeId}`, `${this.#P}owned:${this.nodeId}`, this.#P, this.nodeId, this.#opts.nodeTtlMs, Math.max(1, Math.round(ttlMs)));
  }

  async ban(b: StoredBan): Promise<void> {
    const msg: StateEvent = { type: 'ban', ban: b, from: this.nodeId };
    // JSON has no Infinity: null means "until unbanned".
    const text = JSON.stringify(msg, (_k, v: unknown) => (v === Infinity ? null : v));
    await this.#r.wgBan(`${this.#P}bans`, `${this.#P}ban-notes`, b.prefix, b.until === Infinity ? '+inf' : Math.round(b.until), b.reason ?? '', this.#channel, text);
  }

  async unban(prefix: string): Promise<boolean> {
    const text = JSON.stringify({ type: 'unban', prefix, from: this.nodeId } satisfies StateEvent);
    return (await this.#r.wgUnban(`${this.#P}bans`, `${this.#P}ban-notes`, `${this.#P}pts:${prefixAddress(prefix)}`, prefix, this.#channel, text)) === 1;
  }

  async bans(): Promise<StoredBan[]> {
    const r = await this.#r.wgListBans(`${this.#P}bans`, `${this.#P}ban-notes`);
    const out: StoredBan[] = [];
    for (let i = 0; i + 2 < r.length; i += 3) {
      const until = r[i + 1] === 'inf' ? Infinity : Number(r[i + 1]);
      out.push({ prefix: String(r[i]), until, ...(r[i + 2] !== '' ? { reason: String(r[i + 2]) } : {}) });
    }
    return out;
  }

  async addBanPoints(address: string, points: number, windowMs: number): Promise<number> {
    return Number(await this.#r.wgPoints(`${this.#P}pts:${address}`, points, Math.max(1, Math.round(windowMs))));
  }
}

function sessionFields(s: NewSession): string[] {
  const f = ['id', s.id, 'ck', s.cookieDigest, 'user', s.user, 'groups', JSON.stringify(s.groups), 'createdAt', String(s.createdAt), 'peer', s.peer, 'app', s.dtlsAppId];
  if (s.group !== undefined) f.push('group', s.group);
  return f;
}

/** A stored hash back as a session; undefined when a field is missing or malformed (never throws). */
export function sessionFromHash(h: ReadonlyMap<string, string>): StoredSession | undefined {
  const id = h.get('id');
  const ck = h.get('ck');
  const user = h.get('user');
  const app = h.get('app');
  const owner = h.get('owner');
  const lease = Number(h.get('lease'));
  const createdAt = Number(h.get('createdAt'));
  if (id === undefined || ck === undefined || user === undefined || app === undefined || owner === undefined) return undefined;
  if (!Number.isSafeInteger(lease) || lease < 0 || !Number.isFinite(createdAt)) return undefined;
  let groups: string[] = [];
  try {
    const g = JSON.parse(h.get('groups') ?? '[]') as unknown;
    if (Array.isArray(g)) groups = g.filter((x): x is string => typeof x === 'string');
  } catch {
    groups = [];
  }
  const s: StoredSession = { id, cookieDigest: ck, user, groups, lease, createdAt, peer: h.get('peer') ?? '', dtlsAppId: app, owner };
  const group = h.get('group');
  return group !== undefined ? { ...s, group } : s;
}
