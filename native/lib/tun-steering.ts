// TUN queue steering (native/src/tun-steering.cc): the kernel queues each
// packet for a client on the queue of the shard that owns the client, so no
// packet is read by one shard only to be handed to another through a ring.
// Without it the kernel picks a queue by flow hash (or by the queue that last
// wrote the reverse flow), and a one-way flow such as a download of UDP lands
// on the wrong shard half of the time with two shards.
import { ErrorCodes, WolfguardError, invalidArgument } from '../../src/common/errors';
import { addon } from './addon';
import { addressBytes } from './tun';

/**
 * Which shard's fd sits at each queue index of a multiqueue TUN device. The
 * kernel numbers queues in the order they were attached; when a queue's fd
 * closes, the last queue takes its index (drivers/net/tun.c, __tun_detach).
 * A restarted shard's fresh queue is attached last.
 */
export class QueueOrder {
  readonly #shardAt: number[];

  /** Shard i opened queue i (openTun hands out fds in attach order). */
  constructor(shards: number) {
    if (!Number.isInteger(shards) || shards < 1 || shards > 256) throw invalidArgument('TUN queues must be 1..256');
    this.#shardAt = Array.from({ length: shards }, (_, i) => i);
  }

  /** The queue index of each shard, by shard. */
  indexes(): number[] {
    const out: number[] = [];
    this.#shardAt.forEach((shard, index) => (out[shard] = index));
    return out;
  }

  /**
   * A shard's queue closed and a new one was attached for it: returns the
   * [shard, queue index] pairs that changed (the shard that took the closed
   * index, and the restarted shard, now last).
   */
  reattached(shard: number): Array<[number, number]> {
    const at = this.#shardAt.indexOf(shard);
    if (at < 0) throw invalidArgument(`no TUN queue for shard ${shard}`);
    const last = this.#shardAt.length - 1;
    const moved = this.#shardAt[last]!;
    this.#shardAt[at] = moved;
    this.#shardAt[last] = shard;
    return moved === shard ? [[shard, last]] : [[moved, at], [shard, last]];
  }
}

/** The steering program on one TUN device: its two maps, owned here. */
export class TunSteering {
  readonly addressMapFd: number;
  readonly #queueMapFd: number;
  readonly #order: QueueOrder;
  #closed = false;

  private constructor(fds: [number, number], shards: number) {
    [this.addressMapFd, this.#queueMapFd] = fds;
    this.#order = new QueueOrder(shards);
  }

  /**
   * Attaches the program to the device of `tunFd` (needs CAP_NET_ADMIN and
   * BPF). `addressCapacity`: the most tunnel addresses (IPv4 and IPv6) the
   * map holds; a tunnel beyond it is not steered (its packets still arrive,
   * through a ring). Throws WG_SOCKET naming the step that failed.
   */
  static attach(tunFd: number, addressCapacity: number, shards: number): TunSteering {
    if (!Number.isInteger(addressCapacity) || addressCapacity < 1 || addressCapacity > 2 ** 24) throw invalidArgument('steering capacity must be 1..2^24 addresses');
    if (!Number.isInteger(shards) || shards < 1 || shards > 256) throw invalidArgument('TUN queues must be 1..256');
    try {
      return new TunSteering(addon().tunSteer(tunFd, addressCapacity, shards), shards);
    } catch (e) {
      throw new WolfguardError(ErrorCodes.SOCKET, (e as Error).message, {}, { cause: e });
    }
  }

  /** A shard's queue was replaced (the shard restarted): the program follows the kernel's new numbering. */
  reattached(shard: number): void {
    if (this.#closed) return;
    for (const [s, index] of this.#order.reattached(shard)) {
      const r = addon().tunSteerQueue(this.#queueMapFd, s, index);
      if (r !== 0) throw new WolfguardError(ErrorCodes.SOCKET, `TUN steering: queue map update refused (errno ${-r})`);
    }
  }

  /** The shard the program sends this address's packets to, or null when it has no entry. */
  ownerOf(address: string): number | null {
    const r = addon().tunSteerOwner(this.addressMapFd, addressBytes(address));
    return r >= 0 ? r : null;
  }

  /** The queue index each shard's packets are steered to, by shard. */
  queueIndexes(): number[] {
    return this.#order.indexes();
  }

  /** Closes the maps (the program stays with the device until its last queue closes). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    addon().closeFd(this.addressMapFd);
    addon().closeFd(this.#queueMapFd);
  }
}
