// A TLS connection as a Node Duplex: bytes in and out with backpressure,
// 'secure' when the handshake is done. The fd is owned by the native side.
import { Duplex } from 'node:stream';
import { ErrorCodes, WolfguardError } from '../../src/common/errors';
import { addon, EventKind, type ConnectionStats, type NativeConnection, type NativeSessionHandle } from './addon';
import { nativeError, registerNative, SessionView, startConnection, type CommonConnectionOptions, type Liveness, type PskLookup } from './connection-common';
import type { TlsContext } from './context';

export interface TlsSocketOptions extends CommonConnectionOptions {
  /** Client: resume this session (from an earlier socket's `session()`). */
  session?: NativeSessionHandle;
}

export { nativeConnectionOf } from './connection-common';

export interface TunnelOptions {
  /** Bytes of tunnel output queued for a slow client before its packets are dropped. */
  maxQueueBytes?: number;
  /** Bytes already read past the CONNECT request (Node's `head`): handled as CSTP. */
  head?: Buffer;
}

/** Default bound on a tunnel's queued output: a slow client cannot exhaust memory. */
export const DEFAULT_TUNNEL_QUEUE_BYTES = 1 << 20;

export class TlsSocket extends Duplex {
  /** The peer, as net.Socket names it (set by whoever adopted the fd; Node's http reads it). */
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  /** The local end, when the acceptor told (the address the client reached). */
  localAddress: string | undefined;
  #conn: NativeConnection | undefined;
  #finalStats: ConnectionStats = { bytesIn: 0, bytesOut: 0, queuedOut: 0 };
  #secure = false;
  #pendingWrite: { chunk: Buffer; cb: (err?: Error | null) => void } | undefined;
  #drainCb: ((err?: Error | null) => void) | undefined;
  #psk: PskLookup | undefined;
  readonly #view: SessionView;
  #handshakeTimer: NodeJS.Timeout | undefined;
  /** startTunnel() was called: the peer's bytes no longer come through the stream. */
  #tunnel = false;

  /** Takes ownership of `fd` (a connected, non-blocking TCP socket) and starts the handshake. */
  constructor(context: TlsContext, fd: number, options: TlsSocketOptions = {}) {
    super({ allowHalfOpen: false });
    if (context.transport !== 'tls') {
      addon().closeFd(fd); // ownership of fd was handed over: do not leak it
      throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, 'TlsSocket needs a TLS context');
    }
    this.#view = new SessionView(() => this.#conn);
    registerNative(this, () => this.#conn);
    this.#psk = options.psk?.lookup;
    this.#conn = new (addon().Connection)(context.native, fd, this.#onEvent);
    // No closure made here may capture the native connection in a local: V8
    // gives every closure of this constructor one shared context, the
    // SessionView's closure above lives as long as the socket, and the native
    // side holds #onEvent (hence the socket) strongly: a captured `conn` made
    // every connection, closed or not, uncollectable (found by the flood e2e
    // test: ~35 KB per TLS handshake).
    this.#handshakeTimer = startConnection(
      this.#conn,
      options,
      (check) => {
        const session = options.session;
        if (session) check('setSession', this.#conn?.setSession(session) ?? -1);
      },
      (ms) => this.#handshakeTimedOut(ms),
    );
  }

  get secure(): boolean {
    return this.#secure;
  }

  /**
   * From now on the peer's bytes are CSTP frames handled natively: data to the
   * pump's TUN queue, DPD answered, other frames as 'control' events
   * (type, payload). Routes are added on the pump afterwards.
   */
  startTunnel(pump: import('./tun').TunnelPump, options: TunnelOptions = {}): void {
    const conn = this.#conn;
    if (!conn) throw new WolfguardError(ErrorCodes.TLS_STATE, 'connection is closed');
    const r = conn.startTunnel(pump.native, options.maxQueueBytes ?? DEFAULT_TUNNEL_QUEUE_BYTES, options.head);
    if (r !== 1) throw new WolfguardError(ErrorCodes.TLS_STATE, `cannot start the tunnel (code ${r})`, { wolfsslCode: r });
    this.#tunnel = true;
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
  /** A handle to resume this session from a later client socket. */
  session(): NativeSessionHandle | null {
    return this.#view.session();
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

  // One entry point for every native event; it must never throw back into C++.
  readonly #onEvent = (kind: number, a?: unknown, b?: unknown): unknown => {
    try {
      switch (kind) {
        case EventKind.HANDSHAKE:
          clearTimeout(this.#handshakeTimer); {
          this.#secure = true;
          this.emit('secure');
          const p = this.#pendingWrite;
          this.#pendingWrite = undefined;
          if (p) this.#writeChunk(p.chunk, p.cb);
          return undefined;
        }
        case EventKind.DATA:
          return this.push(a as Buffer);
        case EventKind.DRAIN: {
          const cb = this.#drainCb;
          this.#drainCb = undefined;
          cb?.();
          return undefined;
        }
        case EventKind.END:
          this.push(null);
          // A tunnel's stream is read by nobody (Node's http leaves an
          // upgraded socket neither flowing nor paused), so 'end', and with
          // it 'close', would never come: a client that closed without a
          // DISCONNECT kept its session "connected" until the dead-peer
          // timer. A tunnel has no half-open state worth keeping: close now.
          if (this.#tunnel) this.destroy();
          return undefined;
        case EventKind.ERROR:
          this.#keepStats();
          this.#conn = undefined;
          this.destroy(nativeError(a, b, this.#secure));
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
      this.destroy(e as Error);
      return undefined;
    }
  };

  #handshakeTimedOut(ms: number): void {
    if (!this.#secure) this.destroy(new WolfguardError(ErrorCodes.TLS_HANDSHAKE, `TLS handshake not done within ${ms} ms`));
  }

  override _read(): void {
    this.#conn?.readStart();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#writeChunk(chunk, cb);
  }

  #writeChunk(chunk: Buffer, cb: (err?: Error | null) => void): void {
    const conn = this.#conn;
    if (!conn) return cb(new WolfguardError(ErrorCodes.TLS_STATE, 'connection is closed'));
    if (!this.#secure) {
      // Writes wait for the handshake; Writable queues the ones after this.
      this.#pendingWrite = { chunk, cb };
      return;
    }
    const r = conn.write(chunk);
    if (r === 1) return cb();
    if (r === 0) {
      this.#drainCb = cb;
      return;
    }
    cb(new WolfguardError(ErrorCodes.TLS_IO, `write failed (wolfSSL code ${r})`, { wolfsslCode: r }));
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    // One wolfSSL_write for many small writes: fewer, fuller TLS records.
    this.#writeChunk(chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk)), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#conn?.shutdown();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    clearTimeout(this.#handshakeTimer);
    const conn = this.#conn;
    this.#keepStats();
    this.#conn = undefined;
    conn?.destroy();
    const pending = this.#pendingWrite ?? (this.#drainCb ? { cb: this.#drainCb } : undefined);
    this.#pendingWrite = undefined;
    this.#drainCb = undefined;
    pending?.cb(err ?? new WolfguardError(ErrorCodes.TLS_STATE, 'connection destroyed'));
    cb(err);
  }
}
