// ocserv-style ban points, per source address and per user name.
//
// Semantics follow ocserv's main-ban.c (add_ip_to_ban_list / check_if_banned /
// cleanup_banned_entries), with the config keys mapped one to one:
//   max-ban-score            -> maxBanScore (0 disables scoring)
//   ban-reset-time           -> banResetTimeMs: a score older than this (counted
//                               from the first point after the last reset) restarts at 0
//   min-reauth-time          -> banTimeMs: how long a ban lasts; ocserv uses
//                               min-reauth-time for the ban expiry (verified in main-ban.c)
//   ban-points-wrong-password, ban-points-connection, ban-points-kkdcp -> points*
// - Adding points while not yet banned pushes the expiry to now + banTimeMs;
//   once banned, more points do not extend it (else a client that keeps
//   polling would never be let back in).
// - Banned means score >= max and now <= expiry.
// - One deliberate difference: in ocserv, once the ban time is over the score
//   stays >= max until ban-reset-time, and in that gap further failures are
//   free (they never re-ban). Here a served ban restarts the count from zero,
//   so the next max/points failures ban again.
// Per-user scores (not in ocserv) use the same rules with maxUserBanScore. A
// user ban refuses that name's logins from anywhere for banTimeMs, which lets
// a stranger lock a user out for that long: keep maxUserBanScore well above
// maxBanScore, or 0 to disable it.
//
// Memory: the address table holds at most `capacity` addresses
// (ADDRESS_TABLE_BYTES_PER_SLOT + IP_SCORE_BYTES_PER_SLOT bytes each); the
// user map at most `userCapacity` names of at most MAX_USER_KEY characters.

import { AddressSlotTable } from './address-table';

export interface BanScoreConfig {
  maxBanScore: number;
  banResetTimeMs: number;
  banTimeMs: number;
  pointsWrongPassword: number;
  pointsConnection: number;
  pointsKkdcp: number;
  /** Per-user threshold; 0 disables per-user bans. */
  maxUserBanScore: number;
}

const MS_PER_SECOND = 1000;
/** ocserv's shipped defaults (doc/sample.config). */
export const OCSERV_BAN_DEFAULTS: Readonly<BanScoreConfig> = Object.freeze({
  maxBanScore: 80,
  banResetTimeMs: 1200 * MS_PER_SECOND,
  banTimeMs: 300 * MS_PER_SECOND,
  pointsWrongPassword: 10,
  pointsConnection: 1,
  pointsKkdcp: 1,
  maxUserBanScore: 0,
});

/** Long names are cut to this many characters before use as a key (bounds memory per entry). */
export const MAX_USER_KEY = 256;
/** How many of the oldest user entries are looked at to find one to drop when the map is full. */
const USER_EVICT_SCAN = 16;
/** Keep banned entries over any other when a table is full. */
const SCORE_BANNED = -1e15;
/** Per-slot layout in IpBanScores.cells: one 32-byte run, so a check touches one cache line. */
const C_SCORE = 0;
const C_LAST_RESET = 1;
const C_EXPIRES = 2;
/** Who holds the slot: a number new with every key that takes it, 0 when free (see stampOf). */
const C_STAMP = 3;
const CELL_FIELDS = 4;
export const IP_SCORE_BYTES_PER_SLOT = CELL_FIELDS * 8;

interface ScoreCell {
  score: number;
  lastReset: number;
  expires: number;
}

/** ocserv's add_ip_to_ban_list on one cell; returns true when the cell is banned afterwards. */
function addTo(cell: ScoreCell, fresh: boolean, now: number, points: number, max: number, cfg: BanScoreConfig): boolean {
  if (fresh) {
    cell.score = 0;
    cell.lastReset = now;
    cell.expires = 0;
  } else if (now > cell.lastReset + cfg.banResetTimeMs || (cell.score >= max && now > cell.expires)) {
    cell.score = 0;
    cell.lastReset = now;
  }
  if (cell.score < max) cell.expires = now + cfg.banTimeMs;
  cell.score += points;
  return cell.score >= max;
}

function isBannedCell(cell: ScoreCell, now: number, max: number): boolean {
  return max > 0 && cell.score >= max && now <= cell.expires;
}

/** Nothing left to remember: ocserv's cleanup condition. */
function isStale(cell: ScoreCell, now: number, cfg: BanScoreConfig): boolean {
  return now >= cell.expires && now > cell.lastReset + cfg.banResetTimeMs;
}

export interface BannedAddress {
  /** Key words (128-bit form), a copy. */
  key: Uint32Array;
  score: number;
  until: number;
}

export class IpBanScores {
  private readonly table: AddressSlotTable;
  /** score, last reset, ban expiry, stamp per slot (CELL_FIELDS apart). */
  private readonly cells: Float64Array;
  private readonly cell: ScoreCell = { score: 0, lastReset: 0, expires: 0 };
  /** Last stamp given out (see rate-limit.ts: a double never repeats in practice). */
  private stampSeq = 0;
  private cfg: BanScoreConfig;
  private sweepCursor = 0;

  constructor(capacity: number, cfg: BanScoreConfig, seed = 0) {
    this.cfg = cfg;
    this.table = new AddressSlotTable(capacity, (s, now) => this.victimScore(s, now), seed);
    this.cells = new Float64Array(this.table.capacity * CELL_FIELDS);
  }

  configure(cfg: BanScoreConfig): void {
    this.cfg = cfg;
  }

  get size(): number {
    return this.table.size;
  }

  get enabled(): boolean {
    return this.cfg.maxBanScore > 0;
  }

  /** Add points; true when the address is banned afterwards. No-op (false) when scoring is off. */
  addPoints(key: Uint32Array, now: number, points: number): boolean {
    if (this.cfg.maxBanScore <= 0) return false;
    return this.addPointsSlot(this.slotFor(key, now), now, points);
  }

  /**
   * The slot of `key`, taken with a zero score when absent. With stampOf() a
   * caller may remember it and call addPointsSlot() while the stamp holds.
   */
  slotFor(key: Uint32Array, now: number): number {
    const s = this.table.acquire(key, now);
    if (this.table.created) {
      const o = s * CELL_FIELDS;
      this.cells[o + C_SCORE] = 0;
      this.cells[o + C_LAST_RESET] = now;
      this.cells[o + C_EXPIRES] = 0;
      this.cells[o + C_STAMP] = ++this.stampSeq;
    }
    return s;
  }

  /** Changes whenever the slot passes to another key or is freed. */
  stampOf(slot: number): number {
    return this.cells[slot * CELL_FIELDS + C_STAMP]!;
  }

  /** addPoints() on a slot from slotFor() whose stamp has not changed since. */
  addPointsSlot(s: number, now: number, points: number): boolean {
    const max = this.cfg.maxBanScore;
    if (max <= 0) return false;
    const c = this.load(s);
    const banned = addTo(c, false, now, points, max, this.cfg);
    this.store(s);
    return banned;
  }

  /** Ms until the ban of a slot from slotFor() ends, 0 when not banned. */
  banRemainingSlot(s: number, now: number): number {
    return isBannedCell(this.load(s), now, this.cfg.maxBanScore) ? this.cells[s * CELL_FIELDS + C_EXPIRES]! - now : 0;
  }

  isBanned(key: Uint32Array, now: number): boolean {
    const s = this.table.find(key);
    return s >= 0 && isBannedCell(this.load(s), now, this.cfg.maxBanScore);
  }

  /** Ms until the ban ends, 0 when not banned. */
  banRemaining(key: Uint32Array, now: number): number {
    const s = this.table.find(key);
    if (s < 0) return 0;
    return this.banRemainingSlot(s, now);
  }

  /** Current score as it would count now (0 after a reset period). */
  scoreOf(key: Uint32Array, now: number): number {
    const s = this.table.find(key);
    if (s < 0) return 0;
    const c = this.load(s);
    return now > c.lastReset + this.cfg.banResetTimeMs ? 0 : c.score;
  }

  /** Forget the address's score (unban). */
  reset(key: Uint32Array): boolean {
    const s = this.table.find(key);
    if (s < 0) return false;
    this.free(s);
    return true;
  }

  private free(s: number): void {
    this.table.release(s);
    this.cells[s * CELL_FIELDS + C_STAMP] = 0;
  }

  /** Addresses banned at `now` (admin listing; allocates). */
  banned(now: number): BannedAddress[] {
    const out: BannedAddress[] = [];
    for (let s = 0; s < this.table.capacity; s++) {
      if (!this.table.isLive(s) || !isBannedCell(this.load(s), now, this.cfg.maxBanScore)) continue;
      const key = new Uint32Array(4);
      this.table.keyInto(s, key);
      out.push({ key, score: this.cell.score, until: this.cell.expires });
    }
    return out;
  }

  /** Drop stale entries, at most `budget` slots looked at; returns how many were dropped. */
  sweep(now: number, budget: number = this.table.capacity): number {
    let dropped = 0;
    const n = this.table.capacity;
    for (let i = 0; i < budget && i < n; i++) {
      const s = this.sweepCursor;
      this.sweepCursor = (s + 1) & (n - 1);
      if (this.table.isLive(s) && isStale(this.load(s), now, this.cfg)) {
        this.free(s);
        dropped++;
      }
    }
    return dropped;
  }

  private load(s: number): ScoreCell {
    const c = this.cell;
    const o = s * CELL_FIELDS;
    c.score = this.cells[o + C_SCORE]!;
    c.lastReset = this.cells[o + C_LAST_RESET]!;
    c.expires = this.cells[o + C_EXPIRES]!;
    return c;
  }

  private store(s: number): void {
    const o = s * CELL_FIELDS;
    this.cells[o + C_SCORE] = this.cell.score;
    this.cells[o + C_LAST_RESET] = this.cell.lastReset;
    this.cells[o + C_EXPIRES] = this.cell.expires;
  }

  private victimScore(s: number, now: number): number {
    const age = now - this.cells[s * CELL_FIELDS + C_LAST_RESET]!;
    return isBannedCell(this.load(s), now, this.cfg.maxBanScore) ? SCORE_BANNED + age : age;
  }
}

export class UserBanScores {
  private readonly cells = new Map<string, ScoreCell>();
  private cfg: BanScoreConfig;

  constructor(
    private readonly userCapacity: number,
    cfg: BanScoreConfig,
  ) {
    this.cfg = cfg;
  }

  configure(cfg: BanScoreConfig): void {
    this.cfg = cfg;
  }

  get size(): number {
    return this.cells.size;
  }

  /** Add points to a user; true when the user is banned afterwards. */
  addPoints(user: string, now: number, points: number): boolean {
    const max = this.cfg.maxUserBanScore;
    if (max <= 0) return false;
    const key = userKey(user);
    let cell = this.cells.get(key);
    const fresh = cell === undefined;
    if (cell === undefined) {
      if (this.cells.size >= this.userCapacity) this.evictOne(now);
      cell = { score: 0, lastReset: now, expires: 0 };
      this.cells.set(key, cell);
    }
    return addTo(cell, fresh, now, points, max, this.cfg);
  }

  isBanned(user: string, now: number): boolean {
    const cell = this.cells.get(userKey(user));
    return cell !== undefined && isBannedCell(cell, now, this.cfg.maxUserBanScore);
  }

  banRemaining(user: string, now: number): number {
    const cell = this.cells.get(userKey(user));
    if (cell === undefined || !isBannedCell(cell, now, this.cfg.maxUserBanScore)) return 0;
    return cell.expires - now;
  }

  scoreOf(user: string, now: number): number {
    const cell = this.cells.get(userKey(user));
    if (cell === undefined || now > cell.lastReset + this.cfg.banResetTimeMs) return 0;
    return cell.score;
  }

  /** Forget a user's score (successful login, or an operator's unban). */
  reset(user: string): boolean {
    return this.cells.delete(userKey(user));
  }

  /** Users banned at `now`. */
  banned(now: number): { user: string; score: number; until: number }[] {
    const out: { user: string; score: number; until: number }[] = [];
    for (const [user, cell] of this.cells) {
      if (isBannedCell(cell, now, this.cfg.maxUserBanScore)) out.push({ user, score: cell.score, until: cell.expires });
    }
    return out;
  }

  sweep(now: number): number {
    let dropped = 0;
    for (const [user, cell] of this.cells) {
      if (isStale(cell, now, this.cfg)) {
        this.cells.delete(user);
        dropped++;
      }
    }
    return dropped;
  }

  /** Map order is insertion order: drop the first non-banned of the oldest few, else the oldest. */
  private evictOne(now: number): void {
    let first: string | undefined;
    let scanned = 0;
    for (const [user, cell] of this.cells) {
      if (first === undefined) first = user;
      if (!isBannedCell(cell, now, this.cfg.maxUserBanScore)) {
        this.cells.delete(user);
        return;
      }
      if (++scanned >= USER_EVICT_SCAN) break;
    }
    if (first !== undefined) this.cells.delete(first);
  }
}

function userKey(user: string): string {
  return user.length > MAX_USER_KEY ? user.slice(0, MAX_USER_KEY) : user;
}
