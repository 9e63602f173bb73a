// Loopback plumbing for addon tests: an accept loop that hands fds to the
// addon, and an addon client over a fresh TCP connection.
import * as net from 'node:net';
import { once } from 'node:events';
import { adoptSocket, TlsContext, TlsSocket, type TlsSocketOptions } from '../../native/lib';
import type { TestPki } from './certs';
import { waitFor } from './wait';

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

/**
 * A loopback pair for tunnel tests: an addon TLS server (the test PKI's EC
 * certificate) whose connection runs `onSecure` at its handshake (tests put
 * it in tunnel mode there), and an addon client; resolves once both ends are
 * secure and the server's handlers have run.
 */
export async function tunnelPair(pki: TestPki, onSecure: (s: TlsSocket) => void): Promise<{ client: TlsSocket; server: TlsSocket; srv: AddonServer }> {
  const sctx = new TlsContext({ role: 'server', cert: { file: pki.ecCert }, key: { file: pki.ecKey } });
  const cctx = new TlsContext({ role: 'client', ca: { file: pki.caCert } });
  let server: TlsSocket | undefined;
  const srv = await startAddonServer(sctx, (s) => {
    server = s;
    s.on('secure', () => onSecure(s));
  });
  const client = await addonConnect(cctx, srv.port);
  await waitFor(() => server?.secure === true, 'server handshake', 2000);
  await new Promise((r) => setTimeout(r, 20));
  return { client, server: server!, srv };
}

/** Ends what a tunnel test child set up: the pair, the pump it used, the PKI. */
export async function closeTunnelPair(pair: { client: { destroy(): unknown }; srv: AddonServer }, pump: { close(): void }, pki: TestPki): Promise<void> {
  pair.client.destroy();
  await pair.srv.close();
  pump.close();
  pki.cleanup();
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
