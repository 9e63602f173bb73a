// Tunnel addresses, handed out as lease indexes (see src/ring/route-table.ts):
// lease i is IPv4 network + i and IPv6 network + (i << (128 - subnetPrefix)),
// so one lease gives a session both its addresses and the data plane finds
// the owner of either by arithmetic. Main thread only.
//
// Lease 0 is the network address and lease 1 the gateway's own address on the
// TUN device; with IPv4 the last lease (broadcast) is never given out either.
// Freed leases go to the back of the line so an address is not reused while a
// stale packet for its previous owner may still be in flight.
import { ErrorCodes, WolfguardError } from '../../common/errors';
import { FAMILY_V4, FAMILY_V6, formatAddress, parseAddressInto } from '../../common/address';
import { leaseCapacity, type RoutePools } from '../../ring/route-table';

/** Leases that are never handed out: the network address and the gateway's. */
export const FIRST_CLIENT_LEASE = 2;
export const GATEWAY_LEASE = 1;

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
    for (let i = FIRST_CLIENT_LEASE; i < last; i++) this.#free.push(i);
  }

  get available(): number {
    return this.#free.length - this.#freeHead;
  }

  get used(): number {
    return this.#used;
  }

  /** A free lease, or undefined when the pool is exhausted. */
  allocate(): LeaseAddresses | undefined {
    while (this.#freeHead < this.#free.length) {
      const lease = this.#free[this.#freeHead++]!;
      this.#compact();
      if (this.#inUse[lease]) continue;
      this.#inUse[lease] = 1;
      this.#used++;
      return this.addresses(lease);
    }
    return undefined;
  }

  release(lease: number): void {
    if (!Number.isInteger(lease) || lease < 0 || lease >= this.capacity || !this.#inUse[lease]) return;
    this.#inUse[lease] = 0;
    this.#used--;
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

  /** Drops consumed entries now and then so the free line does not grow without bound. */
  #compact(): void {
    if (this.#freeHead > 1024 && this.#freeHead * 2 > this.#free.length) {
      this.#free = this.#free.slice(this.#freeHead);
      this.#freeHead = 0;
    }
  }
}
