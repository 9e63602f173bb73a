// The shard's DTLS context for the PSK mode. One context serves both
// versions: openconnect (PSK-NEGOTIATE) only speaks DTLS 1.2 and gets it; a
// client offering DTLS 1.3 (our load generator) gets 1.3 with the same key
// from the TLS exporter. The legacy Cisco mode has a context of its own.
import { TlsContext, type KeyExchangeGroup } from '../../native/lib';

/**
 * DTLS 1.3 suites first (a 1.2-only client never sees them), then what
 * openconnect (GnuTLS) offers for PSK-NEGOTIATE, strongest first.
 */
export const GATEWAY_DTLS_CIPHERS = 'TLS13-AES256-GCM-SHA384:TLS13-AES128-GCM-SHA256:PSK-AES256-GCM-SHA384:PSK-AES128-GCM-SHA256';

/** `groups`: the key-exchange groups DTLS 1.3 (psk_dhe_ke) may use; fips = true narrows them. */
export function createDtlsPskContext(groups?: readonly KeyExchangeGroup[]): TlsContext {
  return new TlsContext({ role: 'server', transport: 'dtls', minVersion: 'DTLSv1.2', maxVersion: 'DTLSv1.3', ciphers: GATEWAY_DTLS_CIPHERS, psk: true, ...(groups ? { groups } : {}) });
}
