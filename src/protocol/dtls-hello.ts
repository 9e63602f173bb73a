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
