// Moving sockets from Node's hands into the addon's: Node cannot transfer a
// net.Socket to a worker_thread, but a file descriptor number can be posted.
import type * as net from 'node:net';
import { ErrorCodes, WolfguardError } from '../../src/common/errors';
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

/** A UDP socket bound to local and connect()ed to remote (see sockets.cc). */
export function udpConnect(localIp: string, localPort: number, remoteIp: string, remotePort: number): number {
  try {
    return addon().udpConnect(localIp, localPort, remoteIp, remotePort);
  } catch (e) {
    throw new WolfguardError(ErrorCodes.SOCKET, (e as Error).message, {}, { cause: e });
  }
}

export function peerName(fd: number) {
  return addon().peerName(fd);
}
export function sockName(fd: number) {
  return addon().sockName(fd);
}
