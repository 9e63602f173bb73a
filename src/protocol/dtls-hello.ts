// The one thing the main thread reads from a DTLS datagram (protocol.md §4):
// the session_id of a ClientHello, which openconnect fills with the App-ID
// (PSK-NEGOTIATE) or the server's X-DTLS-Session-ID (legacy). Pure.

/** DTLS record: type(1) version(2) epoch(2) sequence(6) length(2). */
export const DTLS_RECORD_HEADER = 13;
/** Handshake: type(1) length(3) message_seq(2) fragment_offset(3) fragment_length(3). */
export const DTLS_HANDSHAKE_HEADER = 12;
/** ClientHello: client_version(2) random(32), then session_id length. */
export const SESSION_ID_LENGTH_OFFSET = DTLS_RECORD_HEADER + DTLS_HANDSHAKE_HEADER + 2 + 32;
export const MAX_SESSION_ID = 32;
const CONTENT_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
/** DTLS versions are 0xfeXX (1.0 = feff, 1.2 = fefd); Cisco's pre-standard DTLS is 0x0100. */
const DTLS_MAJOR = 0xfe;
const CISCO_DTLS_09 = 0x0100;

/** The session_id of a DTLS ClientHello in `d`, or undefined when `d` is not one. */
export function clientHelloSessionId(d: Uint8Array): Buffer | undefined {
  if (d.length <= SESSION_ID_LENGTH_OFFSET) return undefined;
  if (d[0] !== CONTENT_HANDSHAKE) return undefined;
  const version = (d[1]! << 8) | d[2]!;
  if (d[1] !== DTLS_MAJOR && version !== CISCO_DTLS_09) return undefined;
  // Epoch 0: a ClientHello is never encrypted.
  if (d[3] !== 0 || d[4] !== 0) return undefined;
  if (d[DTLS_RECORD_HEADER] !== HANDSHAKE_CLIENT_HELLO) return undefined;
  const len = d[SESSION_ID_LENGTH_OFFSET]!;
  if (len === 0 || len > MAX_SESSION_ID || d.length < SESSION_ID_LENGTH_OFFSET + 1 + len) return undefined;
  return Buffer.from(d.subarray(SESSION_ID_LENGTH_OFFSET + 1, SESSION_ID_LENGTH_OFFSET + 1 + len));
}

/** TLS extension pre_shared_key (RFC 8446 §4.2.11). */
const EXT_PRE_SHARED_KEY = 41;
/** Longest PSK identity we read (an App-ID in hex is 64). */
export const MAX_PSK_IDENTITY = 255;

/**
 * The first PSK identity of a DTLS 1.3 ClientHello in `d`, or undefined.
 * DTLS 1.3 clients leave legacy_session_id empty (RFC 9147 §5.3), so a
 * client of ours names its session by the identity instead: the App-ID in
 * hex. Only a whole, unfragmented ClientHello is read.
 */
export function clientHelloPskIdentity(d: Uint8Array): Buffer | undefined {
  if (clientHelloHeaderOk(d) === false) return undefined;
  const hsLen = (d[DTLS_RECORD_HEADER + 1]! << 16) | (d[DTLS_RECORD_HEADER + 2]! << 8) | d[DTLS_RECORD_HEADER + 3]!;
  const fragOff = (d[DTLS_RECORD_HEADER + 6]! << 16) | (d[DTLS_RECORD_HEADER + 7]! << 8) | d[DTLS_RECORD_HEADER + 8]!;
  const fragLen = (d[DTLS_RECORD_HEADER + 9]! << 16) | (d[DTLS_RECORD_HEADER + 10]! << 8) | d[DTLS_RECORD_HEADER + 11]!;
  const start = DTLS_RECORD_HEADER + DTLS_HANDSHAKE_HEADER;
  if (fragOff !== 0 || fragLen !== hsLen || start + hsLen > d.length) return undefined;
  const end = start + hsLen;
  let p = start + 2 + 32; // client_version, random
  const skip8 = () => (p < end ? (p += 1 + d[p]!) : (p = end + 1));
  const skip16 = () => (p + 1 < end ? (p += 2 + ((d[p]! << 8) | d[p + 1]!)) : (p = end + 1));
  skip8(); // legacy_session_id
  skip8(); // cookie
  skip16(); // cipher_suites
  skip8(); // compression_methods
  if (p + 2 > end) return undefined;
  const extEnd = p + 2 + ((d[p]! << 8) | d[p + 1]!);
  if (extEnd > end) return undefined;
  p += 2;
  while (p + 4 <= extEnd) {
    const type = (d[p]! << 8) | d[p + 1]!;
    const len = (d[p + 2]! << 8) | d[p + 3]!;
    const body = p + 4;
    if (body + len > extEnd) return undefined;
    if (type === EXT_PRE_SHARED_KEY) {
      // identities<7..2^16-1>: identity<1..2^16-1>, obfuscated_ticket_age(4)
      if (len < 4) return undefined;
      const idLen = (d[body + 2]! << 8) | d[body + 3]!;
      if (idLen === 0 || idLen > MAX_PSK_IDENTITY || body + 4 + idLen > body + len) return undefined;
      return Buffer.from(d.subarray(body + 4, body + 4 + idLen));
    }
    p = body + len;
  }
  return undefined;
}

/** Record and handshake headers of an epoch-0 DTLS ClientHello. */
function clientHelloHeaderOk(d: Uint8Array): boolean {
  if (d.length < DTLS_RECORD_HEADER + DTLS_HANDSHAKE_HEADER + 2 + 32 + 1) return false;
  if (d[0] !== CONTENT_HANDSHAKE || d[1] !== DTLS_MAJOR) return false;
  if (d[3] !== 0 || d[4] !== 0) return false;
  return d[DTLS_RECORD_HEADER] === HANDSHAKE_CLIENT_HELLO;
}
