// A fixed-size map from a 128-bit address key to a slot number, so per-address
// state can sit in parallel typed arrays owned by the caller (rate buckets,
// ban scores) with no per-entry object and no allocation per lookup.
//
// Why fixed: a flood of distinct source addresses must not grow memory. The
// table never holds more than `capacity` keys. A key lives within PROBE_WINDOW
// slots of its hash position; when all of them are taken the caller's
// `victimScore` picks which entry of that window to overwrite (the caller
// prefers idle entries and keeps penalised ones). Slots are never moved, so
// the caller's arrays stay aligned; released slots are reused in place.
// The hash is seeded by the caller so an attacker cannot aim collisions at a
// chosen victim's window without knowing the seed.

const PROBE_WINDOW = 16;
const MIN_CAPACITY = PROBE_WINDOW;
const SLOT_NEVER_USED = 0;
const SLOT_LIVE = 1;
const SLOT_FREE = 2;
/** Largest table we allow: 2^24 slots is ~300 MB of key and caller state, far past any sane setting. */
const MAX_CAPACITY = 1 << 24;

/** Higher score = better candidate to overwrite when a probe window is full. */
export type VictimScore = (slot: number, now: number) => number;

export class AddressSlotTable {
  readonly capacity: number;
  private readonly mask: number;
  private readonly keys: Uint32Array;
  private readonly state: Uint8Array;
  private readonly seed: number;
  private live = 0;
  /** Set by acquire(): true when the returned slot is new to this key (caller must initialise its state). */
  created = false;
  /** Entries overwritten because their window was full (a flood indicator for metrics). */
  evictions = 0;

  constructor(
    capacity: number,
    private readonly victimScore: VictimScore,
    seed = 0,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_CAPACITY) {
      throw new RangeError(`address table capacity ${capacity} out of range 1..${MAX_CAPACITY}`);
    }
    let c = MIN_CAPACITY;
    while (c < capacity) c *= 2;
    this.capacity = c;
    this.mask = c - 1;
    this.keys = new Uint32Array(c * 4);
    this.state = new Uint8Array(c);
    this.seed = seed | 0;
  }

  /** Live keys. */
  get size(): number {
    return this.live;
  }

  /** Slot holding this key, or -1. */
  find(words: Uint32Array): number {
    const keys = this.keys;
    const state = this.state;
    const w0 = words[0];
    const w1 = words[1];
    const w2 = words[2];
    const w3 = words[3];
    const home = hash(this.seed, w0, w1, w2, w3);
    for (let k = 0; k < PROBE_WINDOW; k++) {
      const s = (home + k) & this.mask;
      const st = state[s];
      if (st === SLOT_NEVER_USED) return -1;
      const o = s << 2;
      if (st === SLOT_LIVE && keys[o + 3] === w3 && keys[o + 2] === w2 && keys[o + 1] === w1 && keys[o] === w0) return s;
    }
    return -1;
  }

  /** Slot for this key, taking or overwriting one when it is absent; sets `created`. */
  acquire(words: Uint32Array, now: number): number {
    const keys = this.keys;
    const state = this.state;
    const w0 = words[0];
    const w1 = words[1];
    const w2 = words[2];
    const w3 = words[3];
    const home = hash(this.seed, w0, w1, w2, w3);
    let free = -1;
    for (let k = 0; k < PROBE_WINDOW; k++) {
      const s = (home + k) & this.mask;
      const st = state[s];
      if (st === SLOT_NEVER_USED) {
        if (free < 0) free = s;
        break;
      }
      if (st === SLOT_FREE) {
        if (free < 0) free = s;
        continue;
      }
      const o = s << 2;
      if (keys[o + 3] === w3 && keys[o + 2] === w2 && keys[o + 1] === w1 && keys[o] === w0) {
        this.created = false;
        return s;
      }
    }
    let s = free;
    if (s < 0) {
      let bestScore = -Infinity;
      for (let k = 0; k < PROBE_WINDOW; k++) {
        const c = (home + k) & this.mask;
        const score = this.victimScore(c, now);
        if (s < 0 || score > bestScore) {
          s = c;
          bestScore = score;
        }
      }
      this.evictions++;
    } else {
      this.live++;
    }
    const o = s << 2;
    keys[o] = w0;
    keys[o + 1] = w1;
    keys[o + 2] = w2;
    keys[o + 3] = w3;
    state[s] = SLOT_LIVE;
    this.created = true;
    return s;
  }

  /** Forget the key in this slot (its state is no longer worth keeping). */
  release(slot: number): void {
    if (this.state[slot] !== SLOT_LIVE) return;
    this.state[slot] = SLOT_FREE;
    this.live--;
  }

  isLive(slot: number): boolean {
    return this.state[slot] === SLOT_LIVE;
  }

  /** Copy the key of a live slot into out. */
  keyInto(slot: number, out: Uint32Array): void {
    const o = slot << 2;
    out[0] = this.keys[o];
    out[1] = this.keys[o + 1];
    out[2] = this.keys[o + 2];
    out[3] = this.keys[o + 3];
  }

  clear(): void {
    this.state.fill(SLOT_NEVER_USED);
    this.live = 0;
  }
}

/**
 * murmur3-style mixing, seeded. IPv4 (the ::ffff: form, the common case) only
 * mixes its one varying word, which keeps this small enough to inline.
 */
function hash(seed: number, w0: number, w1: number, w2: number, w3: number): number {
  let h = seed ^ Math.imul(w3, 0xcc9e2d51);
  if (w0 !== 0 || w1 !== 0 || w2 !== 0xffff) h = mix(mix(mix(h, w0), w1), w2);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function mix(h: number, w: number): number {
  let k = Math.imul(w, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** Bytes the table itself uses per slot (key + state), for stating memory bounds. */
export const ADDRESS_TABLE_BYTES_PER_SLOT = 4 * 4 + 1;
