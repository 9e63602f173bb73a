// Longest-prefix match over IPv4 and IPv6 prefixes.
//
// A binary trie whose nodes live in one Int32Array (left child, right child,
// value slot, padding: 16 bytes, four nodes to a cache line), so a lookup is
// a walk over typed-array reads with no allocation and no hashing. IPv4 has
// its own root (node 0) so an IPv4 peer walks at most 32 levels, IPv6 at most
// 128 (node 1).
//
// Why the jump tables: the first 16 levels are where every lookup goes, and
// walking them bit by bit was most of the cost (measured: ~200 ns per lookup
// in a 50,000-prefix table). For each family a 65,536-entry table, indexed by
// the address's first 16 bits, holds the node at depth 16 and the longest
// prefix of length <= 16 on the way, so a lookup starts at depth 16. The
// entries a change touches are recomputed on insert/remove (2^(16-len)
// entries for a short prefix, one for a long one). 2 x 512 KB, fixed.
//
// Removal prunes the nodes it no longer needs and recycles them, so churn
// (bans come and go) does not grow the arrays.
//
// Addresses and prefixes come in the 128-bit form of ./address.ts; for IPv4
// only word 3 is read.

import { FAMILY_V4, V4_BITS, V6_BITS } from '../../common/address';
import { invalidArgument } from '../../common/errors';

const ROOT_V4 = 0;
const ROOT_V6 = 1;
/** Child index 0 means "no child": node 0 is a root, never anybody's child. */
const NONE = 0;
const INITIAL_NODES = 256;
const FIRST_FREE_NODE = 2;
/** Int32s per node: left, right, slot, padding (keeps nodes cache-line aligned). */
const NODE_INTS = 4;
const LEFT = 0;
const RIGHT = 1;
const SLOT = 2;
/** Bits resolved by the jump table. */
const JUMP_BITS = 16;
const JUMP_ENTRIES = 1 << JUMP_BITS;
/** Int32s per jump entry: node at depth JUMP_BITS, best slot at depth <= JUMP_BITS. */
const JUMP_INTS = 2;

export class PrefixTrie<V> {
  private n: Int32Array;
  private nodesUsed = FIRST_FREE_NODE;
  private freeNodes: number[] = [];
  private readonly jump4 = new Int32Array(JUMP_ENTRIES * JUMP_INTS);
  private readonly jump6 = new Int32Array(JUMP_ENTRIES * JUMP_INTS);
  /** Slot s (1-based) holds values[s - 1]. */
  private values: (V | undefined)[] = [];
  private freeValues: number[] = [];
  private count = 0;
  /** Node path of the last remove(), reused so removal does not allocate. */
  private readonly path = new Int32Array(V6_BITS + 1);

  constructor(initialNodes = INITIAL_NODES) {
    this.n = new Int32Array(Math.max(initialNodes, FIRST_FREE_NODE * 2) * NODE_INTS);
  }

  /** Number of prefixes stored. */
  get size(): number {
    return this.count;
  }

  /** Trie nodes in use (16 bytes each, plus the fixed 1 MB of jump tables). */
  get nodes(): number {
    return this.nodesUsed - this.freeNodes.length;
  }

  /** Longest stored prefix containing the address, or undefined. */
  lookup(family: number, words: Uint32Array): V | undefined {
    const n = this.n;
    let best: number;
    if (family === FAMILY_V4) {
      const a = words[3];
      const j = (a >>> JUMP_BITS) * JUMP_INTS;
      let node = this.jump4[j];
      best = this.jump4[j + 1];
      if (node !== NONE) {
        for (let i = JUMP_BITS; i < V4_BITS; i++) {
          node = n[(node << 2) + ((a >>> (31 - i)) & 1)];
          if (node === NONE) break;
          const s = n[(node << 2) + SLOT];
          if (s !== 0) best = s;
        }
      }
    } else {
      const j = (words[0] >>> JUMP_BITS) * JUMP_INTS;
      let node = this.jump6[j];
      best = this.jump6[j + 1];
      if (node !== NONE) {
        for (let i = JUMP_BITS; i < V6_BITS; i++) {
          node = n[(node << 2) + ((words[i >>> 5] >>> (31 - (i & 31))) & 1)];
          if (node === NONE) break;
          const s = n[(node << 2) + SLOT];
          if (s !== 0) best = s;
        }
      }
    }
    return best === 0 ? undefined : this.values[best - 1];
  }

  /** The value stored for exactly this prefix, or undefined. */
  get(family: number, words: Uint32Array, length: number): V | undefined {
    const node = this.find(family, words, length, false);
    if (node < 0) return undefined;
    const s = this.n[node * NODE_INTS + SLOT];
    return s === 0 ? undefined : this.values[s - 1];
  }

  /** Store `value` for the prefix; returns the value it replaced, if any. Bits after `length` are ignored. */
  insert(family: number, words: Uint32Array, length: number, value: V): V | undefined {
    const node = this.find(family, words, length, true);
    const at = node * NODE_INTS + SLOT;
    const s = this.n[at];
    if (s !== 0) {
      const old = this.values[s - 1];
      this.values[s - 1] = value;
      return old;
    }
    let idx: number;
    if (this.freeValues.length > 0) {
      idx = this.freeValues.pop() as number;
      this.values[idx] = value;
    } else {
      idx = this.values.length;
      this.values.push(value);
    }
    this.n[at] = idx + 1;
    this.count++;
    this.refreshJump(family, words, length);
    return undefined;
  }

  /** Drop the prefix; returns its value, or undefined when it was not stored. */
  remove(family: number, words: Uint32Array, length: number): V | undefined {
    checkLength(family, length);
    const n = this.n;
    const path = this.path;
    let node = family === FAMILY_V4 ? ROOT_V4 : ROOT_V6;
    path[0] = node;
    for (let i = 0; i < length; i++) {
      node = n[node * NODE_INTS + bitAt(family, words, i)];
      if (node === NONE) return undefined;
      path[i + 1] = node;
    }
    const s = n[node * NODE_INTS + SLOT];
    if (s === 0) return undefined;
    const old = this.values[s - 1];
    this.values[s - 1] = undefined;
    this.freeValues.push(s - 1);
    n[node * NODE_INTS + SLOT] = 0;
    this.count--;
    // Prune childless, valueless nodes back up the path; roots stay.
    for (let depth = length; depth > 0; depth--) {
      const c = path[depth] * NODE_INTS;
      if (n[c + SLOT] !== 0 || n[c + LEFT] !== NONE || n[c + RIGHT] !== NONE) break;
      const parent = path[depth - 1] * NODE_INTS;
      if (n[parent + LEFT] === path[depth]) n[parent + LEFT] = NONE;
      else n[parent + RIGHT] = NONE;
      this.freeNodes.push(path[depth]);
    }
    this.refreshJump(family, words, length);
    return old;
  }

  /** Every stored value (order unspecified; allocates). */
  allValues(): V[] {
    const out: V[] = [];
    for (const v of this.values) if (v !== undefined) out.push(v);
    return out;
  }

  clear(): void {
    this.n.fill(0);
    this.jump4.fill(0);
    this.jump6.fill(0);
    this.nodesUsed = FIRST_FREE_NODE;
    this.freeNodes = [];
    this.values = [];
    this.freeValues = [];
    this.count = 0;
  }

  /** Recompute the jump entries under a prefix that was just added or removed. */
  private refreshJump(family: number, words: Uint32Array, length: number): void {
    const top = family === FAMILY_V4 ? words[3] >>> JUMP_BITS : words[0] >>> JUMP_BITS;
    if (length >= JUMP_BITS) {
      this.computeJump(family, top);
      return;
    }
    const span = 1 << (JUMP_BITS - length);
    const first = top & ~(span - 1);
    for (let e = first; e < first + span; e++) this.computeJump(family, e);
  }

  private computeJump(family: number, e: number): void {
    const n = this.n;
    let node = family === FAMILY_V4 ? ROOT_V4 : ROOT_V6;
    let best = n[node * NODE_INTS + SLOT];
    for (let i = 0; i < JUMP_BITS; i++) {
      node = n[node * NODE_INTS + ((e >>> (JUMP_BITS - 1 - i)) & 1)];
      if (node === NONE) break;
      const s = n[node * NODE_INTS + SLOT];
      if (s !== 0) best = s;
    }
    const jump = family === FAMILY_V4 ? this.jump4 : this.jump6;
    jump[e * JUMP_INTS] = node;
    jump[e * JUMP_INTS + 1] = best;
  }

  private find(family: number, words: Uint32Array, length: number, create: boolean): number {
    checkLength(family, length);
    let node = family === FAMILY_V4 ? ROOT_V4 : ROOT_V6;
    for (let i = 0; i < length; i++) {
      const bit = bitAt(family, words, i);
      let next = this.n[node * NODE_INTS + bit];
      if (next === NONE) {
        if (!create) return -1;
        next = this.allocNode();
        this.n[node * NODE_INTS + bit] = next;
      }
      node = next;
    }
    return node;
  }

  private allocNode(): number {
    let node: number;
    if (this.freeNodes.length > 0) node = this.freeNodes.pop() as number;
    else {
      if (this.nodesUsed * NODE_INTS === this.n.length) {
        const bigger = new Int32Array(this.n.length * 2);
        bigger.set(this.n);
        this.n = bigger;
      }
      node = this.nodesUsed++;
    }
    const o = node * NODE_INTS;
    this.n[o + LEFT] = NONE;
    this.n[o + RIGHT] = NONE;
    this.n[o + SLOT] = 0;
    return node;
  }
}

function bitAt(family: number, words: Uint32Array, i: number): number {
  return family === FAMILY_V4 ? (words[3] >>> (31 - i)) & 1 : (words[i >>> 5] >>> (31 - (i & 31))) & 1;
}

function checkLength(family: number, length: number): void {
  const max = family === FAMILY_V4 ? V4_BITS : V6_BITS;
  if (!Number.isInteger(length) || length < 0 || length > max) throw invalidArgument(`prefix length ${length} out of range 0..${max}`);
}
