// A DTLS association over a connected UDP socket: records are messages, not
// a byte stream, so this is an EventEmitter ('secure', 'message', 'error',
// 'close') with send(), not a Duplex.
import { EventEmitter } from 'node:events';
import { ErrorCodes, WolfguardError } from '../../src/common/errors';
import { addon, EventKind, type ConnectionStats, type NativeConnection, type NativeSessionHandle } from './addon';
import { nativeError, registerNative, SessionView, startConnection, type CommonConnectionOptions, type Liveness, type PskLookup } from './connection-common';
import type { TlsContext } from './context';
import type { LegacySessionParams } from './dtls-legacy';

export interface DtlsSessionOptions extends CommonConnectionOptions {
  /** Datagrams already read from the socket (e.g. the ClientHello), processed first. */
  initialDatagrams?: Buffer[];
  /** Path MTU for wolfSSL's record sizing. */
  mtu?: number;
  /** Server, legacy Cisco mode (context with legacyResume): the one session this connection resumes. */
  legacySession?: LegacySessionParams;
  /** Client: resume this session (e.g. legacyClientSession()). */
  resumeSession?: NativeSessionHandle;
}

/** DTLS output queued for a client whose socket is full before packets are dropped (UDP semantics anyway). */
export const DEFAULT_DTLS_QUEUE_BYTES = 256 * 1024;

export class DtlsSession extends EventEmitter {
  #conn: NativeConnection | undefined;
  #finalStats: ConnectionStats = { bytesIn: 0, bytesOut: 0, queuedOut: 0 };
  #secure = false;
  #closed = false;
  #psk: PskLookup | undefined;
  readonly #view: SessionView;
  #handshakeTimer: NodeJS.Timeout | undefined;

  /** Takes ownership of `fd` (a connected, non-blocking UDP socket) and starts the handshake. */
  constructor(context: TlsContext, fd: number, options: DtlsSessionOptions = {}) {
    super();
    if (context.transport !== 'dtls') {
      addon().closeFd(fd); // ownership of fd was handed over: do not leak it
      throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, 'DtlsSession needs a DTLS context');
    }
    this.#view = new SessionView(() => this.#conn);
    registerNative(this, () => this.#conn);
    const conn = new (addon().Connection)(context.native, fd, this.#onEvent);
    this.#psk = options.psk?.lookup;
    this.#conn = conn;
    try {
      this.#handshakeTimer = startConnection(
        conn,
        options,
        (check) => {
          // Through this.#conn, not the local: a closure capturing `conn` would share V8's context with
          // the SessionView closure above and keep the connection (and this session) alive forever, since
          // the native side holds #onEvent strongly (the leak tls-socket.ts had, ~35 KB per handshake).
          const c = this.#conn!;
          if (options.mtu !== undefined) check('setMtu', c.setMtu(options.mtu));
          const l = options.legacySession;
          if (l) check('setLegacySession', c.setLegacySession(l.sessionId, l.masterSecret, l.cipherSuite));
          if (options.resumeSession) check('setSession', c.setSession(options.resumeSession));
          for (const d of options.initialDatagrams ?? []) check('injectDatagram', c.injectDatagram(d));
          c.readStart();
        },
        (ms) => this.#handshakeTimedOut(ms),
      );
    } catch (e) {
      this.#keepStats();
      this.#conn = undefined;
      throw e;
    }
  }

  get secure(): boolean {
    return this.#secure;
  }

  /** Sends one record. False when the socket is full (the record is queued) or closed. */
  send(data: Uint8Array): boolean {
    const conn = this.#conn;
    if (!conn || !this.#secure) return false;
    const r = conn.write(data);
    if (r < 0) {
      this.#fail(new WolfguardError(ErrorCodes.TLS_IO, `DTLS send failed (wolfSSL code ${r})`, { wolfsslCode: r }));
      return false;
    }
    return r === 1;
  }

  /**
   * From now on records are tunnel packets handled natively (type byte +
   * payload): data to the pump's TUN queue, DPD answered, other types as
   * 'control' events (type, payload). Routes are added on the pump afterwards.
   */
  startTunnel(pump: import('./tun').TunnelPump, maxQueueBytes = DEFAULT_DTLS_QUEUE_BYTES): void {
    const conn = this.#conn;
    if (!conn || !this.#secure) throw new WolfguardError(ErrorCodes.TLS_STATE, 'DTLS session is not established');
    const r = conn.startTunnel(pump.native, maxQueueBytes);
    if (r !== 1) throw new WolfguardError(ErrorCodes.TLS_STATE, `cannot start the DTLS tunnel (code ${r})`, { wolfsslCode: r });
  }

  info() {
    return this.#view.info();
  }
  exportKeyingMaterial(length: number, label: string, context?: Uint8Array): Buffer {
    return this.#view.exportKeyingMaterial(length, label, context);
  }
  peerCertificates() {
    return this.#view.peerCertificates();
  }
  releaseSecrets(): void {
    this.#view.releaseSecrets();
  }
  /** Counters of the connection; after close, their last values. */
  stats(): ConnectionStats {
    return this.#conn?.stats() ?? this.#finalStats;
  }
  /** idleMs and dataFramesIn of stats(), read without building the rest. */
  liveness(): Liveness {
    return this.#view.liveness(this.#finalStats);
  }
  /** Liveness and traffic counters by LivenessSlot, in an array shared by the thread's connections (read it before the next call). */
  counters(): Float64Array {
    return this.#view.counters(this.#finalStats);
  }

  #keepStats(): void {
    if (this.#conn) this.#finalStats = this.#conn.stats();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#handshakeTimer);
    const conn = this.#conn;
    this.#keepStats();
    this.#conn = undefined;
    if (conn && this.#secure) conn.shutdown();
    conn?.destroy();
    this.emit('close');
  }

  #handshakeTimedOut(ms: number): void {
    if (!this.#secure) this.#fail(new WolfguardError(ErrorCodes.TLS_HANDSHAKE, `DTLS handshake not done within ${ms} ms`));
  }

  #fail(err: Error): void {
    if (this.#closed) return;
    this.#conn?.destroy();
    this.#keepStats();
    this.#conn = undefined;
    this.emit('error', err);
    this.close();
  }

  readonly #onEvent = (kind: number, a?: unknown, b?: unknown): unknown => {
    try {
      switch (kind) {
        case EventKind.HANDSHAKE:
          clearTimeout(this.#handshakeTimer);
          this.#secure = true;
          this.emit('secure');
          return undefined;
        case EventKind.DATA:
          this.emit('message', a as Buffer);
          return true;
        case EventKind.DRAIN:
          this.emit('drain');
          return undefined;
        case EventKind.END:
          this.close();
          return undefined;
        case EventKind.ERROR:
          this.#keepStats();
          this.#conn = undefined;
          this.#fail(nativeError(a, b, this.#secure));
          return undefined;
        case EventKind.PSK:
          return this.#psk?.(String(a));
        case EventKind.CONTROL:
          this.emit('control', a as number, b as Buffer);
          return undefined;
        default:
          return undefined;
      }
    } catch (e) {
      this.#fail(e as Error);
      return undefined;
    }
  };
}
