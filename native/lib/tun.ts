// The TUN side of the data plane: one multiqueue TUN device, one queue per
// shard, each queue pumped natively (TUN ⇄ CSTP frames) by that shard.
import { ErrorCodes, WolfguardError, invalidArgument } from '../../src/common/errors';
import { FAMILY_V4, FAMILY_V6, parseAddressInto } from '../../src/common/address';
import { zeroOrRangeProblem } from '../../src/common/env';
import { addon, type NativePump, type PumpStats } from './addon';
import { nativeConnectionOf } from './connection-common';
import type { TlsSocket } from './tls-socket';
import type { DtlsSession } from './dtls-session';

/**
 * How packets go through a TUN fd: 'plain' IP packets, or 'uso': a
 * virtio_net_hdr before each, so that a pump writes a run of one flow's UDP
 * datagrams as one packet the kernel cuts up again (native/src/tun-coalesce.h;
 * Linux 6.2+). Every fd of a device must have the same: the kernel keeps it
 * per device.
 */
export type TunFraming = 'plain' | 'uso';

const FRAMING_CODES = { plain: 0, uso: 2, auto: 3 } as const;

/**
 * Opens `name` with `queues` queues (needs CAP_NET_ADMIN); returns one fd per
 * queue and their framing. `framing` 'auto' takes 'uso' when the kernel has
 * it, else 'plain'; a queue added to a device in use takes the device's.
 */
export function openTun(name: string, queues: number, framing: TunFraming | 'auto' = 'plain'): { name: string; fds: number[]; framing: TunFraming } {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) throw invalidArgument(`bad TUN device name ${JSON.stringify(name)}`);
  if (!Number.isInteger(queues) || queues < 1 || queues > 256) throw invalidArgument('TUN queues must be 1..256');
  if (!Object.hasOwn(FRAMING_CODES, framing)) throw invalidArgument(`TUN framing must be plain, uso or auto, got ${JSON.stringify(framing)}`);
  let r: { name: string; fds: number[]; vnet: number };
  try {
    r = addon().tunOpen(name, queues, FRAMING_CODES[framing]);
  } catch (e) {
    throw new WolfguardError(ErrorCodes.SOCKET, (e as Error).message, {}, { cause: e });
  }
  return { name: r.name, fds: r.fds, framing: r.vnet === FRAMING_CODES.uso ? 'uso' : 'plain' };
}

const words = new Uint32Array(4);

/** Network-order bytes of an IPv4 (4 bytes) or IPv6 (16 bytes) address. */
export function addressBytes(address: string): Buffer {
  const family = parseAddressInto(address, words);
  if (family === FAMILY_V4) {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(words[3]!);
    return b;
  }
  if (family === FAMILY_V6) {
    const b = Buffer.alloc(16);
    for (let i = 0; i < 4; i++) b.writeUInt32BE(words[i]!, i * 4);
    return b;
  }
  throw invalidArgument(`not an IP address: ${JSON.stringify(address)}`);
}

/** A shard's wake-up line for the mesh (an eventfd, owned by the caller). */
export function createWakeFd(): number {
  try {
    return addon().eventFd();
  } catch (e) {
    throw new WolfguardError(ErrorCodes.SOCKET, (e as Error).message, {}, { cause: e });
  }
}

/** The native address → [lease, owner shard] mapping of a route table (for tests and diagnostics). */
export function routeLease(routes: SharedArrayBuffer, address: string): [number, number] {
  return addon().routeLease(new Uint8Array(routes), addressBytes(address));
}

/**
 * Time slice asked for each shard's data-plane thread, µs (WOLFGUARD_PLANE_SLICE_US).
 * The kernel's smallest: a woken plane thread preempts what runs on its CPU
 * instead of waiting out that task's slice (Linux 6.12+; plane.cc, ApplySlice).
 */
export const DEFAULT_PLANE_SLICE_US = 100;
/** The kernel's bounds for a custom slice; 0 asks for nothing. */
export const MIN_PLANE_SLICE_US = 100;
export const MAX_PLANE_SLICE_US = 100_000;

export interface TunnelPumpOptions {
  /** The data-plane thread's time slice, µs: 0 (the kernel's default) or MIN..MAX_PLANE_SLICE_US. Default DEFAULT_PLANE_SLICE_US. */
  planeSliceUs?: number;
  /** A CPU to keep the data-plane thread on (one of allowedCpus()); absent: the scheduler places it. */
  planeCpu?: number;
  /** When the thread is kept on planeCpu: 'always' (the default), or 'shared': only while two or more of this process's planes carry packets (native/src/plane.cc, ReviewKeep). */
  planeCpuKeep?: PlaneCpuKeep;
  /** How the fd was opened (openTun()'s framing); default 'plain'. */
  framing?: TunFraming;
}

/** When a data-plane thread is kept on its CPU (TunnelPumpOptions.planeCpuKeep). */
export type PlaneCpuKeep = 'always' | 'shared';

/** The CPUs this process may run on (its affinity mask, which a cpuset or taskset narrows), ascending. */
export function allowedCpus(): number[] {
  return addon().allowedCpus();
}

/** Why `us` is not a plane slice, or undefined when it is one. */
export function planeSliceProblem(us: number): string | undefined {
  return zeroOrRangeProblem(us, 'the data-plane slice', MIN_PLANE_SLICE_US, MAX_PLANE_SLICE_US, 'µs');
}

/** A shard's pump over its TUN queue fd (owned from here on). */
export class TunnelPump {
  readonly #native: NativePump;

  constructor(tunQueueFd: number, options: TunnelPumpOptions = {}) {
    const slice = options.planeSliceUs ?? DEFAULT_PLANE_SLICE_US;
    const problem = planeSliceProblem(slice);
    if (problem !== undefined) throw invalidArgument(problem);
    const cpu = options.planeCpu;
    if (cpu !== undefined) {
      const allowed = allowedCpus();
      if (!allowed.includes(cpu)) throw invalidArgument(`the data-plane CPU ${String(cpu)} is not one this process may run on (${allowed.join(',')})`);
    }
    const keep = options.planeCpuKeep ?? 'always';
    if (keep !== 'always' && keep !== 'shared') throw invalidArgument(`planeCpuKeep must be 'always' or 'shared', got ${JSON.stringify(keep)}`);
    const framing = options.framing ?? 'plain';
    if (framing !== 'plain' && framing !== 'uso') throw invalidArgument(`framing must be 'plain' or 'uso', got ${JSON.stringify(framing)}`);
    this.#native = new (addon().Pump)(tunQueueFd, slice, cpu ?? -1, keep === 'shared' ? 1 : 0, FRAMING_CODES[framing]);
  }

  /** Packets for `address` go to this tunnel socket (which must be in tunnel mode). */
  addRoute(socket: TlsSocket | DtlsSession, address: string): void {
    const conn = nativeConnectionOf(socket);
    if (!conn) throw new WolfguardError(ErrorCodes.TLS_STATE, 'socket is closed');
    const r = this.#native.addRoute(conn, addressBytes(address));
    if (r !== 1) throw new WolfguardError(ErrorCodes.TLS_STATE, 'socket is not in tunnel mode on this pump');
  }

  removeRoutes(socket: TlsSocket | DtlsSession): void {
    const conn = nativeConnectionOf(socket);
    if (conn) this.#native.removeRoutes(conn);
  }

  /**
   * Joins the cross-shard mesh: packets this pump reads for a lease another
   * shard owns go into that shard's ring; packets other shards read for our
   * clients arrive on our rings. Index i of each array is shard i.
   * `steerFd`: the TUN steering program's address map (tun-steering.ts), where
   * this pump records its tunnels' addresses so the kernel queues their
   * packets here in the first place.
   */
  attachMesh(mesh: { self: number; routes: SharedArrayBuffer; outRings: Array<SharedArrayBuffer | null>; inRings: Array<SharedArrayBuffer | null>; wakeFds: number[]; steerFd?: number }): void {
    const n = mesh.wakeFds.length;
    if (!Number.isInteger(mesh.self) || mesh.self < 0 || mesh.self >= n) throw invalidArgument(`shard ${mesh.self} outside 0..${n - 1}`);
    if (mesh.outRings.length !== n || mesh.inRings.length !== n) throw invalidArgument('one ring per shard in each direction');
    const view = (b: SharedArrayBuffer | null, i: number) => (i === mesh.self || !b ? null : new Uint8Array(b));
    const r = this.#native.attachMesh(mesh.self, new Uint8Array(mesh.routes), mesh.outRings.map(view), mesh.inRings.map(view), mesh.wakeFds, mesh.steerFd ?? -1);
    if (r !== 1) throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, `pump refused the mesh (code ${r}: bad route table, ring or wake-up fd)`);
  }

  stats(): PumpStats {
    return this.#native.stats();
  }

  close(): void {
    this.#native.close();
  }

  /** @internal */
  get native(): NativePump {
    return this.#native;
  }
}
