// A DTLS association over a connected UDP socket: records are messages, not
// a byte stream, so this is an EventEmitter ('secure', 'message', 'error',
// 'close') with send(), not a Duplex.
import { EventEmitter } from 'node:events';
import { ErrorCodes, WolfguardError } from '../../src/common/errors';
import { addon, EventKind, type NativeConnection } from './addon';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, callFailed, nativeError, SessionView, type PskLookup } from './connection-common';
import type { TlsContext } from './context';

export interface DtlsSessionOptions {
  /** Give up on a handshake not done within this many ms (default 30000; 0 = never). */
  handshakeTimeoutMs?: number;
  /** Server: answer PSK handshakes with keys from this lookup. */
  psk?: { hint?: string; lookup: PskLookup };
  /** Client: offer this PSK. */
  pskClient?: { identity: string; key: Buffer };
  /** Datagrams already read from the socket (e.g. the ClientHello), processed first. */
  initialDatagrams?: Buffer[];
  /** Path MTU for wolfSSL's record sizing. */
  mtu?: number;
}

export class DtlsSession extends EventEmitter {
  #conn: NativeConnection | undefined;
  #secure = false;
  #closed = false;
  #psk: PskLookup | undefined;
  readonly #view: SessionView;
  #handshakeTimer: NodeJS.Timeout | undefined;

  /** Takes ownership of `fd` (a connected, non-blocking UDP socket) and starts the handshake. */
  constructor(context: TlsContext, fd: number, options: DtlsSessionOptions = {}) {
    super();
    if (context.transport !== 'dtls') throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, 'DtlsSession needs a DTLS context');
    this.#view = new SessionView(() => this.#conn);
    const conn = new (addon().Connection)(context.native, fd, this.#onEvent);
    this.#conn = conn;
    try {
      if (options.psk) {
        this.#psk = options.psk.lookup;
        const r = conn.setPskServer(options.psk.hint);
        if (r !== 1) throw callFailed('setPskServer', r);
      }
      if (options.pskClient) {
        const r = conn.setPskClient(options.pskClient.identity, options.pskClient.key);
        if (r !== 1) throw callFailed('setPskClient', r);
      }
      if (options.mtu !== undefined) {
        const r = conn.setMtu(options.mtu);
        if (r !== 1) throw callFailed('setMtu', r);
      }
      for (const d of options.initialDatagrams ?? []) {
        const r = conn.injectDatagram(d);
        if (r !== 1) throw callFailed('injectDatagram', r);
      }
      conn.readStart();
      conn.start();
      const limit = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
      if (limit > 0) {
        this.#handshakeTimer = setTimeout(() => this.#handshakeTimedOut(limit), limit);
        this.#handshakeTimer.unref();
      }
    } catch (e) {
      conn.destroy();
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
  stats() {
    return this.#conn?.stats() ?? { bytesIn: 0, bytesOut: 0, queuedOut: 0 };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#handshakeTimer);
    const conn = this.#conn;
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
          this.#conn = undefined;
          this.#fail(nativeError(a, b, this.#secure));
          return undefined;
        case EventKind.PSK:
          return this.#psk?.(String(a));
        default:
          return undefined;
      }
    } catch (e) {
      this.#fail(e as Error);
      return undefined;
    }
  };
}
