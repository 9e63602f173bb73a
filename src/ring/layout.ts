// The layout of a single-producer single-consumer packet ring in a
// SharedArrayBuffer: one per ordered pair of shards (A→B), written by A's
// packet pump, read by B's. Mirrored in native/src/ring/ring_layout.h; the
// test ring-layout.test.ts proves both sides agree byte for byte.
//
//   0    magic, version, slot count, slot size          (read-only after create)
//   64   producer line: head, pushed (u64), dropped (u64)
//   128  consumer line: tail, popped (u64)
//   192  wake-up line: futex word, consumer-sleeping flag
//   256  slots: slotCount × slotSize, each = u32 length + payload
//
// Head and tail are free-running u32 counters (the slot is index & mask), so
// "full" is head - tail == slotCount with no slot wasted. Each hot word has
// its own 64-byte cache line so producer and consumer never false-share.

/** "WGRN": rejects a buffer that is not a ring. */
export const RING_MAGIC = 0x4e524757;
/** Bumped on any layout change, so native code refuses a mismatched buffer. */
export const RING_LAYOUT_VERSION = 1;
/** x86-64 cache line; padding unit between producer- and consumer-owned words. */
export const CACHE_LINE = 64;

// Byte offsets.
export const OFF_MAGIC = 0;
export const OFF_VERSION = 4;
export const OFF_SLOT_COUNT = 8;
export const OFF_SLOT_SIZE = 12;
export const OFF_HEAD = 64;
export const OFF_PUSHED = 72; // u64, 8-byte aligned for BigInt64Array / _Atomic uint64_t
export const OFF_DROPPED = 80; // u64: pushes refused because the ring was full
export const OFF_TAIL = 128;
export const OFF_POPPED = 136; // u64
export const OFF_WAKE = 192; // futex word for Atomics.wait / notify
export const OFF_SLEEPING = 196; // 1 while the consumer waits: producers notify only then
export const HEADER_BYTES = 256;

/** Each slot starts with the packet length as a little-endian u32. */
export const SLOT_LENGTH_BYTES = 4;
/**
 * Default slot: 2048 bytes holds a 1500-byte MTU packet plus headroom for
 * the CSTP/DTLS header the receiving shard prepends in place, and keeps
 * slots cache-line aligned.
 */
export const DEFAULT_SLOT_SIZE = 2048;
/** Default slot count: 1024 × 2 KiB = 2 MiB per ordered shard pair. */
export const DEFAULT_SLOT_COUNT = 1024;
export const MAX_SLOT_COUNT = 1 << 20;
export const MIN_SLOT_SIZE = 64;
export const MAX_SLOT_SIZE = 65536;

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

export function ringByteLength(slotCount: number, slotSize: number): number {
  return HEADER_BYTES + slotCount * slotSize;
}
