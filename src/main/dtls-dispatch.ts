// The UDP side of the main thread (protocol.md §4, as ocserv's main process
// does it): a DTLS ClientHello arrives on the shared UDP port; its session_id
// is the App-ID of a session; main creates a UDP socket bound to the port and
// connect()ed to that client (the kernel then delivers the client's further
// datagrams straight to it) and hands socket + ClientHello to the shard that
// owns the session's tunnel. Anything else gets no reply at all.
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import { closeFd, udpConnect } from '../../native/lib';
import { clientHelloPskIdentity, clientHelloSessionId } from '../protocol/dtls-hello';
import type { SessionRegistry } from './sessions/registry';
import type { ToShard } from '../workers/messages';
import { unmapIpv4 } from '../common/address';

/**
 * A client whose socket was handed over recently is not handed over again:
 * retransmitted ClientHellos that raced the connect() must not start a second
 * handshake (ocserv throttles the same way).
 */
export const HANDOFF_THROTTLE_MS = 1000;
/** Entries of the throttle table kept at most (old ones are dropped first). */
const THROTTLE_ENTRIES = 65_536;

export interface DtlsDispatchOptions {
  port: number;
  host?: string;
  registry: SessionRegistry;
  post: (shard: number, m: ToShard) => void;
  /** Admission for DTLS handshakes (rate per address); false = drop silently. */
  admit?: (address: string) => boolean;
  onError?: (message: string) => void;
  /** Receive buffer of each tunnel's UDP socket, bytes (WOLFGUARD_DTLS_RCVBUF_BYTES); 0: the kernel's default; absent: DEFAULT_DTLS_RCVBUF_BYTES. */
  rcvBufBytes?: number;
}

export interface DtlsDispatch {
  port: number;
  handedOff: number;
  dropped: number;
  close(): Promise<void>;
}


/**
 * The address the session's DTLS socket answers from: the one its TLS
 * connection reached (a multi-homed gateway must not let the kernel pick
 * another source, the client would drop the replies), when of the peer's
 * family; the wildcard otherwise.
 */
export function localFor(tlsLocal: string | undefined, peer: string): string {
  const v6 = peer.includes(':');
  const local = tlsLocal === undefined ? '' : unmapIpv4(tlsLocal);
  if (local !== '' && local.includes(':') === v6) return local;
  return v6 ? '::' : '0.0.0.0';
}

/** A PSK identity naming a session: its App-ID in hex. */
const APP_ID_IDENTITY = /^[0-9a-f]{2,64}$/;

/**
 * The session a ClientHello belongs to: by its session_id (openconnect's
 * PSK-NEGOTIATE puts the App-ID there, legacy mode the X-DTLS-Session-ID),
 * else by its PSK identity (DTLS 1.3 leaves session_id empty; our 1.3
 * clients send the App-ID in hex as the identity).
 */
function sessionOfHello(registry: SessionRegistry, msg: Buffer): ReturnType<SessionRegistry['byDtlsAppId']> {
  const id = clientHelloSessionId(msg);
  if (id) return registry.byDtlsAppId(id.toString('hex'));
  const identity = clientHelloPskIdentity(msg)?.toString('latin1');
  return identity !== undefined && APP_ID_IDENTITY.test(identity) ? registry.byDtlsAppId(identity) : undefined;
}

export async function startDtlsDispatch(o: DtlsDispatchOptions): Promise<DtlsDispatch> {
  const host = o.host ?? '::';
  const sock = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', reuseAddr: true });
  const recent = new Map<string, number>();
  const stats = { handedOff: 0, dropped: 0 };
  sock.on('message', (msg, rinfo) => {
    const peer = unmapIpv4(rinfo.address);
    const session = sessionOfHello(o.registry, msg);
    if (!session || session.state !== 'connected' || (o.admit && !o.admit(peer))) {
      stats.dropped++;
      return;
    }
    const key = `${peer}|${rinfo.port}`;
    const now = Date.now();
    const last = recent.get(key);
    if (last !== undefined && now - last < HANDOFF_THROTTLE_MS) {
      stats.dropped++;
      return;
    }
    recent.delete(key);
    recent.set(key, now);
    if (recent.size > THROTTLE_ENTRIES) recent.delete(recent.keys().next().value!);
    let fd: number;
    try {
      fd = udpConnect(localFor(session.localAddress, peer), o.port, peer, rinfo.port, o.rcvBufBytes);
    } catch (e) {
      o.onError?.(`DTLS hand-off to ${peer}:${rinfo.port} failed: ${(e as Error).message}`);
      stats.dropped++;
      return;
    }
    try {
      o.post(session.shard, { type: 'dtls', conn: session.conn, fd, hello: new Uint8Array(msg) });
      stats.handedOff++;
    } catch {
      closeFd(fd);
      stats.dropped++;
    }
  });
  sock.bind({ port: o.port, address: host, exclusive: false });
  await once(sock, 'listening');
  let closing: Promise<void> | undefined;
  return {
    port: sock.address().port,
    get handedOff() {
      return stats.handedOff;
    },
    get dropped() {
      return stats.dropped;
    },
    close: () => (closing ??= new Promise<void>((resolve) => sock.close(() => resolve()))),
  };
}
