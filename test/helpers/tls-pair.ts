// Loopback plumbing for addon tests: an accept loop that hands fds to the
// addon, and an addon client over a fresh TCP connection.
import * as net from 'node:net';
import { once } from 'node:events';
import { adoptSocket, TlsSocket, type TlsContext, type TlsSocketOptions } from '../../native/lib';

export interface AddonServer {
  port: number;
  sockets: TlsSocket[];
  close(): Promise<void>;
}

export async function startAddonServer(
  ctx: TlsContext,
  onSocket: (s: TlsSocket) => void,
  options: TlsSocketOptions = {},
): Promise<AddonServer> {
  const sockets: TlsSocket[] = [];
  const server = net.createServer({ pauseOnConnect: true }, (raw) => {
    const s = new TlsSocket(ctx, adoptSocket(raw), options);
    sockets.push(s);
    s.on('error', () => undefined); // tests assert on errors where they care
    onSocket(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    sockets,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Opens TCP, hands the fd to the addon, resolves once the handshake is done. */
export async function addonConnect(ctx: TlsContext, port: number, options: TlsSocketOptions = {}): Promise<TlsSocket> {
  const raw = net.connect(port, '127.0.0.1');
  await once(raw, 'connect');
  const s = new TlsSocket(ctx, adoptSocket(raw), options);
  await new Promise<void>((resolve, reject) => {
    s.once('secure', resolve);
    s.once('error', reject);
  });
  return s;
}

/** Writes `data`, collects exactly data.length bytes back. */
export function echoRoundTrip(s: NodeJS.ReadableStream & NodeJS.WritableStream, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const onData = (d: Buffer) => {
      parts.push(d);
      got += d.length;
      if (got >= data.length) {
        s.removeListener('data', onData);
        resolve(Buffer.concat(parts));
      }
    };
    s.on('data', onData);
    s.once('error', reject);
    s.write(data);
  });
}
