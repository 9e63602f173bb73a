// Moving sockets from Node's hands into the addon's: Node cannot transfer a
// net.Socket to a worker_thread, but a file descriptor number can be posted.
import type * as net from 'node:net';
import { ErrorCodes, WolfguardError, invalidArgument } from '../../src/common/errors';
import { zeroOrRangeProblem } from '../../src/common/env';
import { addon } from './addon';

interface HandleWithFd {
  fd?: number;
  readStop?: () => number;
}

/**
 * Returns a private duplicate of the socket's fd (non-blocking, close-on-exec)
 * and destroys the JavaScript socket. The socket must not have read anything
 * (accept with `pauseOnConnect: true`; a client socket right after 'connect').
 */
export function adoptSocket(socket: net.Socket): number {
  const handle = (socket as unknown as { _handle?: HandleWithFd })._handle;
  const fd = handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    socket.destroy();
    throw new WolfguardError(ErrorCodes.SOCKET, 'socket has no file descriptor (already closed?)');
  }
  socket.pause();
  handle?.readStop?.();
  let dup: number;
  try {
    dup = addon().dupFd(fd);
  } finally {
    socket.destroy();
  }
  return dup;
}

/** Closes an fd that was adopted but never handed to a connection. */
export function closeFd(fd: number): void {
  addon().closeFd(fd);
}

/**
 * Receive buffer of each DTLS tunnel's UDP socket, bytes
 * (WOLFGUARD_DTLS_RCVBUF_BYTES). 1 MiB: with the kernel's 208 KiB default
 * (net.core.rmem_default) a tunnelled TCP upload lost 4-10 % of its
 * datagrams at the gateway's socket in bursts the data-plane thread had not
 * yet read, ocserv as many; with 1 MiB none, and 5-8 % more throughput
 * (tuning.md, "Socket buffers"). The kernel charges only what is queued, so
 * an idle tunnel costs nothing more. 0 keeps the kernel's default.
 */
export const DEFAULT_DTLS_RCVBUF_BYTES = 1_048_576;
/** Bounds for a chosen buffer: below 64 KiB holds fewer than 30 full-size datagrams; above 64 MiB is a second of a Gbit/s. */
export const MIN_DTLS_RCVBUF_BYTES = 65_536;
export const MAX_DTLS_RCVBUF_BYTES = 67_108_864;

/** Why `bytes` is not a DTLS socket receive buffer, or undefined when it is one. */
export function dtlsRcvBufProblem(bytes: number): string | undefined {
  return zeroOrRangeProblem(bytes, 'the DTLS socket receive buffer', MIN_DTLS_RCVBUF_BYTES, MAX_DTLS_RCVBUF_BYTES, 'bytes');
}

/**
 * A UDP socket bound to local and connect()ed to remote (see sockets.cc),
 * with a receive buffer of `rcvBufBytes` (0: the kernel's default). Without
 * CAP_NET_ADMIN the kernel caps the buffer at net.core.rmem_max.
 */
export function udpConnect(localIp: string, localPort: number, remoteIp: string, remotePort: number, rcvBufBytes = DEFAULT_DTLS_RCVBUF_BYTES): number {
  const problem = dtlsRcvBufProblem(rcvBufBytes);
  if (problem !== undefined) throw invalidArgument(problem);
  try {
    return addon().udpConnect(localIp, localPort, remoteIp, remotePort, rcvBufBytes);
  } catch (e) {
    throw new WolfguardError(ErrorCodes.SOCKET, (e as Error).message, {}, { cause: e });
  }
}

/** The socket's receive buffer as the kernel reports it, bytes (twice what a setsockopt() asked: it counts its own overhead); null for a non-socket. */
export function rcvBufBytes(fd: number): number | null {
  return addon().rcvBufBytes(fd);
}

export function peerName(fd: number) {
  return addon().peerName(fd);
}
export function sockName(fd: number) {
  return addon().sockName(fd);
}
