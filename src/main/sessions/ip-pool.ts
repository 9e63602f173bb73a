// Tunnel addresses, handed out as lease indexes (see src/ring/route-table.ts):
// lease i is IPv4 network + i and IPv6 network + (i << (128 - subnetPrefix)),
// so one lease gives a session both its addresses and the data plane finds
// the owner of either by arithmetic. Main thread only.
//
// Lease 0 is the network address and lease 1 the gateway's own address on the
// TUN device; with IPv4 the last lease (broadcast) is never given out either.
// Freed leases go to the back of the line so an address is not reused while a
// stale packet for its previous owner may still be in flight.
//
// A per-user/group pool (ipv4-network in config-per-group) or explicit-ipv4
// does not make a second pool: it lies inside the gateway's network, so it is
// a sub-range of lease indexes (a LeaseRequest) and the data plane's
// arithmetic stays as it is. Its IPv6 address follows from the lease.
import { ErrorCodes, WolfguardError } from '../../common/errors';
import { FAMILY_V4, FAMILY_V6, formatAddress, parseAddressInto } from '../../common/address';
import { leaseCapacity, type RoutePools } from '../../ring/route-table';

/** Leases that are never handed out: the network address and the gateway's. */
export const FIRST_CLIENT_LEASE = 2;
export const GATEWAY_LEASE = 1;

/** Lease indexes [first, end). */
export interface LeaseSpan {
  readonly first: number;
  readonly end: number;
}

/**
 * Where a session's lease must come from: a sub-range of the pool (a
 * group's ipv4-network) or exactly one lease (explicit-ipv4). `label` is the
 * network or address as the operator knows it ("10.77.4.0/24", "10.77.0.9").
 */
export type LeaseRequest = ({ kind: 'range' } & LeaseSpan & { label: string }) | { kind: 'exact'; lease: number; label: string };

export interface LeaseAddresses {
  lease: number;
  ipv4?: string;
  ipv6?: string;
}

export class IpPool {
  readonly capacity: number;
  readonly #pools: RoutePools;
  readonly #v4net: number;
  readonly #v6net: bigint;
  readonly #inUse: Uint8Array;
  /** 1 while a lease has an entry in #free not yet consumed: a lease taken by range is never queued twice. */
  readonly #queued: Uint8Array;
  /** Where the next search of a sub-range starts, by "first:end" (a freed address stays unused as long as possible). */
  readonly #cursors = new Map<string, number>();
  /** Free leases in the order they are to be given out. */
  #free: number[] = [];
  #freeHead = 0;
  #used = 0;

  constructor(pools: RoutePools) {
    this.#pools = pools;
    this.capacity = leaseCapacity(pools);
    const w = new Uint32Array(4);
    this.#v4net = 0;
    this.#v6net = 0n;
    if (pools.v4) {
      if (parseAddressInto(pools.v4.network, w) !== FAMILY_V4) throw new WolfguardError(ErrorCodes.CONFIG_INVALID, `not an IPv4 network: ${pools.v4.network}`);
      this.#v4net = w[3]!;
    }
    if (pools.v6) {
      if (parseAddressInto(pools.v6.network, w) !== FAMILY_V6) throw new WolfguardError(ErrorCodes.CONFIG_INVALID, `not an IPv6 network: ${pools.v6.network}`);
      this.#v6net = (BigInt(w[0]!) << 96n) | (BigInt(w[1]!) << 64n) | (BigInt(w[2]!) << 32n) | BigInt(w[3]!);
    }
    const last = pools.v4 ? this.capacity - 1 : this.capacity; // IPv4 broadcast
    if (last <= FIRST_CLIENT_LEASE) throw new WolfguardError(ErrorCodes.CONFIG_INVALID, 'the address pool is too small for any client');
    this.#inUse = new Uint8Array(this.capacity);
    this.#queued = new Uint8Array(this.capacity);
    for (let i = FIRST_CLIENT_LEASE; i < last; i++) {
      this.#free.push(i);
      this.#queued[i] = 1;
    }
  }

  /** The leases clients may get: [FIRST_CLIENT_LEASE, end), the IPv4 broadcast left out. */
  get clientSpan(): LeaseSpan {
    return { first: FIRST_CLIENT_LEASE, end: this.#pools.v4 ? this.capacity - 1 : this.capacity };
  }

  /** The gateway's IPv4 network and prefix length, or undefined for an IPv6-only pool. */
  get ipv4Network(): { network: number; prefix: number } | undefined {
    return this.#pools.v4 ? { network: this.#v4net, prefix: this.#pools.v4.prefix } : undefined;
  }

  get available(): number {
    const { first, end } = this.clientSpan;
    return Math.max(0, end - first - this.#used);
  }

  get used(): number {
    return this.#used;
  }

  /** A free lease, or undefined when the pool is exhausted. */
  allocate(): LeaseAddresses | undefined {
    while (this.#freeHead < this.#free.length) {
      const lease = this.#free[this.#freeHead++]!;
      this.#queued[lease] = 0;
      this.#compact();
      if (this.#inUse[lease]) continue; // taken by a range or claim meanwhile
      this.#inUse[lease] = 1;
      this.#used++;
      return this.addresses(lease);
    }
    return undefined;
  }

  /**
   * A lease as `req` asks: the first free one of a range at or after where
   * the last search of that range stopped (wrapping), or exactly one lease.
   * Undefined when none is free, as allocate() says for a full pool.
   */
  allocateFor(req: LeaseRequest): LeaseAddresses | undefined {
    if (req.kind === 'exact') return this.claim(req.lease) ? this.addresses(req.lease) : undefined;
    const { first, end } = clamp(req, this.clientSpan);
    const span = end - first;
    if (span <= 0) return undefined;
    const key = `${first}:${end}`;
    const cursor = this.#cursors.get(key) ?? first;
    const start = cursor >= first && cursor < end ? cursor - first : 0;
    for (let i = 0; i < span; i++) {
      const lease = first + ((start + i) % span);
      if (this.#inUse[lease]) continue;
      this.#inUse[lease] = 1;
      this.#used++;
      this.#cursors.set(key, lease + 1);
      return this.addresses(lease);
    }
    return undefined;
  }

  release(lease: number): void {
    if (!Number.isInteger(lease) || lease < 0 || lease >= this.capacity || !this.#inUse[lease]) return;
    this.#inUse[lease] = 0;
    this.#used--;
    // Still in line (it was taken by range or claim, not from the line): it keeps its place.
    if (this.#queued[lease]) return;
    this.#queued[lease] = 1;
    this.#free.push(lease);
  }

  /**
   * Marks a lease given out elsewhere (the cluster state leased it to a
   * session this node adopts). False when it is out of range or already in use here.
   */
  claim(lease: number): boolean {
    if (!Number.isInteger(lease) || lease < FIRST_CLIENT_LEASE || lease >= this.capacity || this.#inUse[lease]) return false;
    this.#inUse[lease] = 1;
    this.#used++;
    return true;
  }

  isLeased(lease: number): boolean {
    return this.#inUse[lease] === 1;
  }

  addresses(lease: number): LeaseAddresses {
    const out: LeaseAddresses = { lease };
    const w = new Uint32Array(4);
    if (this.#pools.v4) {
      w[0] = 0;
      w[1] = 0;
      w[2] = 0xffff;
      w[3] = (this.#v4net + lease) >>> 0;
      out.ipv4 = formatAddress(w, FAMILY_V4);
    }
    if (this.#pools.v6) {
      const a = this.#v6net + (BigInt(lease) << BigInt(128 - this.#pools.v6.subnetPrefix));
      for (let i = 0; i < 4; i++) w[i] = Number((a >> BigInt(96 - 32 * i)) & 0xffffffffn);
      out.ipv6 = formatAddress(w, FAMILY_V6);
    }
    return out;
  }

  /** The lease of an IPv4 address of this pool, or undefined when it lies outside the network. */
  leaseOfIpv4(words3: number): number | undefined {
    const net = this.ipv4Network;
    if (!net) return undefined;
    const offset = (words3 - net.network) >>> 0;
    return offset < 2 ** (32 - net.prefix) ? offset : undefined;
  }

  /** Drops consumed entries now and then so the free line does not grow without bound. */
  #compact(): void {
    if (this.#freeHead > 1024 && this.#freeHead * 2 > this.#free.length) {
      this.#free = this.#free.slice(this.#freeHead);
      this.#freeHead = 0;
    }
  }
}

function clamp(a: LeaseSpan, b: LeaseSpan): LeaseSpan {
  return { first: Math.max(a.first, b.first), end: Math.min(a.end, b.end) };
}
