// Single-producer single-consumer packet ring over a SharedArrayBuffer (see
// layout.ts). One thread may hold the producer view, one the consumer view;
// neither allocates per packet.
import { WolfguardError, invalidArgument, ErrorCodes } from '../common/errors';
import {
  CACHE_LINE,
  DEFAULT_SLOT_COUNT,
  DEFAULT_SLOT_SIZE,
  HEADER_BYTES,
  MAX_SLOT_COUNT,
  MAX_SLOT_SIZE,
  MIN_SLOT_SIZE,
  OFF_DROPPED,
  OFF_HEAD,
  OFF_MAGIC,
  OFF_POPPED,
  OFF_PUSHED,
  OFF_SLEEPING,
  OFF_SLOT_COUNT,
  OFF_SLOT_SIZE,
  OFF_TAIL,
  OFF_VERSION,
  OFF_WAKE,
  RING_LAYOUT_VERSION,
  RING_MAGIC,
  SLOT_LENGTH_BYTES,
  isPowerOfTwo,
  ringByteLength,
} from './layout';

const I32 = (off: number) => off >> 2;
const I64 = (off: number) => off >> 3;

/** Creates and initialises a ring buffer (main thread), to be posted to both shards. */
export function createRing(slotCount = DEFAULT_SLOT_COUNT, slotSize = DEFAULT_SLOT_SIZE): SharedArrayBuffer {
  if (!isPowerOfTwo(slotCount) || slotCount > MAX_SLOT_COUNT) throw invalidArgument(`ring slot count must be a power of two <= ${MAX_SLOT_COUNT}, got ${slotCount}`);
  if (!isPowerOfTwo(slotSize) || slotSize < MIN_SLOT_SIZE || slotSize > MAX_SLOT_SIZE) {
    throw invalidArgument(`ring slot size must be a power of two in ${MIN_SLOT_SIZE}..${MAX_SLOT_SIZE}, got ${slotSize}`);
  }
  const sab = new SharedArrayBuffer(ringByteLength(slotCount, slotSize));
  const h = new Int32Array(sab, 0, HEADER_BYTES / 4);
  h[I32(OFF_MAGIC)] = RING_MAGIC;
  h[I32(OFF_VERSION)] = RING_LAYOUT_VERSION;
  h[I32(OFF_SLOT_COUNT)] = slotCount;
  h[I32(OFF_SLOT_SIZE)] = slotSize;
  return sab;
}

class RingView {
  protected readonly h: Int32Array;
  protected readonly c: BigInt64Array;
  protected readonly bytes: Uint8Array;
  protected readonly lens: DataView;
  readonly slotCount: number;
  readonly slotSize: number;
  readonly maxPacket: number;
  protected readonly mask: number;

  constructor(sab: SharedArrayBuffer) {
    if (sab.byteLength < HEADER_BYTES) throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, 'ring buffer too small');
    this.h = new Int32Array(sab, 0, HEADER_BYTES / 4);
    this.c = new BigInt64Array(sab, 0, HEADER_BYTES / 8);
    if (this.h[I32(OFF_MAGIC)] !== RING_MAGIC || this.h[I32(OFF_VERSION)] !== RING_LAYOUT_VERSION) {
      throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, 'not a wolfguard ring of this layout version');
    }
    this.slotCount = this.h[I32(OFF_SLOT_COUNT)]!;
    this.slotSize = this.h[I32(OFF_SLOT_SIZE)]!;
    if (!isPowerOfTwo(this.slotCount) || !isPowerOfTwo(this.slotSize) || sab.byteLength !== ringByteLength(this.slotCount, this.slotSize)) {
      throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, 'ring header does not match the buffer size');
    }
    this.mask = this.slotCount - 1;
    this.maxPacket = this.slotSize - SLOT_LENGTH_BYTES;
    this.bytes = new Uint8Array(sab);
    this.lens = new DataView(sab);
  }

  protected slotOffset(index: number): number {
    return HEADER_BYTES + (index & this.mask) * this.slotSize;
  }

  /** Packets waiting (a snapshot). */
  size(): number {
    return (Atomics.load(this.h, I32(OFF_HEAD)) - Atomics.load(this.h, I32(OFF_TAIL))) >>> 0;
  }

  counters(): { pushed: bigint; dropped: bigint; popped: bigint } {
    return {
      pushed: Atomics.load(this.c, I64(OFF_PUSHED)),
      dropped: Atomics.load(this.c, I64(OFF_DROPPED)),
      popped: Atomics.load(this.c, I64(OFF_POPPED)),
    };
  }
}

export class RingProducer extends RingView {
  /** Copies one packet in; false (and counted as dropped) when full or too large. */
  tryPush(src: Uint8Array, offset = 0, length = src.length - offset): boolean {
    const head = Atomics.load(this.h, I32(OFF_HEAD)) >>> 0;
    const tail = Atomics.load(this.h, I32(OFF_TAIL)) >>> 0;
    if (length > this.maxPacket || length < 0 || ((head - tail) >>> 0) >= this.slotCount) {
      Atomics.add(this.c, I64(OFF_DROPPED), 1n);
      return false;
    }
    const at = this.slotOffset(head);
    this.lens.setUint32(at, length, true);
    this.bytes.set(src.subarray(offset, offset + length), at + SLOT_LENGTH_BYTES);
    // Publishing the new head (a seq-cst store) makes the slot visible.
    Atomics.store(this.h, I32(OFF_HEAD), (head + 1) | 0);
    Atomics.add(this.c, I64(OFF_PUSHED), 1n);
    if (Atomics.load(this.h, I32(OFF_SLEEPING)) === 1) {
      Atomics.add(this.h, I32(OFF_WAKE), 1);
      Atomics.notify(this.h, I32(OFF_WAKE));
    }
    return true;
  }

  /** Pushes packets[i] (lengths[i] bytes each) until one does not fit; returns how many went in. */
  pushBatch(packets: Uint8Array[], lengths: number[], count = packets.length): number {
    let n = 0;
    while (n < count && this.tryPush(packets[n]!, 0, lengths[n]!)) n++;
    return n;
  }
}

export class RingConsumer extends RingView {
  /** Copies the oldest packet into `into`; returns its length, or -1 when empty. */
  tryPop(into: Uint8Array): number {
    const tail = Atomics.load(this.h, I32(OFF_TAIL)) >>> 0;
    const head = Atomics.load(this.h, I32(OFF_HEAD)) >>> 0;
    if (head === tail) return -1;
    const at = this.slotOffset(tail);
    const len = this.lens.getUint32(at, true);
    if (len > into.length) throw invalidArgument(`packet of ${len} bytes does not fit a ${into.length}-byte buffer`);
    into.set(this.bytes.subarray(at + SLOT_LENGTH_BYTES, at + SLOT_LENGTH_BYTES + len));
    Atomics.store(this.h, I32(OFF_TAIL), (tail + 1) | 0);
    Atomics.add(this.c, I64(OFF_POPPED), 1n);
    return len;
  }

  /** Pops up to `max` packets into caller buffers, lengths into `lengths`; returns the count. */
  popBatch(into: Uint8Array[], lengths: number[], max = into.length): number {
    let n = 0;
    while (n < max) {
      const len = this.tryPop(into[n]!);
      if (len < 0) break;
      lengths[n++] = len;
    }
    return n;
  }

  /** Blocks (worker threads only) until a packet is there or timeoutMs passes. */
  waitForData(timeoutMs: number): boolean {
    if (this.size() > 0) return true;
    const seen = Atomics.load(this.h, I32(OFF_WAKE));
    Atomics.store(this.h, I32(OFF_SLEEPING), 1);
    try {
      if (this.size() > 0) return true; // a push raced with going to sleep
      Atomics.wait(this.h, I32(OFF_WAKE), seen, timeoutMs);
      return this.size() > 0;
    } finally {
      Atomics.store(this.h, I32(OFF_SLEEPING), 0);
    }
  }
}

/** The producer side of a ring (exactly one thread may use it). */
export function ringProducer(sab: SharedArrayBuffer): RingProducer {
  return new RingProducer(sab);
}

/** The consumer side of a ring (exactly one thread may use it). */
export function ringConsumer(sab: SharedArrayBuffer): RingConsumer {
  return new RingConsumer(sab);
}

export { CACHE_LINE };
