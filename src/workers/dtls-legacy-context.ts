// The shard's DTLS context for Cisco's legacy mode: DTLS 1.2 only, and a
// ClientHello can only resume the session its tunnel announced in the
// CONNECT reply (see native/src/dtls-legacy.cc). It holds no certificate, on
// purpose: a full handshake, the one thing a legacy client must never get
// (openconnect: "DTLS session resume failed; possible MITM attack"), and the
// way a stranger who copied the session id off the wire would try to take
// the tunnel's UDP channel over, cannot complete: no suite in the list is
// usable without a certificate. PSK is switched on only because wolfSSL
// refuses a server connection with neither a certificate nor PSK; no PSK
// suite is in the list and no connection has a key.
import { TlsContext } from '../../native/lib';
import { LEGACY_WOLFSSL_CIPHERS } from './dtls-legacy';

export function createDtlsLegacyContext(): TlsContext {
  return new TlsContext({ role: 'server', transport: 'dtls', minVersion: 'DTLSv1.2', maxVersion: 'DTLSv1.2', ciphers: LEGACY_WOLFSSL_CIPHERS, psk: true, legacyResume: true });
}
