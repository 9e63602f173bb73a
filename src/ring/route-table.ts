// Which shard owns a tunnel address, in a SharedArrayBuffer every shard's
// native pump reads when the kernel hands it a packet for somebody else's
// client (the TUN queue is chosen by flow hash, not by session).
// Mirrored in native/src/ring/route_table.h; ring-layout.test.ts checks both.
//
// The address pool hands out *lease indexes*: lease i owns IPv4 network + i
// and IPv6 network + (i << (128 - subnetPrefix)). So an address maps to its
// lease by arithmetic alone, and the table is a flat array of owners indexed
// by lease: no hashing, no locks, one aligned 32-bit word per lease.
//
//   0   magic, version, slot count, v4 prefix, v4 network (host order),
//       v6 prefix, v6 subnet prefix                       (read-only after create)
//   32  v6 network, 16 bytes, network order               (read-only after create)
//   48  tunnels, paused: Int32 each, gateway-wide counts   (native pumps, atomic adds)
//   64  slots: Int32 × slotCount; 0 = nobody, s + 1 = shard s
//
// Owners are written by the shard that opens a tunnel (store) and cleared by
// the shard that closes it (compare-and-swap from its own id, so a reconnect
// that already moved the lease to another shard is not undone).
import { ErrorCodes, WolfguardError, invalidArgument } from '../common/errors';
import { FAMILY_V4, FAMILY_V6, parseAddressInto } from '../common/address';

/** "WGRT" */
export const ROUTE_MAGIC = 0x54524757;
export const ROUTE_LAYOUT_VERSION = 2;
export const RT_OFF_MAGIC = 0;
export const RT_OFF_VERSION = 4;
export const RT_OFF_SLOT_COUNT = 8;
export const RT_OFF_V4_PREFIX = 12;
export const RT_OFF_V4_NETWORK = 16;
export const RT_OFF_V6_PREFIX = 20;
export const RT_OFF_V6_SUBNET = 24;
export const RT_OFF_V6_NETWORK = 32;
/** Int32, written by the native pumps only: tunnels in their route maps, gateway-wide. */
export const RT_OFF_TUNNELS = 48;
/** Int32, native pumps only: of those, tunnels paused for an overloaded client (the TUN read throttle reads both). */
export const RT_OFF_PAUSED = 52;
export const RT_HEADER_BYTES = 64;
/** A prefix field holding this means "no pool of that family". */
export const RT_NO_PREFIX = 255;
/** Upper bound on leases: 4 MiB of table, far above any single gateway's sessions. */
export const RT_MAX_SLOTS = 1 << 20;

export interface RoutePools {
  v4?: { network: string; prefix: number };
  v6?: { network: string; prefix: number; subnetPrefix: number };
}

const words = new Uint32Array(4);

/** Leases the pools can express: the smaller family decides, capped at RT_MAX_SLOTS. */
export function leaseCapacity(pools: RoutePools): number {
  let n = RT_MAX_SLOTS;
  if (pools.v4) n = Math.min(n, 2 ** (32 - pools.v4.prefix));
  if (pools.v6) n = Math.min(n, 2 ** Math.min(30, pools.v6.subnetPrefix - pools.v6.prefix));
  return n;
}

export function createRouteTable(pools: RoutePools): SharedArrayBuffer {
  if (!pools.v4 && !pools.v6) throw invalidArgument('a route table needs an IPv4 or an IPv6 pool');
  const slots = leaseCapacity(pools);
  const sab = new SharedArrayBuffer(RT_HEADER_BYTES + slots * 4);
  const dv = new DataView(sab);
  dv.setUint32(RT_OFF_MAGIC, ROUTE_MAGIC, true);
  dv.setUint32(RT_OFF_VERSION, ROUTE_LAYOUT_VERSION, true);
  dv.setUint32(RT_OFF_SLOT_COUNT, slots, true);
  dv.setUint32(RT_OFF_V4_PREFIX, RT_NO_PREFIX, true);
  dv.setUint32(RT_OFF_V6_PREFIX, RT_NO_PREFIX, true);
  if (pools.v4) {
    if (parseAddressInto(pools.v4.network, words) !== FAMILY_V4) throw invalidArgument(`not an IPv4 network: ${pools.v4.network}`);
    dv.setUint32(RT_OFF_V4_PREFIX, pools.v4.prefix, true);
    dv.setUint32(RT_OFF_V4_NETWORK, words[3]!, true);
  }
  if (pools.v6) {
    const { prefix, subnetPrefix } = pools.v6;
    if (parseAddressInto(pools.v6.network, words) !== FAMILY_V6) throw invalidArgument(`not an IPv6 network: ${pools.v6.network}`);
    if (!(prefix >= 0 && subnetPrefix <= 128 && subnetPrefix > prefix)) throw invalidArgument('IPv6 subnet prefix must be longer than the pool prefix');
    dv.setUint32(RT_OFF_V6_PREFIX, prefix, true);
    dv.setUint32(RT_OFF_V6_SUBNET, subnetPrefix, true);
    for (let i = 0; i < 4; i++) dv.setUint32(RT_OFF_V6_NETWORK + 4 * i, words[i]!, false);
  }
  return sab;
}

export class RouteTable {
  readonly slotCount: number;
  readonly #owners: Int32Array;

  constructor(readonly buffer: SharedArrayBuffer) {
    const dv = new DataView(buffer);
    if (buffer.byteLength < RT_HEADER_BYTES || dv.getUint32(RT_OFF_MAGIC, true) !== ROUTE_MAGIC || dv.getUint32(RT_OFF_VERSION, true) !== ROUTE_LAYOUT_VERSION) {
      throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, 'not a wolfguard route table of this layout version');
    }
    this.slotCount = dv.getUint32(RT_OFF_SLOT_COUNT, true);
    if (buffer.byteLength !== RT_HEADER_BYTES + this.slotCount * 4) throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, 'route table size does not match its header');
    this.#owners = new Int32Array(buffer, RT_HEADER_BYTES, this.slotCount);
  }

  #check(lease: number): void {
    if (!Number.isInteger(lease) || lease < 0 || lease >= this.slotCount) throw invalidArgument(`lease ${lease} outside 0..${this.slotCount - 1}`);
  }

  claim(lease: number, shard: number): void {
    this.#check(lease);
    Atomics.store(this.#owners, lease, shard + 1);
  }

  /** Clears the owner only if it is still `shard`. */
  release(lease: number, shard: number): boolean {
    this.#check(lease);
    return Atomics.compareExchange(this.#owners, lease, shard + 1, 0) === shard + 1;
  }

  /** The owning shard, or -1. */
  owner(lease: number): number {
    this.#check(lease);
    return Atomics.load(this.#owners, lease) - 1;
  }
}
