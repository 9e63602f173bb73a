// DTLS over loopback the way the gateway will do it: a listening UDP socket
// reads a client's first datagram, then a UDP socket connect()ed to that
// client takes over, with the datagram injected into the server session.
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import { DtlsSession, sockName, udpConnect, type DtlsSessionOptions, type TlsContext } from '../../native/lib';

export interface DtlsServer {
  port: number;
  sessions: DtlsSession[];
  close(): void;
}

export async function startDtlsServer(
  ctx: TlsContext,
  onSession: (s: DtlsSession) => void,
  options: (peer: dgram.RemoteInfo) => DtlsSessionOptions = () => ({}),
): Promise<DtlsServer> {
  const listener = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  const sessions: DtlsSession[] = [];
  const known = new Set<string>();
  listener.bind(0, '127.0.0.1');
  await once(listener, 'listening');
  const port = listener.address().port;
  listener.on('message', (msg, rinfo) => {
    const key = `${rinfo.address}:${rinfo.port}`;
    if (known.has(key)) return; // the connected socket gets the rest
    known.add(key);
    const fd = udpConnect('127.0.0.1', port, rinfo.address, rinfo.port);
    const s = new DtlsSession(ctx, fd, { ...options(rinfo), initialDatagrams: [msg] });
    s.on('error', () => undefined);
    sessions.push(s);
    onSession(s);
  });
  return {
    port,
    sessions,
    close: () => {
      for (const s of sessions) s.close();
      listener.close();
    },
  };
}

export async function dtlsConnect(ctx: TlsContext, port: number, options: DtlsSessionOptions = {}): Promise<DtlsSession> {
  const fd = udpConnect('127.0.0.1', 0, '127.0.0.1', port);
  if (!sockName(fd)) throw new Error('udp socket has no name');
  const s = new DtlsSession(ctx, fd, options);
  await new Promise<void>((resolve, reject) => {
    s.once('secure', resolve);
    s.once('error', reject);
  });
  return s;
}

export function nextMessage(s: DtlsSession): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    s.once('message', resolve);
    s.once('error', reject);
  });
}
