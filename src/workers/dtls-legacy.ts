// Cisco's legacy DTLS, the CONNECT side (protocol.md §4): which suite the
// server picks from the client's X-DTLS12-CipherSuite / X-DTLS-CipherSuite
// lists. Pure: the caller turns the choice into reply headers and a native
// session.
//
// Names and priorities follow ocserv (worker-http.c: ciphersuites[] and
// ciphersuites12[], server_prio) and openconnect (gnutls-dtls.c:
// gnutls_dtls_ciphers[]). Each legacy name is a DTLS 1.2 suite wolfSSL knows
// under its OpenSSL name. The pre-standard DTLS 0.9 suites (AES256-SHA,
// AES128-SHA, DES-CBC3-SHA, DHE-RSA-*) are not offered: wolfSSL has no
// DTLS 0.9 (DTLS1_BAD_VER).

import { DTLS_SESSION_ID_BYTES as LEGACY_SESSION_ID_BYTES } from '../protocol/connect-reply';
import { DTLS_MASTER_SECRET_BYTES as LEGACY_MASTER_SECRET_BYTES } from '../protocol/connect-request';

export { LEGACY_SESSION_ID_BYTES, LEGACY_MASTER_SECRET_BYTES };

export interface LegacySuite {
  /** The name on the wire, in the client's list and in our reply. */
  name: string;
  /** The header it belongs to: X-DTLS12-CipherSuite (true) or X-DTLS-CipherSuite. */
  dtls12: boolean;
  /** wolfSSL's (= OpenSSL's) name of the DTLS 1.2 suite resumed. */
  wolfssl: string;
  /** Bulk cipher, compared with the TLS channel's for match-tls-dtls-ciphers. */
  cipher: 'aes-128-gcm' | 'aes-256-gcm';
  /** Higher wins (ocserv's server_prio where ocserv has the suite). */
  priority: number;
}

/**
 * ocserv: AES256-GCM-SHA384 90, AES128-GCM-SHA256 50 (X-DTLS12);
 * OC-DTLS1_2-AES256-GCM 90, OC-DTLS1_2-AES128-GCM 80 (X-DTLS). ocserv has no
 * ECDHE-RSA entries; the key exchange plays no part in a resumed session, so
 * they are accepted below the plain ones, for clients that offer only them.
 */
export const LEGACY_SUITES: readonly LegacySuite[] = [
  { name: 'AES256-GCM-SHA384', dtls12: true, wolfssl: 'AES256-GCM-SHA384', cipher: 'aes-256-gcm', priority: 90 },
  { name: 'AES128-GCM-SHA256', dtls12: true, wolfssl: 'AES128-GCM-SHA256', cipher: 'aes-128-gcm', priority: 50 },
  { name: 'ECDHE-RSA-AES256-GCM-SHA384', dtls12: true, wolfssl: 'ECDHE-RSA-AES256-GCM-SHA384', cipher: 'aes-256-gcm', priority: 40 },
  { name: 'ECDHE-RSA-AES128-GCM-SHA256', dtls12: true, wolfssl: 'ECDHE-RSA-AES128-GCM-SHA256', cipher: 'aes-128-gcm', priority: 30 },
  { name: 'OC-DTLS1_2-AES256-GCM', dtls12: false, wolfssl: 'AES256-GCM-SHA384', cipher: 'aes-256-gcm', priority: 90 },
  { name: 'OC-DTLS1_2-AES128-GCM', dtls12: false, wolfssl: 'AES128-GCM-SHA256', cipher: 'aes-128-gcm', priority: 80 },
];

/** Every wolfSSL suite a legacy session may resume: the legacy context's cipher list. */
export const LEGACY_WOLFSSL_CIPHERS = [...new Set(LEGACY_SUITES.map((s) => s.wolfssl))].join(':');

export interface LegacyChoiceInput {
  /** X-DTLS12-CipherSuite, split. */
  dtls12CipherSuites: readonly string[];
  /** X-DTLS-CipherSuite, split. */
  dtlsCipherSuites: readonly string[];
  /** The TLS channel's suite name (wolfSSL's or IANA's), for match-tls-dtls-ciphers. */
  tlsCipher?: string | null;
  /** match-tls-dtls-ciphers: prefer the suite whose cipher the TLS channel uses. */
  matchTlsCipher?: boolean;
}

/** The bulk cipher of a TLS suite name, as far as legacy DTLS cares. */
export function bulkCipherOf(suite: string): LegacySuite['cipher'] | undefined {
  const s = suite.toUpperCase().replace(/_/g, '-');
  if (/AES-?256-GCM/.test(s)) return 'aes-256-gcm';
  if (/AES-?128-GCM/.test(s)) return 'aes-128-gcm';
  return undefined;
}

function best(offered: readonly string[], dtls12: boolean, want: LegacySuite['cipher'] | undefined): LegacySuite | undefined {
  const names = new Set(offered.map((n) => n.trim()));
  const candidates = LEGACY_SUITES.filter((s) => s.dtls12 === dtls12 && names.has(s.name));
  if (candidates.length === 0) return undefined;
  const pool = want ? candidates.filter((s) => s.cipher === want) : [];
  return (pool.length > 0 ? pool : candidates).reduce((a, b) => (b.priority > a.priority ? b : a));
}

/**
 * The suite to offer, or undefined when the client offers none we can
 * resume (it then stays on TLS). As in ocserv, a match in the DTLS 1.2 list
 * wins over the older X-DTLS-CipherSuite names.
 */
export function chooseLegacySuite(input: LegacyChoiceInput): LegacySuite | undefined {
  const want = input.matchTlsCipher && input.tlsCipher ? bulkCipherOf(input.tlsCipher) : undefined;
  return best(input.dtls12CipherSuites, true, want) ?? best(input.dtlsCipherSuites, false, want);
}

export interface LegacyPlanInput extends LegacyChoiceInput {
  /** X-DTLS-Master-Secret; without it there is no legacy mode. */
  masterSecret?: Buffer;
  /** The session's DTLS id (its App-ID): what the main thread finds the session by. */
  sessionId: Buffer;
}

export interface LegacyPlan {
  suite: LegacySuite;
  /** What the tunnel's DTLS connection resumes (DtlsSessionOptions.legacySession). */
  session: { sessionId: Buffer; masterSecret: Buffer; cipherSuite: string };
}

/**
 * Legacy DTLS for this CONNECT, or undefined (no master secret, a wrong-sized
 * id, or no suite in common). The session id is the session's App-ID: the
 * ClientHello carries it in the same field as in PSK mode, so the main
 * thread's dispatch finds the session the same way.
 */
export function planLegacyDtls(input: LegacyPlanInput): LegacyPlan | undefined {
  if (!input.masterSecret || input.masterSecret.length !== LEGACY_MASTER_SECRET_BYTES) return undefined;
  if (input.sessionId.length !== LEGACY_SESSION_ID_BYTES) return undefined;
  const suite = chooseLegacySuite(input);
  if (!suite) return undefined;
  return { suite, session: { sessionId: input.sessionId, masterSecret: input.masterSecret, cipherSuite: suite.wolfssl } };
}
