// The handshake load's client side, shared by `-- tls` (in the bench process)
// and `-- tls-gateways` (handshake-client.ts, in a client namespace): the
// addon's wolfSSL client, so it costs the same whichever server it meets.
import * as net from 'node:net';
import { TlsContext, TlsSocket, adoptSocket, type KeyExchangeGroup, type NativeSessionHandle } from '../../native/lib';

/**
 * The one key exchange the client offers. Left to their defaults the servers
 * do not agree: wolfSSL 5.9 picks the X25519MLKEM768 hybrid (a 1.2 KB key
 * share each way, ML-KEM at both ends, on resumption too), Node's OpenSSL 3.0
 * and ocserv's GnuTLS 3.7 X25519. The rows compare handshakes, not key
 * exchanges; X25519 is also what openconnect (GnuTLS) negotiates.
 */
export const BENCH_CLIENT_GROUPS: readonly KeyExchangeGroup[] = ['X25519'];

/** A connection that has not answered by then counts as an error. */
const CONNECTION_TIMEOUT_MS = 10_000;

export interface Outcome {
  /** The session to resume with: set on a connection made without one. */
  session: NativeSessionHandle | null;
  resumed: boolean;
}

export function newClientContext(): TlsContext {
  return new TlsContext({ role: 'client', tickets: true, groups: BENCH_CLIENT_GROUPS });
}

/**
 * One connection: TLS handshake (resuming `session` when given), `request`,
 * the first byte of the answer (by then the TLS 1.3 ticket, sent before it,
 * has arrived), close.
 */
export function oneConnection(ctx: TlsContext, host: string, port: number, session: NativeSessionHandle | undefined, request: Buffer): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const raw = net.connect(port, host);
    const timer = setTimeout(() => {
      raw.destroy();
      reject(new Error('timed out'));
    }, CONNECTION_TIMEOUT_MS);
    const fail = (e: Error) => {
      clearTimeout(timer);
      reject(e);
    };
    raw.once('error', fail);
    raw.once('connect', () => {
      raw.setNoDelay(true);
      let s: TlsSocket;
      try {
        s = new TlsSocket(ctx, adoptSocket(raw), session ? { session } : {});
      } catch (e) {
        fail(e as Error);
        return;
      }
      s.once('error', fail);
      s.once('close', () => fail(new Error('closed before answering')));
      s.once('secure', () => s.write(request));
      s.once('data', () => {
        clearTimeout(timer);
        const result = { session: session ? null : s.session(), resumed: s.info()?.resumed ?? false };
        s.destroy();
        resolve(result);
      });
    });
  });
}
