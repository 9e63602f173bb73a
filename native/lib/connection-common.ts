// What TLS sockets and DTLS sessions share: turning native events into
// errors, and the surface both expose once the handshake is done.
import { X509Certificate } from 'node:crypto';
import { ErrorCodes, WolfguardError } from '../../src/common/errors';
import { LIVENESS_FIELDS, LivenessSlot as L, type ConnectionStats, type NativeConnection, type NativeSessionHandle } from './addon';

/** A peer that has not finished its handshake by then is dropped. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 30_000;

export interface SessionInfo {
  /** 'TLSv1.3', 'DTLSv1.2', ... */
  version: string;
  /** wolfSSL's suite name, e.g. 'TLS13-AES128-GCM-SHA256'. */
  cipher: string | null;
  /** True when the handshake resumed an earlier session. */
  resumed: boolean;
  /** Key-exchange group in wolfSSL's naming ('SECP256R1', 'X25519', ...); null when there was none (plain PSK, static RSA). */
  group: string | null;
}

/** Synchronous PSK lookup: the client's identity in, the key (or undefined: reject) out. */
export type PskLookup = (identity: string) => Buffer | undefined;

export function nativeError(code: unknown, message: unknown, secure: boolean): WolfguardError {
  const n = typeof code === 'number' ? code : 0;
  const text = typeof message === 'string' ? message : 'connection failed';
  return new WolfguardError(secure ? ErrorCodes.TLS_IO : ErrorCodes.TLS_HANDSHAKE, text, { wolfsslCode: n });
}

export function callFailed(what: string, ret: number): WolfguardError {
  return new WolfguardError(ErrorCodes.TLS_STATE, `${what} failed (code ${ret})`, { wolfsslCode: ret });
}

/** What the tunnel check reads every second of every tunnel (src/workers/tunnels.ts). */
export interface Liveness {
  /** Milliseconds since the peer last sent anything (tunnel mode; 0 otherwise). */
  idleMs: number;
  dataFramesIn: number;
}

// One per thread (each worker loads its own copy of this module).
const livenessOut = new Float64Array(LIVENESS_FIELDS);

/** Methods over a handshaken native connection, identical for TLS and DTLS. */
export class SessionView {
  constructor(private readonly conn: () => NativeConnection | undefined) {}

  /** The connection's liveness; after close, from its last counters. */
  liveness(closed: ConnectionStats): Liveness {
    const a = this.counters(closed);
    return { idleMs: a[L.idleMs]!, dataFramesIn: a[L.dataFramesIn]! };
  }

  /**
   * The liveness and traffic counters (LivenessSlot) in one array shared by
   * every connection of this thread: read it before the next call. After
   * close, from the connection's last counters.
   */
  counters(closed: ConnectionStats): Float64Array {
    const c = this.conn();
    if (c) {
      c.liveness(livenessOut);
      return livenessOut;
    }
    livenessOut[L.idleMs] = closed.idleMs ?? 0;
    livenessOut[L.dataFramesIn] = closed.dataFramesIn ?? 0;
    livenessOut[L.bytesIn] = closed.bytesIn;
    livenessOut[L.bytesOut] = closed.bytesOut;
    livenessOut[L.framesIn] = closed.framesIn ?? 0;
    livenessOut[L.framesOut] = closed.framesOut ?? 0;
    livenessOut[L.sendCalls] = closed.sendCalls ?? 0;
    livenessOut[L.recvCalls] = closed.recvCalls ?? 0;
    livenessOut[L.gsoDatagrams] = closed.gsoDatagrams ?? 0;
    return livenessOut;
  }

  info(): SessionInfo | null {
    return this.conn()?.info() ?? null;
  }

  /** RFC 5705 / RFC 8446 §7.5 exporter. */
  exportKeyingMaterial(length: number, label: string, context?: Uint8Array): Buffer {
    if (!Number.isInteger(length) || length <= 0 || length > 65535) {
      throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, 'length must be an integer in 1..65535');
    }
    const c = this.conn();
    if (!c) throw new WolfguardError(ErrorCodes.TLS_STATE, 'connection is closed');
    const r = c.exportKeyingMaterial(length, label, context);
    if (typeof r === 'number') throw new WolfguardError(ErrorCodes.TLS_EXPORTER, `keying material export failed (code ${r})`, { wolfsslCode: r });
    return r;
  }

  /** Frees the handshake secrets kept for the exporter; exporting fails afterwards. */
  releaseSecrets(): void {
    this.conn()?.releaseSecrets();
  }

  /** The peer's certificate chain as presented, leaf first, parsed by Node. */
  peerCertificates(): X509Certificate[] {
    const c = this.conn();
    return c ? c.peerCertificates().map((der) => new X509Certificate(der)) : [];
  }

  session(): NativeSessionHandle | null {
    return this.conn()?.getSession() ?? null;
  }
}

/** Options TLS sockets and DTLS sessions share. */
export interface CommonConnectionOptions {
  /** Give up on a handshake not done within this many ms (default 30000; 0 = never). */
  handshakeTimeoutMs?: number;
  /** Server: answer PSK handshakes with keys from this lookup. */
  psk?: { hint?: string; lookup: PskLookup };
  /** Client: offer this PSK. */
  pskClient?: { identity: string; key: Buffer };
}

function check(what: string, r: number): void {
  if (r !== 1) throw callFailed(what, r);
}

/**
 * Applies the shared options, runs `before` (transport-specific set-up), starts
 * the handshake and arms its timeout. On any failure the native connection is
 * destroyed (closing its fd) before the error propagates.
 */
export function startConnection(
  conn: NativeConnection,
  options: CommonConnectionOptions,
  before: (check: (what: string, r: number) => void) => void,
  onHandshakeTimeout: (ms: number) => void,
): NodeJS.Timeout | undefined {
  try {
    if (options.psk) check('setPskServer', conn.setPskServer(options.psk.hint));
    if (options.pskClient) check('setPskClient', conn.setPskClient(options.pskClient.identity, options.pskClient.key));
    before(check);
    conn.start();
  } catch (e) {
    conn.destroy();
    throw e;
  }
  const limit = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  if (limit <= 0) return undefined;
  const timer = setTimeout(() => onHandshakeTimeout(limit), limit);
  timer.unref();
  return timer;
}

const natives = new WeakMap<object, () => NativeConnection | undefined>();

/** @internal Remembers how to reach the live native connection of a socket or session. */
export function registerNative(owner: object, get: () => NativeConnection | undefined): void {
  natives.set(owner, get);
}

/** @internal The live native connection behind a TlsSocket or DtlsSession (for the pump). */
export function nativeConnectionOf(owner: object): NativeConnection | undefined {
  return natives.get(owner)?.();
}
