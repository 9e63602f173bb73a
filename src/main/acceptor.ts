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

export async function startAcceptor(pool: ShardPool, host: string, port: number): Promise<Acceptor> {
  const server = net.createServer({ pauseOnConnect: true, noDelay: true }, (sock) => {
    const peer = { address: sock.remoteAddress ?? '', port: sock.remotePort ?? 0 };
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
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
