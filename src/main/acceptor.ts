// Accepts TCP connections in the main thread and hands their fds to shards
// before a single byte is read (pauseOnConnect): the TLS handshake and
// everything after it happen in the shard.
import * as net from 'node:net';
import { once } from 'node:events';
import { adoptSocket } from '../../native/lib';
import type { ShardPool } from './shard-pool';

export interface Acceptor {
  port: number;
  close(): Promise<void>;
}

/** Decides on a peer before any byte is read; false = close it now. */
export type Admit = (address: string) => boolean;

export async function startAcceptor(pool: ShardPool, host: string, port: number, admit?: Admit): Promise<Acceptor> {
  const server = net.createServer({ pauseOnConnect: true, noDelay: true }, (sock) => {
    const peer = { address: sock.remoteAddress ?? '', port: sock.remotePort ?? 0, local: sock.localAddress ?? '' };
    if (admit && !admit(peer.address)) {
      // A reset, not a FIN: the refused peer learns nothing and costs nothing more.
      sock.resetAndDestroy();
      return;
    }
    let fd: number;
    try {
      // Small control packets (auth exchange, DPD) must not wait for Nagle.
      sock.setNoDelay(true);
      fd = adoptSocket(sock);
    } catch {
      return; // the peer went away between accept and hand-off
    }
    pool.dispatch(fd, peer);
  });
  server.listen(port, host);
  await once(server, 'listening');
  let closing: Promise<void> | undefined;
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => (closing ??= new Promise<void>((r) => server.close(() => r()))),
  };
}
