// Cisco's legacy DTLS (protocol.md §4) at the addon's level: the parameters
// of the one session a server connection resumes, and the client side of the
// same trick for tests and tools. The native half is native/src/dtls-legacy.cc.
import { ErrorCodes, WolfguardError } from '../../src/common/errors';
import { addon, type NativeSessionHandle } from './addon';

import { DTLS_SESSION_ID_BYTES as LEGACY_SESSION_ID_BYTES } from '../../src/protocol/connect-reply';
import { DTLS_MASTER_SECRET_BYTES as LEGACY_MASTER_SECRET_BYTES } from '../../src/protocol/connect-request';

// The sizes the protocol fixes (X-DTLS-Session-ID, X-DTLS-Master-Secret), under this module's names.
export { LEGACY_SESSION_ID_BYTES, LEGACY_MASTER_SECRET_BYTES };

export interface LegacySessionParams {
  /** X-DTLS-Session-ID, which the client puts in its ClientHello. */
  sessionId: Buffer;
  /** X-DTLS-Master-Secret. */
  masterSecret: Buffer;
  /** wolfSSL (= OpenSSL) suite name, e.g. 'AES256-GCM-SHA384'. */
  cipherSuite: string;
}

/** Throws unless the parameters have the sizes the protocol fixes. */
export function checkLegacyParams(p: LegacySessionParams): void {
  if (!Buffer.isBuffer(p.sessionId) || p.sessionId.length !== LEGACY_SESSION_ID_BYTES) {
    throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, `legacy DTLS session id must be ${LEGACY_SESSION_ID_BYTES} bytes`);
  }
  if (!Buffer.isBuffer(p.masterSecret) || p.masterSecret.length !== LEGACY_MASTER_SECRET_BYTES) {
    throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, `legacy DTLS master secret must be ${LEGACY_MASTER_SECRET_BYTES} bytes`);
  }
  if (typeof p.cipherSuite !== 'string' || p.cipherSuite.length === 0) {
    throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, 'legacy DTLS cipher suite must be a suite name');
  }
}

/** A session a wolfSSL DTLS 1.2 client resumes as openconnect/Cisco do (DtlsSessionOptions.resumeSession). */
export function legacyClientSession(p: LegacySessionParams): NativeSessionHandle {
  checkLegacyParams(p);
  const r = addon().legacyClientSession(p.sessionId, p.masterSecret, p.cipherSuite);
  if (typeof r === 'number') {
    throw new WolfguardError(ErrorCodes.TLS_BAD_CIPHER, `cannot build a legacy DTLS session for ${p.cipherSuite} (wolfSSL code ${r})`, { wolfsslCode: r });
  }
  return r;
}
