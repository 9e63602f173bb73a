// CSTP framing (protocol.md §3): 'S' 'T' 'F' 0x01, payload length (16-bit
// big-endian, header excluded), type, 0x00, then the payload. The native pump
// parses the tunnel's frames itself; this module is the reference the tests
// and the scripted client use, and what JavaScript uses for the rare control
// frame.
//
// Checked against openconnect cstp.c (cstp_mainloop: magic, byte 7, length)
// and ocserv worker-vpn.c (parse_cstp_data, parse_data, cstp_send_terminate).
// Both of those read ONE CSTP packet per TLS record (gnutls_record_recv /
// SSL_read returns one record, and `len != 8 + payload_len` drops the record).
// So a sender must put exactly one frame in each TLS record; this reader is
// more lenient (a byte stream) so that it also copes with our own batching.
import { ErrorCodes, WolfguardError } from '../common/errors';

export const CSTP_HEADER_BYTES = 8;
/** The length field is 16 bits. */
export const CSTP_MAX_PAYLOAD = 0xffff;
/** 'S' 'T' 'F' 0x01 */
export const CSTP_MAGIC: readonly number[] = [0x53, 0x54, 0x46, 0x01];
const LENGTH_OFFSET = 4;
const TYPE_OFFSET = 6;
const RESERVED_OFFSET = 7;

/** openconnect-internal.h AC_PKT_*, ocserv vpn.h AC_PKT_*. */
export const CstpType = {
  DATA: 0x00,
  DPD_REQ: 0x03,
  DPD_RESP: 0x04,
  DISCONNECT: 0x05,
  KEEPALIVE: 0x07,
  COMPRESSED: 0x08,
  TERMINATE: 0x09,
} as const;
export type CstpTypeValue = (typeof CstpType)[keyof typeof CstpType];

/** First payload byte of a DISCONNECT (ocserv vpn.h AC_BYE_*). */
export const DisconnectReason = {
  /** openconnect always sends this (cstp_bye); the session is over. */
  USER_LOGOUT: 0xb0,
  /** e.g. the client could not change its routing table. */
  LOCAL_ERROR: 0x70,
  /** AnyConnect: network changed, it will come back with the same cookie. */
  RECONNECTING: 0x91,
  /** AnyConnect: tunnel paused. */
  PAUSE: 0xd1,
} as const;

export interface CstpFrame {
  type: number;
  payload: Buffer;
}

export function encodeCstp(type: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  if (!Number.isInteger(type) || type < 0 || type > 0xff) {
    throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, `CSTP type ${type} is not a byte`);
  }
  if (payload.length > CSTP_MAX_PAYLOAD) {
    throw new WolfguardError(ErrorCodes.FRAME_TOO_LARGE, `CSTP payload of ${payload.length} bytes exceeds ${CSTP_MAX_PAYLOAD}`);
  }
  const b = Buffer.allocUnsafe(CSTP_HEADER_BYTES + payload.length);
  for (let i = 0; i < CSTP_MAGIC.length; i++) b[i] = CSTP_MAGIC[i]!;
  b.writeUInt16BE(payload.length, LENGTH_OFFSET);
  b[TYPE_OFFSET] = type;
  b[RESERVED_OFFSET] = 0;
  b.set(payload, CSTP_HEADER_BYTES);
  return b;
}

/** The answer to a DPD request: same payload, type changed (ocserv parse_data). */
export function encodeDpdResponse(request: CstpFrame): Buffer {
  return encodeCstp(CstpType.DPD_RESP, request.payload);
}

/**
 * A DISCONNECT frame. With no reason this is ocserv's server-side
 * cstp_send_terminate (empty payload); a client sends reason + text
 * (openconnect cstp_bye: 0xb0 then the text, no terminator).
 */
export function encodeDisconnect(reason?: number, text = ''): Buffer {
  if (reason === undefined) return encodeCstp(CstpType.DISCONNECT);
  const body = Buffer.from(text, 'utf8');
  const payload = Buffer.allocUnsafe(1 + body.length);
  payload[0] = reason & 0xff;
  body.copy(payload, 1);
  return encodeCstp(CstpType.DISCONNECT, payload);
}

export interface CstpReaderOptions {
  /**
   * Largest payload accepted; a longer length field is an error before the
   * payload arrives, so a hostile peer cannot make us buffer 64 KiB per
   * connection. Typically the tunnel MTU plus headroom.
   */
  maxPayload?: number;
}

/**
 * A byte stream in, whole frames out; frames may span chunks and share them.
 * Errors are sticky: after a throw the stream is out of sync, and every later
 * push throws the same error. Pushed chunks are referenced, not copied, until
 * their frame is complete: do not reuse a chunk's memory after pushing it.
 */
export class CstpReader {
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Bytes needed before parsing is worth trying: a header, or the whole frame whose header we saw. */
  #need = CSTP_HEADER_BYTES;
  #failed: WolfguardError | undefined;
  readonly #maxPayload: number;

  constructor(options: CstpReaderOptions = {}) {
    const max = options.maxPayload ?? CSTP_MAX_PAYLOAD;
    if (!Number.isInteger(max) || max < 0 || max > CSTP_MAX_PAYLOAD) {
      throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, `maxPayload must be an integer in 0..${CSTP_MAX_PAYLOAD}`);
    }
    this.#maxPayload = max;
  }

  /** Bytes held back waiting for the rest of a frame. */
  get pendingBytes(): number {
    return this.#buffered;
  }

  push(chunk: Uint8Array): CstpFrame[] {
    if (this.#failed) throw this.#failed;
    if (chunk.length > 0) {
      this.#chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
      this.#buffered += chunk.length;
    }
    // Joining chunks only when a frame can be complete keeps a frame that
    // arrives a byte at a time linear, not quadratic, in copying.
    if (this.#buffered < this.#need) return [];
    const buf = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#buffered);
    const out: CstpFrame[] = [];
    let off = 0;
    this.#need = CSTP_HEADER_BYTES;
    try {
      while (buf.length - off >= CSTP_HEADER_BYTES) {
        const len = this.#checkHeader(buf, off);
        if (buf.length - off < CSTP_HEADER_BYTES + len) {
          this.#need = CSTP_HEADER_BYTES + len;
          break;
        }
        const start = off + CSTP_HEADER_BYTES;
        // A copy: callers keep frames, and must not pin the whole chunk.
        out.push({ type: buf[off + TYPE_OFFSET]!, payload: Buffer.from(buf.subarray(start, start + len)) });
        off = start + len;
      }
    } catch (e) {
      this.#failed = e as WolfguardError;
      this.#chunks = [];
      this.#buffered = 0;
      throw e;
    }
    const rest = buf.length - off;
    this.#chunks = rest > 0 ? [Buffer.from(buf.subarray(off))] : [];
    this.#buffered = rest;
    return out;
  }

  #checkHeader(buf: Buffer, off: number): number {
    for (let i = 0; i < CSTP_MAGIC.length; i++) {
      if (buf[off + i] !== CSTP_MAGIC[i]) {
        throw new WolfguardError(ErrorCodes.BAD_MAGIC, `CSTP frame without the STF\\x01 magic (got ${buf.subarray(off, off + 4).toString('hex')})`);
      }
    }
    if (buf[off + RESERVED_OFFSET] !== 0) {
      throw new WolfguardError(ErrorCodes.PROTOCOL, `CSTP header byte 7 is 0x${buf[off + RESERVED_OFFSET]!.toString(16)}, not zero`);
    }
    const len = buf.readUInt16BE(off + LENGTH_OFFSET);
    if (len > this.#maxPayload) {
      throw new WolfguardError(ErrorCodes.FRAME_TOO_LARGE, `CSTP payload of ${len} bytes exceeds ${this.#maxPayload}`);
    }
    return len;
  }
}

export type DisconnectKind = 'logout' | 'reconnecting' | 'pause' | 'local-error' | 'unspecified' | 'unknown';

export interface DisconnectInfo {
  /** First payload byte, or null for an empty payload (ocserv's own terminate). */
  reason: number | null;
  kind: DisconnectKind;
  /** The rest of the payload as printable text (openconnect shows '.' for the rest; we drop it). */
  text: string;
}

const MAX_DISCONNECT_TEXT = 256;

/**
 * A DISCONNECT payload: reason byte, then free text. Only USER_LOGOUT ends the
 * session for good; ocserv treats an empty payload and 0x91 as a temporary
 * disconnect (cookie stays valid) and an unknown reason as an error.
 */
export function describeDisconnect(payload: Uint8Array): DisconnectInfo {
  if (payload.length === 0) return { reason: null, kind: 'unspecified', text: '' };
  const reason = payload[0]!;
  const text = Buffer.from(payload.buffer, payload.byteOffset + 1, Math.min(payload.length - 1, MAX_DISCONNECT_TEXT))
    .toString('latin1')
    .replace(/[^\x20-\x7e]/g, '');
  let kind: DisconnectKind;
  switch (reason) {
    case DisconnectReason.USER_LOGOUT:
      kind = 'logout';
      break;
    case DisconnectReason.RECONNECTING:
      kind = 'reconnecting';
      break;
    case DisconnectReason.PAUSE:
      kind = 'pause';
      break;
    case DisconnectReason.LOCAL_ERROR:
      kind = 'local-error';
      break;
    default:
      kind = 'unknown';
  }
  return { reason, kind, text };
}
