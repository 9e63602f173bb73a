// Per-address connection rate limits with a penalty box, and a per-address
// event rate (DTLS handshakes), both as token buckets in typed arrays.
//
// Why a token bucket: "5 per minute" then means a burst of 5 and one more
// every 12 s, with exact state in two numbers per address (no window of
// timestamps to keep). Its capacity equals its refill per minute, so an idle
// bucket is full again after at most one minute; after that (and once any
// penalty is over and violations are forgotten) its entry carries no
// information and the sweep drops it.
//
// Memory bound: each limiter holds at most `capacity` addresses (rounded up to
// a power of two), ADDRESS_TABLE_BYTES_PER_SLOT + CONNECTION_BYTES_PER_SLOT
// bytes each (65,536 slots = about 6 MB). When the probe window of a new
// address is full, the least valuable entry of that window is overwritten:
// idle ones first, penalised ones last.
//
// The clock is injected: every call takes `now` in ms. A clock that steps
// back is treated as "no time passed", never as negative refill.

import { AddressSlotTable, ADDRESS_TABLE_BYTES_PER_SLOT } from './address-table';

export const RATE_ALLOW = 0;
/** Over the limit just now: the penalty starts. */
export const RATE_LIMITED = 1;
/** Refused because a penalty is running. */
export const RATE_PENALTY = 2;
/** Over the limit, and that was violation number `blacklistAfter`: the caller blacklists. */
export const RATE_BLACKLIST = 3;
export type RateResult = typeof RATE_ALLOW | typeof RATE_LIMITED | typeof RATE_PENALTY | typeof RATE_BLACKLIST;

const MS_PER_MINUTE = 60_000;
const MS_PER_SECOND = 1_000;
/** Eviction preference: any idle entry before any violator before any penalised one. */
const SCORE_PENALISED = -2e15;
const SCORE_VIOLATOR = -1e15;
/** Result of checkSlot(): over the limit; violate() decides between RATE_LIMITED and RATE_BLACKLIST. */
export const RATE_OVER = 4;

/** Per-slot layout in ConnectionRateLimiter.hot: the fields every check touches, one 64-byte cache line. */
const F_TOKENS = 0;
const F_LAST = 1;
const F_PENALTY_UNTIL = 2;
const F_LAST_SEEN = 3;
/** Who holds the slot: a number new with every key that takes it, 0 when free (see stampOf). */
const F_STAMP = 4;
/** Five fields padded to eight, so a slot never straddles two cache lines. */
const HOT_FIELDS = 8;
/** hot (HOT_FIELDS Float64) + lastViolation (Float64) + violations (Uint32). */
export const CONNECTION_BYTES_PER_SLOT = HOT_FIELDS * 8 + 8 + 4;

export interface ConnectionRateLimiterOptions {
  /** Most addresses tracked at once (rounded up to a power of two). */
  capacity: number;
  /** Violations older than this are forgotten (ms). */
  violationMemoryMs: number;
  /** Violations that trigger RATE_BLACKLIST; 0 = never. */
  blacklistAfterViolations: number;
  /** Hash seed (pass a random one in production). */
  seed?: number;
}

export class ConnectionRateLimiter {
  private readonly table: AddressSlotTable;
  /** tokens, last refill, penalty end, last seen, stamp: interleaved so a check touches one cache line. */
  private readonly hot: Float64Array;
  /** Last stamp given out; a double counts past 2^53 keys before repeating, which never happens. */
  private stampSeq = 0;
  /** Only touched on violations. */
  private readonly lastViolation: Float64Array;
  private readonly violations: Uint32Array;
  private violationMemoryMs: number;
  private blacklistAfter: number;
  private sweepCursor = 0;

  constructor(opts: ConnectionRateLimiterOptions) {
    this.table = new AddressSlotTable(opts.capacity, (s, now) => this.victimScore(s, now), opts.seed ?? 0);
    const n = this.table.capacity;
    this.hot = new Float64Array(n * HOT_FIELDS);
    this.lastViolation = new Float64Array(n);
    this.violations = new Uint32Array(n);
    this.violationMemoryMs = opts.violationMemoryMs;
    this.blacklistAfter = opts.blacklistAfterViolations;
  }

  /** Change the violation policy (hot reload); state is kept. */
  configure(violationMemoryMs: number, blacklistAfterViolations: number): void {
    this.violationMemoryMs = violationMemoryMs;
    this.blacklistAfter = blacklistAfterViolations;
  }

  get size(): number {
    return this.table.size;
  }

  get capacity(): number {
    return this.table.capacity;
  }

  get evictions(): number {
    return this.table.evictions;
  }

  /**
   * One connection attempt from `key` under a limit of `perMinute` with a
   * penalty of `penaltyMs` once exceeded. Attempts during a penalty do not
   * extend it and are not violations, so a client that keeps retrying is let
   * in once the penalty is over instead of being locked out for good.
   */
  check(key: Uint32Array, now: number, perMinute: number, penaltyMs: number): RateResult {
    const s = this.slotFor(key, now, perMinute);
    const r = this.checkSlot(s, now, perMinute);
    return r === RATE_OVER ? this.violate(s, now, penaltyMs) : r;
  }

  /**
   * The slot of `key`, taken (with a full bucket of `perMinute`) when absent.
   * A caller may remember (slot, stampOf(slot)) for the key and, while the
   * stamp is unchanged, call checkSlot() without hashing the key again: the
   * admission engine does, per address text.
   */
  slotFor(key: Uint32Array, now: number, perMinute: number): number {
    const s = this.table.acquire(key, now);
    if (this.table.created) {
      const o = s * HOT_FIELDS;
      this.hot[o + F_TOKENS] = perMinute;
      this.hot[o + F_LAST] = now;
      this.hot[o + F_PENALTY_UNTIL] = 0;
      this.hot[o + F_STAMP] = ++this.stampSeq;
      this.violations[s] = 0;
      this.lastViolation[s] = 0;
    }
    return s;
  }

  /** Changes whenever the slot passes to another key or is freed. */
  stampOf(slot: number): number {
    return this.hot[slot * HOT_FIELDS + F_STAMP]!;
  }

  /** One attempt on a slot from slotFor(): RATE_ALLOW, RATE_PENALTY, or RATE_OVER (then call violate()). */
  checkSlot(s: number, now: number, perMinute: number): typeof RATE_ALLOW | typeof RATE_PENALTY | typeof RATE_OVER {
    const hot = this.hot;
    const o = s * HOT_FIELDS;
    hot[o + F_LAST_SEEN] = now;
    if (now < hot[o + F_PENALTY_UNTIL]) return RATE_PENALTY;
    const elapsed = now - hot[o + F_LAST];
    let t = hot[o + F_TOKENS];
    if (elapsed > 0) {
      t += (elapsed * perMinute) / MS_PER_MINUTE;
      hot[o + F_LAST] = now;
    }
    if (t > perMinute) t = perMinute;
    if (t >= 1) {
      hot[o + F_TOKENS] = t - 1;
      return RATE_ALLOW;
    }
    hot[o + F_TOKENS] = t;
    return RATE_OVER;
  }

  /** After RATE_OVER: the penalty starts; RATE_BLACKLIST when that was violation number `blacklistAfter`. */
  violate(s: number, now: number, penaltyMs: number): RateResult {
    return this.violation(s, now, penaltyMs);
  }

  private violation(s: number, now: number, penaltyMs: number): RateResult {
    if (this.violations[s] > 0 && now - this.lastViolation[s] > this.violationMemoryMs) this.violations[s] = 0;
    const v = this.violations[s] + 1;
    this.violations[s] = v;
    this.lastViolation[s] = now;
    this.hot[s * HOT_FIELDS + F_PENALTY_UNTIL] = now + penaltyMs;
    if (this.blacklistAfter > 0 && v >= this.blacklistAfter) {
      // The blacklist takes over; a later unban starts from a clean slate.
      this.violations[s] = 0;
      return RATE_BLACKLIST;
    }
    return RATE_LIMITED;
  }

  /** Ms of penalty left for `key` (0 when none). */
  penaltyRemaining(key: Uint32Array, now: number): number {
    const s = this.table.find(key);
    if (s < 0) return 0;
    const left = this.hot[s * HOT_FIELDS + F_PENALTY_UNTIL] - now;
    return left > 0 ? left : 0;
  }

  /** Violations currently remembered for `key`. */
  violationCount(key: Uint32Array, now: number): number {
    const s = this.table.find(key);
    if (s < 0) return 0;
    return now - this.lastViolation[s] > this.violationMemoryMs ? 0 : this.violations[s];
  }

  /** Forget everything about `key` (unban). */
  reset(key: Uint32Array): boolean {
    const s = this.table.find(key);
    if (s < 0) return false;
    this.free(s);
    return true;
  }

  private free(s: number): void {
    this.table.release(s);
    this.hot[s * HOT_FIELDS + F_STAMP] = 0;
  }

  /**
   * Drop entries that carry no information any more, looking at no more than
   * `budget` slots per call so the main thread never stalls. Returns how many
   * were dropped.
   */
  sweep(now: number, budget: number = this.table.capacity): number {
    let dropped = 0;
    const n = this.table.capacity;
    for (let i = 0; i < budget && i < n; i++) {
      const s = this.sweepCursor;
      this.sweepCursor = (s + 1) & (n - 1);
      if (!this.table.isLive(s)) continue;
      if (this.isIdle(s, now)) {
        this.free(s);
        dropped++;
      }
    }
    return dropped;
  }

  private isIdle(s: number, now: number): boolean {
    const o = s * HOT_FIELDS;
    return (
      now - this.hot[o + F_LAST_SEEN] >= MS_PER_MINUTE &&
      now >= this.hot[o + F_PENALTY_UNTIL] &&
      (this.violations[s] === 0 || now - this.lastViolation[s] > this.violationMemoryMs)
    );
  }

  private victimScore(s: number, now: number): number {
    const o = s * HOT_FIELDS;
    const age = now - this.hot[o + F_LAST_SEEN];
    if (now < this.hot[o + F_PENALTY_UNTIL]) return SCORE_PENALISED + age;
    if (this.violations[s] > 0 && now - this.lastViolation[s] <= this.violationMemoryMs) return SCORE_VIOLATOR + age;
    return age;
  }
}

/** tokens, last (Float64). */
export const EVENT_BYTES_PER_SLOT = 2 * 8;

/**
 * Events per second per address (DTLS ClientHellos): over the rate the event
 * is dropped, nothing more; a UDP peer gets no reply either way, so a penalty
 * would buy nothing.
 */
export class EventRateLimiter {
  private readonly table: AddressSlotTable;
  private readonly tokens: Float64Array;
  private readonly last: Float64Array;
  private sweepCursor = 0;

  constructor(capacity: number, seed = 0) {
    this.table = new AddressSlotTable(capacity, (s, now) => now - this.last[s], seed);
    this.tokens = new Float64Array(this.table.capacity);
    this.last = new Float64Array(this.table.capacity);
  }

  get size(): number {
    return this.table.size;
  }

  get capacity(): number {
    return this.table.capacity;
  }

  /** True when the event is within `perSecond` for this address. */
  check(key: Uint32Array, now: number, perSecond: number): boolean {
    const s = this.table.acquire(key, now);
    let t: number;
    if (this.table.created) {
      t = perSecond;
      this.last[s] = now;
    } else {
      t = this.tokens[s];
      const elapsed = now - this.last[s];
      if (elapsed > 0) {
        t += (elapsed * perSecond) / MS_PER_SECOND;
        this.last[s] = now;
      }
      if (t > perSecond) t = perSecond;
    }
    if (t >= 1) {
      this.tokens[s] = t - 1;
      return true;
    }
    this.tokens[s] = t;
    return false;
  }

  /** Drop buckets idle long enough to be full again (a full bucket is the same as no entry). */
  sweep(now: number, budget: number = this.table.capacity): number {
    let dropped = 0;
    const n = this.table.capacity;
    for (let i = 0; i < budget && i < n; i++) {
      const s = this.sweepCursor;
      this.sweepCursor = (s + 1) & (n - 1);
      if (this.table.isLive(s) && now - this.last[s] >= MS_PER_SECOND) {
        this.table.release(s);
        dropped++;
      }
    }
    return dropped;
  }
}

/** Upper bound in bytes of a ConnectionRateLimiter holding `capacity` (rounded) slots. */
export function connectionLimiterBytes(capacity: number): number {
  return capacity * (ADDRESS_TABLE_BYTES_PER_SLOT + CONNECTION_BYTES_PER_SLOT);
}
