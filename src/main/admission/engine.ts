// The admission engine: one object on the main thread that answers "may this
// peer connect / send a DTLS handshake / log in / open another session?"
// before any TLS work is spent on it. Pure: no sockets, no timers; every call
// takes `now` (ms) from the caller's clock, and sweep() is for the caller's
// periodic timer.
//
// Order of a TCP connect decision:
//   1. unparsable address            -> refuse (bad_address)
//   2. ban list (manual, blacklist)  -> refuse (banned / blacklisted); bans beat every rule
//   3. ocserv ban points: the connect itself scores points_connection; a score
//      at or over max_ban_score within the ban time -> refuse (ban_score)
//   4. longest matching prefix rule, else the default:
//      accept -> allow; reject -> refuse; rate_limit -> token bucket per
//      source with a penalty box, and the ban list after N violations.
// Rate and score state is keyed per IPv4 address and per IPv6 /ipv6KeyPrefix
// (default /64: one subscriber usually holds a whole /64, so keying per /128
// would let one host walk around every limit). Blacklisting bans that key.
//
// Allocation: allow decisions are frozen objects built once per rule at
// replaceRules(), so the allow path allocates nothing; refusals build a new
// object carrying the address and retry time for the log line.
// Hot reload (replaceRules) swaps the rule table only; counters, bans, scores,
// rate state and session slots carry over.

import { WolfguardError, ErrorCodes, invalidArgument } from '../../common/errors';
import {
  FAMILY_NONE,
  FAMILY_V4,
  FAMILY_V6,
  V4_BITS,
  formatAddress,
  formatPrefix,
  maskInPlace,
  parseAddressInto,
  parsePrefix,
  type Prefix,
} from '../../common/address';
import { PrefixTrie } from './prefix-trie';
import { ConnectionRateLimiter, EventRateLimiter, RATE_ALLOW, RATE_LIMITED, RATE_OVER, RATE_PENALTY, connectionLimiterBytes } from './rate-limit';
import { IpBanScores, UserBanScores } from './ban-score';
import { SessionLimits, type SessionLimitsConfig } from './session-limits';
import type { AdmissionRules, RuleAction } from './rules-config';
import type { GeoGate, GeoRefusal } from './geofilter';

/** Why a decision came out as it did; stable strings for logs and metrics labels. */
export const DECISION_REASONS = [
  'rule_accept',
  'default_accept',
  'rate_ok',
  'rule_reject',
  'default_reject',
  'rate_limited',
  'penalty_box',
  'blacklisted',
  'banned',
  'ban_score',
  'bad_address',
  'dtls_ok',
  'dtls_rate_limited',
  'user_ok',
  'user_banned',
  'session_reserved',
  'session_own_cookie',
  'max_same_clients',
  'max_clients',
  'ban_list_full',
  // geofilter.conf (geofilter.ts): a block subnet, a block-country.
  'geo_blocked',
  'country_blocked',
] as const;
export type DecisionReason = (typeof DECISION_REASONS)[number];
const REASON_INDEX: Readonly<Record<DecisionReason, number>> = Object.fromEntries(DECISION_REASONS.map((r, i) => [r, i])) as Record<
  DecisionReason,
  number
>;

/** Pseudo rule ids for decisions no configured rule made. */
export const RULE_DEFAULT = 'default';
export const RULE_BAN = 'ban';
export const RULE_BAN_SCORE = 'ban_score';
export const RULE_ADDRESS = 'address';
export const RULE_DTLS = 'dtls_handshake';
export const RULE_SESSION = 'session';

export interface AdmissionDecision {
  readonly allow: boolean;
  readonly reason: DecisionReason;
  /** The configured rule id, or one of the RULE_* pseudo ids. */
  readonly ruleId: string;
  /** The peer's address as given (refusals by ban, score or rate; a reject rule's shared refusal carries none). */
  readonly ip?: string;
  /** The user name (user and session decisions). */
  readonly user?: string;
  /** Ms until the refusal could change (penalty or ban left), when known. Infinity = until unbanned. */
  readonly retryAfterMs?: number;
  /** The peer's country (geofilter refusals, when the GeoIP database knows it). */
  readonly country?: string;
}

export type BanReason = 'manual' | 'blacklist';

export interface BanEntry {
  readonly prefix: string;
  readonly reason: BanReason;
  readonly since: number;
  /** Infinity = until unbanned. */
  readonly until: number;
}

interface StoredBan extends BanEntry {
  readonly parsed: Prefix;
}

export interface BanListing {
  readonly prefix: string;
  readonly reason: BanReason | 'ban_score';
  readonly until: number;
  readonly score?: number;
}

export interface AuthFailureResult {
  readonly ipBanned: boolean;
  readonly userBanned: boolean;
}

export type BanPointsKind = 'wrong_password' | 'connection' | 'kkdcp';

export interface AdmissionEngineOptions {
  rules: AdmissionRules;
  sessions: SessionLimitsConfig;
  /** Addresses tracked per table (rate, DTLS rate, ban score); default 65,536. */
  addressCapacity?: number;
  /** User names tracked for ban points; default 65,536. */
  userCapacity?: number;
  /** Ban list entries (manual + blacklist); default 100,000. */
  maxBans?: number;
  /** IPv6 rate/score/blacklist key length; default 64. */
  ipv6KeyPrefix?: number;
  /** Hash seed for the address tables (pass a random 32-bit value). */
  seed?: number;
}

const DEFAULT_ADDRESS_CAPACITY = 65_536;
/** Address texts remembered (see peer()): as many as the address tables hold. */
const MEMO_ENTRIES = 65_536;
/** Per memo slot: the address (4 words) and its rate/score key (4 words). */
const MEMO_WORDS = 8;
// Per memo slot, one 64-byte record: everything a returning peer's decision
// reads and writes, in one cache line. With 50,000 rules and thousands of
// peers a decision was bound by cache misses (rule object, its counters, the
// limiter's key table), not by arithmetic. Int32 fields first, Float64 fields
// from byte 24 on (the same buffer seen both ways).
const MEMO_RECORD_BYTES = 64;
const MEMO_I32 = MEMO_RECORD_BYTES / 4;
const MEMO_F64 = MEMO_RECORD_BYTES / 8;
/** Rules generation the matched rule belongs to (see ruleGen). */
const M_GEN = 0;
/** ACT_* of the matched rule. */
const M_ACTION = 1;
/** The key's slot in the rate limiter / the ban scores, -1 when not taken yet. */
const M_RATE_SLOT = 2;
const M_SCORE_SLOT = 3;
const M_FAMILY = 4;
/** Decisions not yet added to the rule's counters (flushMemoCounts): allowed, refused by the rule. */
const M_ALLOWED = 3;
const M_REFUSED = 4;
/** The slots' stamps when taken (a changed stamp = the slot went to another key). */
const M_RATE_STAMP = 5;
const M_SCORE_STAMP = 6;
/** The matched rule's rate (rate_limit rules). */
const M_PER_MINUTE = 7;
const DEFAULT_USER_CAPACITY = 65_536;
const DEFAULT_MAX_BANS = 100_000;
const DEFAULT_IPV6_KEY_PREFIX = 64;
/** Different seeds per table so one crafted collision set does not hit all three. */
const SEED_STEP = 0x9e3779b9;

/** Numeric actions: the hot path switches on small integers, not strings. */
const ACT_ACCEPT = 0;
const ACT_REJECT = 1;
const ACT_RATE_LIMIT = 2;

interface CompiledRule {
  readonly id: string;
  readonly action: number;
  readonly perMinute: number;
  readonly penaltyMs: number;
  readonly counts: Float64Array;
  readonly allowDecision: AdmissionDecision;
  /** The refusal of a reject rule: shared and frozen like allowDecision (the caller knows the address). */
  readonly rejectDecision: AdmissionDecision;
  readonly rejectIndex: number;
  /** Counter index of allowDecision.reason. */
  readonly allowIndex: number;
  readonly isDefault: boolean;
}

export interface CounterSample {
  readonly ruleId: string;
  readonly reason: DecisionReason;
  readonly count: number;
}

export class AdmissionEngine {
  private trie = new PrefixTrie<CompiledRule>();
  /** geofilter.conf and country rules; undefined = none (one branch on the hot path). */
  private geo: GeoGate | undefined;
  private defaultRule!: CompiledRule;
  private rules!: AdmissionRules;
  private readonly countsByRule = new Map<string, Float64Array>();
  private readonly bans = new PrefixTrie<StoredBan>();
  private readonly limiter: ConnectionRateLimiter;
  private readonly dtls: EventRateLimiter;
  private readonly ipScores: IpBanScores;
  private readonly userScores: UserBanScores;
  private readonly sessions: SessionLimits;
  private readonly maxBans: number;
  private readonly v6KeyPrefix: number;
  /** Scratch: the peer's address, then its rate/score key. Reused by every call. */
  private readonly addr = new Uint32Array(4);
  private readonly key = new Uint32Array(4);
  private readonly banCounts: Float64Array;
  private readonly scoreCounts: Float64Array;
  private readonly addressCounts: Float64Array;
  private readonly dtlsCounts: Float64Array;
  private readonly sessionCounts: Float64Array;
  private readonly dtlsOk: AdmissionDecision = Object.freeze({ allow: true, reason: 'dtls_ok', ruleId: RULE_DTLS });
  // Peers remembered by their address text (see peer()): slot m holds the
  // parsed address and rate key (memoWords), a record (M_* fields), the
  // matched rule, and the decision a returning peer gets when no limit or
  // ban intervenes (the rule's allow or reject decision).
  private readonly memoIndex = new Map<string, number>();
  private readonly memoWords = new Uint32Array(MEMO_ENTRIES * MEMO_WORDS);
  private readonly memoBuffer = new ArrayBuffer(MEMO_ENTRIES * MEMO_RECORD_BYTES);
  private readonly memoI32 = new Int32Array(this.memoBuffer);
  private readonly memoF64 = new Float64Array(this.memoBuffer);
  private readonly memoRule: Array<CompiledRule | undefined> = new Array<CompiledRule | undefined>(MEMO_ENTRIES).fill(undefined);
  private readonly memoDecision: Array<AdmissionDecision | undefined> = new Array<AdmissionDecision | undefined>(MEMO_ENTRIES).fill(undefined);
  /** Bumped by replaceRules: remembered rule matches of older rules are looked up again. */
  private ruleGen = 1;

  constructor(opts: AdmissionEngineOptions) {
    const cap = opts.addressCapacity ?? DEFAULT_ADDRESS_CAPACITY;
    const seed = opts.seed ?? 0;
    this.maxBans = opts.maxBans ?? DEFAULT_MAX_BANS;
    this.v6KeyPrefix = opts.ipv6KeyPrefix ?? DEFAULT_IPV6_KEY_PREFIX;
    if (!Number.isInteger(this.v6KeyPrefix) || this.v6KeyPrefix < 1 || this.v6KeyPrefix > 128) {
      throw invalidArgument(`ipv6KeyPrefix must be 1..128, got ${this.v6KeyPrefix}`);
    }
    this.limiter = new ConnectionRateLimiter({
      capacity: cap,
      violationMemoryMs: opts.rules.violationMemoryMs,
      blacklistAfterViolations: opts.rules.blacklistAfterViolations,
      seed,
    });
    this.dtls = new EventRateLimiter(cap, (seed + SEED_STEP) | 0);
    this.ipScores = new IpBanScores(cap, opts.rules.banScore, (seed + 2 * SEED_STEP) | 0);
    this.userScores = new UserBanScores(opts.userCapacity ?? DEFAULT_USER_CAPACITY, opts.rules.banScore);
    this.sessions = new SessionLimits(opts.sessions);
    this.banCounts = this.countersFor(RULE_BAN);
    this.scoreCounts = this.countersFor(RULE_BAN_SCORE);
    this.addressCounts = this.countersFor(RULE_ADDRESS);
    this.dtlsCounts = this.countersFor(RULE_DTLS);
    this.sessionCounts = this.countersFor(RULE_SESSION);
    this.replaceRules(opts.rules);
  }

  /** Swap in new rules (SIGHUP / admin reload); all state and counters are kept. */
  replaceRules(rules: AdmissionRules): void {
    const trie = new PrefixTrie<CompiledRule>(rules.rules.length * 8);
    for (const r of rules.rules) {
      trie.insert(r.prefix.family, r.prefix.words, r.prefix.length, this.compile(r.id, r.action, r.maxConnectionsPerMinute, r.penaltyMs, false));
    }
    this.defaultRule = this.compile(RULE_DEFAULT, rules.defaultAction, rules.defaultMaxConnectionsPerMinute, rules.defaultPenaltyMs, true);
    this.trie = trie;
    this.rules = rules;
    this.ruleGen = (this.ruleGen + 1) | 0;
    this.limiter.configure(rules.violationMemoryMs, rules.blacklistAfterViolations);
    this.ipScores.configure(rules.banScore);
    this.userScores.configure(rules.banScore);
  }

  /** Install (or with undefined remove) the geofilter; consulted after bans, before ban points and rules. */
  setGeofilter(geo: GeoGate | undefined): void {
    this.geo = geo;
  }

  /** Change max-clients / max-same-clients (reload); held sessions stay. */
  configureSessions(cfg: SessionLimitsConfig): void {
    this.sessions.configure(cfg);
  }

  get activeRules(): AdmissionRules {
    return this.rules;
  }

  /** A TCP peer at `ip` wants to connect. Refused peers must be closed before any TLS byte is read. */
  checkConnect(ip: string, now: number): AdmissionDecision {
    const m = this.peer(ip);
    if (m < 0) return this.refuse(this.addressCounts, 'bad_address', RULE_ADDRESS, ip, undefined);
    const rec = this.memoI32;
    const b = m * MEMO_I32;
    if (this.bans.size !== 0 || this.geo !== undefined) {
      const family = rec[b + M_FAMILY]!;
      this.loadAddress(m);
      const ban = this.activeBan(family, now);
      if (ban !== undefined) return this.refuse(this.banCounts, ban.reason === 'blacklist' ? 'blacklisted' : 'banned', RULE_BAN, ip, ban.until - now);
      if (this.geo !== undefined) {
        const g = this.geo.check(family, this.addr);
        if (g !== undefined) return this.geoRefusal(g, ip);
      }
    }
    if (this.ipScores.enabled) {
      const s = this.scoreSlot(m, now);
      if (this.ipScores.addPointsSlot(s, now, this.rules.banScore.pointsConnection)) {
        return this.refuse(this.scoreCounts, 'ban_score', RULE_BAN_SCORE, ip, this.ipScores.banRemainingSlot(s, now));
      }
    }
    if (rec[b + M_GEN] !== this.ruleGen) this.matchRule(m);
    const action = rec[b + M_ACTION];
    if (action === ACT_RATE_LIMIT) return this.rateLimit(m, ip, now);
    this.memoF64[m * MEMO_F64 + (action === ACT_ACCEPT ? M_ALLOWED : M_REFUSED)]++;
    return this.memoDecision[m]!;
  }

  /** A DTLS ClientHello from `ip`; a refused one gets no reply at all. */
  checkDtlsHandshake(ip: string, now: number): AdmissionDecision {
    const family = parseAddressInto(ip, this.addr);
    if (family === FAMILY_NONE) return this.refuse(this.addressCounts, 'bad_address', RULE_ADDRESS, ip, undefined);
    const ban = this.activeBan(family, now);
    if (ban !== undefined) return this.refuse(this.banCounts, ban.reason === 'blacklist' ? 'blacklisted' : 'banned', RULE_BAN, ip, ban.until - now);
    // A peer the geofilter refuses gets no DTLS either: its address may have
    // changed since its TCP connection was let in (roaming into a blocked range).
    if (this.geo !== undefined) {
      const g = this.geo.check(family, this.addr);
      if (g !== undefined) return this.geoRefusal(g, ip);
    }
    const key = this.keyOf(family);
    if (this.ipScores.enabled && this.ipScores.isBanned(key, now)) {
      return this.refuse(this.scoreCounts, 'ban_score', RULE_BAN_SCORE, ip, this.ipScores.banRemaining(key, now));
    }
    const rate = this.rules.dtlsHandshakesPerSecond;
    if (rate > 0 && !this.dtls.check(key, now, rate)) return this.refuse(this.dtlsCounts, 'dtls_rate_limited', RULE_DTLS, ip, undefined);
    this.dtlsCounts[REASON_INDEX.dtls_ok]++;
    return this.dtlsOk;
  }

  /** Before checking a password: is this user name locked out by its ban points? */
  checkUserAuth(user: string, now: number): AdmissionDecision {
    if (this.userScores.isBanned(user, now)) {
      this.scoreCounts[REASON_INDEX.user_banned]++;
      return { allow: false, reason: 'user_banned', ruleId: RULE_BAN_SCORE, user, retryAfterMs: this.userScores.banRemaining(user, now) };
    }
    this.scoreCounts[REASON_INDEX.user_ok]++;
    return { allow: true, reason: 'user_ok', ruleId: RULE_BAN_SCORE, user };
  }

  /**
   * Score a failed authentication (ocserv ban points). `user` may be null when
   * no name was given. Returns whether the address / the user are banned now.
   */
  recordAuthFailure(ip: string, user: string | null, now: number, kind: BanPointsKind = 'wrong_password'): AuthFailureResult {
    const cfg = this.rules.banScore;
    const points = kind === 'wrong_password' ? cfg.pointsWrongPassword : kind === 'kkdcp' ? cfg.pointsKkdcp : cfg.pointsConnection;
    const family = parseAddressInto(ip, this.addr);
    const ipBanned = family !== FAMILY_NONE && this.ipScores.addPoints(this.keyOf(family), now, points);
    const userBanned = user !== null && this.userScores.addPoints(user, now, points);
    return { ipBanned, userBanned };
  }

  /** A successful login clears the user's score (not the address's: ocserv keeps that). */
  recordAuthSuccess(user: string): void {
    this.userScores.reset(user);
  }

  /**
   * After authentication succeeded: may `sessionId` (the new cookie's
   * session) of `user` exist? Takes the session's slot; calling it again for
   * the same session (a reconnect with its own cookie) is always allowed.
   */
  checkUserSession(user: string, sessionId: string, now: number): AdmissionDecision {
    const r = this.sessions.reserve(user, sessionId, now);
    const reason: DecisionReason = r.outcome === 'reserved' ? 'session_reserved' : r.outcome === 'own_session' ? 'session_own_cookie' : r.outcome;
    this.sessionCounts[REASON_INDEX[reason]]++;
    return { allow: r.ok, reason, ruleId: RULE_SESSION, user };
  }

  /** The session sent CONNECT (first or reconnect); false = it holds no slot, refuse the CONNECT. */
  commitSession(sessionId: string, now: number): boolean {
    return this.sessions.commit(sessionId, now);
  }

  /** The session ended (logout, cookie expiry, kill). */
  releaseSession(sessionId: string): boolean {
    return this.sessions.release(sessionId);
  }

  sessionCount(user?: string): number {
    return user === undefined ? this.sessions.total : this.sessions.countFor(user);
  }

  /**
   * Ban an address or prefix ("ban ip"). `durationMs` Infinity = until
   * unbanned. Replaces an existing ban of the same prefix. Throws
   * INVALID_ARGUMENT for a bad prefix, ADMISSION_BAN_LIST_FULL when full.
   */
  ban(prefixText: string, now: number, durationMs = Infinity, reason: BanReason = 'manual'): BanEntry {
    if (!(durationMs > 0)) throw invalidArgument(`ban duration must be positive, got ${durationMs}`);
    const p = parsePrefix(prefixText);
    return this.addBan(p, now, now + durationMs, reason, true) as BanEntry;
  }

  /**
   * Lift a ban ("unban ip"): removes the ban list entry for exactly this
   * prefix, and for an address (or a prefix at least as long as the rate key)
   * also its ban points, penalty and violations. True when anything changed.
   */
  unban(prefixText: string): boolean {
    const p = parsePrefix(prefixText);
    let changed = this.bans.remove(p.family, p.words, p.length) !== undefined;
    const keyLen = p.family === FAMILY_V4 ? V4_BITS : this.v6KeyPrefix;
    if (p.length >= keyLen) {
      this.addr.set(p.words);
      const key = this.keyOf(p.family);
      if (this.ipScores.reset(key)) changed = true;
      if (this.limiter.reset(key)) changed = true;
    }
    return changed;
  }

  /** Is `ip` refused by the ban list or ban points right now? (No points are added.) */
  isBanned(ip: string, now: number): boolean {
    const family = parseAddressInto(ip, this.addr);
    if (family === FAMILY_NONE) return false;
    if (this.activeBan(family, now) !== undefined) return true;
    return this.ipScores.isBanned(this.keyOf(family), now);
  }

  /** Everything refused by ban list or ban points at `now` (admin "show bans"). */
  listBans(now: number): BanListing[] {
    const out: BanListing[] = [];
    for (const b of this.bans.allValues()) if (b.until > now) out.push({ prefix: b.prefix, reason: b.reason, until: b.until });
    for (const s of this.ipScores.banned(now)) {
      const family = s.key[0] === 0 && s.key[1] === 0 && s.key[2] === 0xffff ? FAMILY_V4 : FAMILY_V6;
      const len = family === FAMILY_V4 ? V4_BITS : this.v6KeyPrefix;
      out.push({ prefix: `${formatAddress(s.key, family)}/${len}`, reason: 'ban_score', until: s.until, score: s.score });
    }
    return out;
  }

  /** Users locked out by ban points. */
  listUserBans(now: number): { user: string; score: number; until: number }[] {
    return this.userScores.banned(now);
  }

  /**
   * Periodic upkeep for the caller's timer: drops expired bans and idle
   * state, gives back stale session reservations (returned so the caller can
   * invalidate those cookies). `budget` bounds slots looked at per table.
   */
  sweep(now: number, budget?: number): { droppedEntries: number; expiredBans: number; expiredReservations: string[] } {
    let expiredBans = 0;
    for (const b of this.bans.allValues()) {
      if (b.until <= now) {
        this.bans.remove(b.parsed.family, b.parsed.words, b.parsed.length);
        expiredBans++;
      }
    }
    const droppedEntries =
      this.limiter.sweep(now, budget) + this.dtls.sweep(now, budget) + this.ipScores.sweep(now, budget) + this.userScores.sweep(now);
    return { droppedEntries, expiredBans, expiredReservations: this.sessions.expirePending(now) };
  }

  /** Decision counts by rule id and reason (monotonic across reloads; removed rules keep theirs). */
  counters(): CounterSample[] {
    this.flushMemoCounts();
    const out: CounterSample[] = [];
    for (const [ruleId, counts] of this.countsByRule) {
      for (let i = 0; i < counts.length; i++) if (counts[i] > 0) out.push({ ruleId, reason: DECISION_REASONS[i], count: counts[i] });
    }
    return out;
  }

  /** Sizes and bounds for metrics and the admin socket. */
  stats(): Record<string, number> {
    return {
      rules: this.rules.rules.length,
      ruleTrieNodes: this.trie.nodes,
      bans: this.bans.size,
      maxBans: this.maxBans,
      rateEntries: this.limiter.size,
      rateCapacity: this.limiter.capacity,
      rateEvictions: this.limiter.evictions,
      rateBytesBound: connectionLimiterBytes(this.limiter.capacity),
      dtlsEntries: this.dtls.size,
      ipScoreEntries: this.ipScores.size,
      userScoreEntries: this.userScores.size,
      sessions: this.sessions.total,
    };
  }

  private rateLimit(m: number, ip: string, now: number): AdmissionDecision {
    const limiter = this.limiter;
    const f = m * MEMO_F64;
    const b = m * MEMO_I32;
    const perMinute = this.memoF64[f + M_PER_MINUTE]!;
    let s = this.memoI32[b + M_RATE_SLOT]!;
    if (s < 0 || limiter.stampOf(s) !== this.memoF64[f + M_RATE_STAMP]) {
      s = limiter.slotFor(this.loadKey(m), now, perMinute);
      this.memoI32[b + M_RATE_SLOT] = s;
      this.memoF64[f + M_RATE_STAMP] = limiter.stampOf(s);
    }
    let r: number = limiter.checkSlot(s, now, perMinute);
    if (r === RATE_ALLOW) {
      this.memoF64[f + M_ALLOWED]++;
      return this.memoDecision[m]!;
    }
    const rule = this.memoRule[m]!;
    const key = this.loadKey(m);
    if (r === RATE_PENALTY) return this.refuse(rule.counts, 'penalty_box', rule.id, ip, limiter.penaltyRemaining(key, now));
    if (r === RATE_OVER) r = limiter.violate(s, now, rule.penaltyMs);
    if (r === RATE_LIMITED) return this.refuse(rule.counts, 'rate_limited', rule.id, ip, rule.penaltyMs);
    const family = this.memoI32[b + M_FAMILY]!;
    // RATE_BLACKLIST: ban the key's prefix; keep the penalty if the list is full.
    const p: Prefix = { family: family === FAMILY_V4 ? FAMILY_V4 : FAMILY_V6, words: Uint32Array.from(key), length: family === FAMILY_V4 ? V4_BITS : this.v6KeyPrefix };
    const until = now + this.rules.blacklistDurationMs;
    if (this.addBan(p, now, until, 'blacklist', false) === undefined) {
      return this.refuse(rule.counts, 'ban_list_full', rule.id, ip, rule.penaltyMs);
    }
    return this.refuse(rule.counts, 'blacklisted', rule.id, ip, until - now);
  }

  private addBan(p: Prefix, now: number, until: number, reason: BanReason, throwWhenFull: boolean): BanEntry | undefined {
    const existing = this.bans.get(p.family, p.words, p.length);
    if (existing === undefined && this.bans.size >= this.maxBans) {
      this.sweepBans(now);
      if (this.bans.size >= this.maxBans) {
        if (throwWhenFull) throw new WolfguardError(ErrorCodes.ADMISSION_BAN_LIST_FULL, `ban list is full (${this.maxBans} entries)`, { maxBans: this.maxBans });
        return undefined;
      }
    }
    const entry: StoredBan = { prefix: formatPrefix(p), reason, since: now, until, parsed: p };
    this.bans.insert(p.family, p.words, p.length, entry);
    return { prefix: entry.prefix, reason, since: now, until };
  }

  private sweepBans(now: number): void {
    for (const b of this.bans.allValues()) if (b.until <= now) this.bans.remove(b.parsed.family, b.parsed.words, b.parsed.length);
  }

  /** Longest active ban containing this.addr; expired entries met on the way are removed. */
  private activeBan(family: number, now: number): StoredBan | undefined {
    if (this.bans.size === 0) return undefined;
    for (;;) {
      const b = this.bans.lookup(family, this.addr);
      if (b === undefined || now < b.until) return b;
      this.bans.remove(b.parsed.family, b.parsed.words, b.parsed.length);
    }
  }

  /**
   * The memo slot of a peer's address text; -1 when the text is no address.
   * Parsing the text, walking the rule trie and hashing the rate and score
   * keys were most of a decision's cost; a peer that comes back (the common
   * case, and every flood from few sources) skips all of them. Bounded: when
   * MEMO_ENTRIES texts are held the memo starts over, so a flood of distinct
   * addresses costs a parse each, as before. this.addr and this.key are not
   * set: loadAddress/loadKey do that for the paths that need them.
   */
  private peer(ip: string): number {
    let m = this.memoIndex.get(ip);
    if (m !== undefined) return m;
    const family = parseAddressInto(ip, this.addr);
    if (family === FAMILY_NONE) return -1;
    this.keyOf(family);
    if (this.memoIndex.size >= MEMO_ENTRIES) {
      this.flushMemoCounts();
      this.memoIndex.clear();
    }
    m = this.memoIndex.size;
    this.memoIndex.set(ip, m);
    const o = m * MEMO_WORDS;
    this.memoWords.set(this.addr, o);
    this.memoWords.set(this.key, o + 4);
    const b = m * MEMO_I32;
    const rec = this.memoI32;
    rec[b + M_GEN] = 0;
    rec[b + M_RATE_SLOT] = -1;
    rec[b + M_SCORE_SLOT] = -1;
    rec[b + M_FAMILY] = family;
    this.memoRule[m] = undefined;
    return m;
  }

  /** Memo slot m's rule under the current rules (its counts so far go to the rule it had). */
  private matchRule(m: number): void {
    this.flushCounts(m);
    const b = m * MEMO_I32;
    const rule = this.trie.lookup(this.memoI32[b + M_FAMILY]!, this.loadAddress(m)) ?? this.defaultRule;
    this.memoRule[m] = rule;
    this.memoDecision[m] = rule.action === ACT_REJECT ? rule.rejectDecision : rule.allowDecision;
    this.memoI32[b + M_ACTION] = rule.action;
    this.memoI32[b + M_GEN] = this.ruleGen;
    this.memoF64[m * MEMO_F64 + M_PER_MINUTE] = rule.perMinute;
  }

  /** Adds memo slot m's uncounted decisions to its rule's counters. */
  private flushCounts(m: number): void {
    const rule = this.memoRule[m];
    const f = m * MEMO_F64;
    const counts = this.memoF64;
    if (rule !== undefined) {
      rule.counts[rule.allowIndex] += counts[f + M_ALLOWED]!;
      rule.counts[rule.rejectIndex] += counts[f + M_REFUSED]!;
    }
    counts[f + M_ALLOWED] = 0;
    counts[f + M_REFUSED] = 0;
  }

  private flushMemoCounts(): void {
    for (let m = 0; m < this.memoIndex.size; m++) this.flushCounts(m);
  }

  /** this.addr := the address of memo slot m. */
  private loadAddress(m: number): Uint32Array {
    const o = m * MEMO_WORDS;
    const w = this.memoWords;
    const a = this.addr;
    a[0] = w[o]!;
    a[1] = w[o + 1]!;
    a[2] = w[o + 2]!;
    a[3] = w[o + 3]!;
    return a;
  }

  /** this.key := the rate/score key of memo slot m. */
  private loadKey(m: number): Uint32Array {
    const o = m * MEMO_WORDS + 4;
    const w = this.memoWords;
    const k = this.key;
    k[0] = w[o]!;
    k[1] = w[o + 1]!;
    k[2] = w[o + 2]!;
    k[3] = w[o + 3]!;
    return k;
  }

  /** The ban-score slot of memo slot m's key, taken when absent or no longer its own. */
  private scoreSlot(m: number, now: number): number {
    const b = m * MEMO_I32;
    const f = m * MEMO_F64;
    let s = this.memoI32[b + M_SCORE_SLOT]!;
    if (s < 0 || this.ipScores.stampOf(s) !== this.memoF64[f + M_SCORE_STAMP]) {
      s = this.ipScores.slotFor(this.loadKey(m), now);
      this.memoI32[b + M_SCORE_SLOT] = s;
      this.memoF64[f + M_SCORE_STAMP] = this.ipScores.stampOf(s);
    }
    return s;
  }

  /** this.addr as a rate/score key: itself for IPv4, its /v6KeyPrefix for IPv6. */
  private keyOf(family: number): Uint32Array {
    const k = this.key;
    k[0] = this.addr[0];
    k[1] = this.addr[1];
    k[2] = this.addr[2];
    k[3] = this.addr[3];
    if (family === FAMILY_V6 && this.v6KeyPrefix < 128) maskInPlace(k, FAMILY_V6, this.v6KeyPrefix);
    return k;
  }

  private geoRefusal(g: GeoRefusal, ip: string): AdmissionDecision {
    this.countersFor(g.ruleId)[REASON_INDEX[g.reason]]++;
    return g.country === undefined ? { allow: false, reason: g.reason, ruleId: g.ruleId, ip } : { allow: false, reason: g.reason, ruleId: g.ruleId, ip, country: g.country };
  }

  private refuse(counts: Float64Array, reason: DecisionReason, ruleId: string, ip: string, retryAfterMs: number | undefined): AdmissionDecision {
    counts[REASON_INDEX[reason]]++;
    return retryAfterMs === undefined ? { allow: false, reason, ruleId, ip } : { allow: false, reason, ruleId, ip, retryAfterMs };
  }

  private countersFor(ruleId: string): Float64Array {
    let c = this.countsByRule.get(ruleId);
    if (c === undefined) {
      c = new Float64Array(DECISION_REASONS.length);
      this.countsByRule.set(ruleId, c);
    }
    return c;
  }

  private compile(id: string, action: RuleAction, perMinute: number, penaltyMs: number, isDefault: boolean): CompiledRule {
    const reason: DecisionReason = action === 'rate_limit' ? 'rate_ok' : isDefault ? 'default_accept' : 'rule_accept';
    const rejectReason: DecisionReason = isDefault ? 'default_reject' : 'rule_reject';
    return {
      id,
      action: action === 'accept' ? ACT_ACCEPT : action === 'reject' ? ACT_REJECT : ACT_RATE_LIMIT,
      perMinute,
      penaltyMs,
      counts: this.countersFor(id),
      allowDecision: Object.freeze({ allow: true, reason, ruleId: id }),
      allowIndex: REASON_INDEX[reason],
      rejectDecision: Object.freeze({ allow: false, reason: rejectReason, ruleId: id }),
      rejectIndex: REASON_INDEX[rejectReason],
      isDefault,
    };
  }
}
