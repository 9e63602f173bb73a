// CSTP framing (protocol.md §3): 'S' 'T' 'F' 0x01, payload length (16-bit
// big-endian), type, 0x00, then the payload. The native pump parses the
// tunnel's frames itself; this module is the reference the tests and the
// scripted client use, and what JavaScript uses for the rare control frame.
import { ErrorCodes, WolfguardError } from '../common/errors';

export const CSTP_HEADER_BYTES = 8;
/** The length field is 16 bits. */
export const CSTP_MAX_PAYLOAD = 0xffff;
const MAGIC = [0x53, 0x54, 0x46, 0x01] as const;

export const CstpType = {
  DATA: 0x00,
  DPD_REQ: 0x03,
  DPD_RESP: 0x04,
  DISCONNECT: 0x05,
  KEEPALIVE: 0x07,
  COMPRESSED: 0x08,
  TERMINATE: 0x09,
} as const;

/** First payload byte of a client's DISCONNECT. */
export const DisconnectReason = {
  USER_LOGOUT: 0xb0,
  RECONNECTING: 0x91,
} as const;

export interface CstpFrame {
  type: number;
  payload: Buffer;
}

export function encodeCstp(type: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  if (payload.length > CSTP_MAX_PAYLOAD) throw new WolfguardError(ErrorCodes.FRAME_TOO_LARGE, `CSTP payload of ${payload.length} bytes exceeds ${CSTP_MAX_PAYLOAD}`);
  const b = Buffer.allocUnsafe(CSTP_HEADER_BYTES + payload.length);
  b[0] = MAGIC[0];
  b[1] = MAGIC[1];
  b[2] = MAGIC[2];
  b[3] = MAGIC[3];
  b.writeUInt16BE(payload.length, 4);
  b[6] = type;
  b[7] = 0;
  b.set(payload, CSTP_HEADER_BYTES);
  return b;
}

/** A byte stream in, whole frames out; frames may span chunks and share them. */
export class CstpReader {
  #pending: Buffer = Buffer.alloc(0);
  readonly #maxPayload: number;

  constructor(options: { maxPayload?: number } = {}) {
    this.#maxPayload = options.maxPayload ?? CSTP_MAX_PAYLOAD;
  }

  push(chunk: Buffer): CstpFrame[] {
    const buf = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
    const out: CstpFrame[] = [];
    let off = 0;
    while (buf.length - off >= CSTP_HEADER_BYTES) {
      if (buf[off] !== MAGIC[0] || buf[off + 1] !== MAGIC[1] || buf[off + 2] !== MAGIC[2] || buf[off + 3] !== MAGIC[3]) {
        throw new WolfguardError(ErrorCodes.BAD_MAGIC, 'CSTP frame without the STF\\x01 magic');
      }
      if (buf[off + 7] !== 0) throw new WolfguardError(ErrorCodes.PROTOCOL, 'CSTP header byte 7 is not zero');
      const len = buf.readUInt16BE(off + 4);
      if (len > this.#maxPayload) throw new WolfguardError(ErrorCodes.FRAME_TOO_LARGE, `CSTP payload of ${len} bytes exceeds ${this.#maxPayload}`);
      if (buf.length - off < CSTP_HEADER_BYTES + len) break;
      out.push({ type: buf[off + 6]!, payload: Buffer.from(buf.subarray(off + CSTP_HEADER_BYTES, off + CSTP_HEADER_BYTES + len)) });
      off += CSTP_HEADER_BYTES + len;
    }
    this.#pending = Buffer.from(buf.subarray(off));
    return out;
  }
}

/** A client's DISCONNECT payload: reason byte, then free text. */
export function describeDisconnect(payload: Buffer): { reason: number; text: string } {
  return { reason: payload[0] ?? 0, text: payload.subarray(1).toString('utf8').replace(/[^\x20-\x7e]/g, '') };
}
