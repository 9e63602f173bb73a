// A wolfSSL context (WOLFSSL_CTX) with options validated here, in
// TypeScript, so the native side stays small and every mistake in a config
// comes back as a WolfguardError that names the file or field at fault.
import * as fs from 'node:fs';
import { ErrorCodes, WolfguardError, invalidArgument, type ErrorCode } from '../../src/common/errors';
import { addon, type NativeContext } from './addon';

export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';
export type DtlsVersion = 'DTLSv1.2' | 'DTLSv1.3';
export type ProtocolVersion = TlsVersion | DtlsVersion;

/** PEM given inline, or the path of a file holding it. */
export type PemSource = { file: string } | { pem: string | Buffer };

export interface ContextOptions {
  role: 'server' | 'client';
  /** 'tls' (TCP) or 'dtls' (UDP). Default 'tls'. */
  transport?: 'tls' | 'dtls';
  /** Lowest and highest protocol version; defaults: 1.2 and 1.3 of the transport. */
  minVersion?: ProtocolVersion;
  maxVersion?: ProtocolVersion;
  /** Certificate chain (leaf first) and its private key. */
  cert?: PemSource;
  key?: PemSource;
  /** CA certificates trusted to sign peers' certificates. */
  ca?: PemSource;
  /** CRL checked against peers' certificates. */
  crl?: PemSource;
  /** Peer certificate policy; default 'none' for servers, 'require' for clients with a CA. */
  verifyPeer?: 'none' | 'optional' | 'require';
  /** wolfSSL or IANA suite names separated by ':'; every name must be known. */
  ciphers?: string;
  /**
   * Key-exchange groups allowed, preferred first (TLS 1.3 key shares and TLS
   * 1.2 ECDHE curves alike); default: wolfSSL's list. fips = true passes
   * FIPS_GROUPS.
   */
  groups?: readonly KeyExchangeGroup[];
  /** Server session-ID cache (TLS 1.2 resumption). */
  sessionCache?: { enabled: boolean; timeoutSec?: number };
  /**
   * Session tickets. `keys`: 48-byte keys (16-byte name + 32-byte AES key),
   * current first; shards given the same keys resume each other's tickets.
   */
  tickets?: boolean | { keys: Buffer[] };
  /** Enables PSK suites; keys are then chosen per connection (see TlsSocketOptions.psk). */
  psk?: boolean;
  /** PSK identity hint a server sends. */
  pskIdentityHint?: string;
  /**
   * Cisco's legacy DTLS 1.2. Server: a ClientHello resumes only the session
   * its connection was given (DtlsSessionOptions.legacySession), nothing is
   * cached. Client: no extended master secret, no tickets (openconnect's
   * GnuTLS client sends no extensions); resume with legacyClientSession().
   */
  legacyResume?: boolean;
}

/** IANA TLS named-group ids (RFC 8446 §4.2.7, RFC 8422). */
export const GROUP_IDS = {
  'P-256': 23,
  'P-384': 24,
  'P-521': 25,
  X25519: 29,
  X448: 30,
} as const;
export type KeyExchangeGroup = keyof typeof GROUP_IDS;

const WOLFSSL_SUCCESS = 1;
const TICKET_KEY_BYTES = 48; // 16-byte key name + 32-byte AES-256 key

function readPem(src: PemSource, what: string): Buffer {
  if ('pem' in src) return Buffer.isBuffer(src.pem) ? src.pem : Buffer.from(src.pem);
  try {
    return fs.readFileSync(src.file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const code: ErrorCode = err.code === 'ENOENT' ? ErrorCodes.FILE_NOT_FOUND : ErrorCodes.FILE_UNREADABLE;
    throw new WolfguardError(code, `${what} file ${src.file}: ${err.code === 'ENOENT' ? 'not found' : err.message}`, {
      file: src.file,
    });
  }
}

function describe(src: PemSource, what: string): string {
  return 'file' in src ? `${what} ${src.file}` : `${what} (inline PEM)`;
}

function wolfError(code: ErrorCode, message: string, ret: number): WolfguardError {
  return new WolfguardError(code, `${message} (wolfSSL code ${ret})`, { wolfsslCode: ret });
}

export class TlsContext {
  readonly native: NativeContext;
  readonly role: 'server' | 'client';
  readonly transport: 'tls' | 'dtls';
  readonly minVersion: ProtocolVersion;
  readonly maxVersion: ProtocolVersion;

  constructor(options: ContextOptions) {
    const a = addon();
    if (options.role !== 'server' && options.role !== 'client') throw invalidArgument(`role must be 'server' or 'client'`);
    this.role = options.role;
    this.transport = options.transport ?? 'tls';
    if (this.transport !== 'tls' && this.transport !== 'dtls') throw invalidArgument(`transport must be 'tls' or 'dtls'`);
    const dtls = this.transport === 'dtls';
    const allowed: ProtocolVersion[] = dtls ? ['DTLSv1.2', 'DTLSv1.3'] : ['TLSv1.2', 'TLSv1.3'];
    this.minVersion = options.minVersion ?? allowed[0]!;
    this.maxVersion = options.maxVersion ?? allowed[1]!;
    for (const [name, v] of [['minVersion', this.minVersion], ['maxVersion', this.maxVersion]] as const) {
      if (!allowed.includes(v)) {
        throw new WolfguardError(ErrorCodes.TLS_BAD_VERSION, `${name} ${String(v)} is not one of ${allowed.join(', ')} for ${this.transport}`);
      }
    }
    if (allowed.indexOf(this.minVersion) > allowed.indexOf(this.maxVersion)) {
      throw new WolfguardError(ErrorCodes.TLS_BAD_VERSION, `minVersion ${this.minVersion} is above maxVersion ${this.maxVersion}`);
    }
    // Read every file before creating native state, so a missing file costs nothing.
    const certPem = options.cert ? readPem(options.cert, 'certificate') : undefined;
    const keyPem = options.key ? readPem(options.key, 'private key') : undefined;
    const caPem = options.ca ? readPem(options.ca, 'CA') : undefined;
    const crlPem = options.crl ? readPem(options.crl, 'CRL') : undefined;
    if (Boolean(certPem) !== Boolean(keyPem)) throw invalidArgument('cert and key must be given together');

    const native = new a.Context(dtls, this.role === 'server', a.versions[this.minVersion], a.versions[this.maxVersion]);
    this.native = native;
    try {
      if (certPem && keyPem) {
        let ret = native.useCertificateChain(certPem);
        if (ret !== WOLFSSL_SUCCESS) throw wolfError(ErrorCodes.TLS_BAD_CERT, `cannot load ${describe(options.cert!, 'certificate')}: not a PEM certificate chain`, ret);
        ret = native.usePrivateKey(keyPem);
        if (ret !== WOLFSSL_SUCCESS) throw wolfError(ErrorCodes.TLS_BAD_KEY, `cannot load ${describe(options.key!, 'private key')}: not a PEM private key`, ret);
        ret = native.checkPrivateKey();
        if (ret !== WOLFSSL_SUCCESS) {
          throw wolfError(ErrorCodes.TLS_KEY_MISMATCH, `${describe(options.key!, 'private key')} does not match ${describe(options.cert!, 'certificate')}`, ret);
        }
      }
      if (caPem) {
        const ret = native.loadVerify(caPem);
        if (ret !== WOLFSSL_SUCCESS) throw wolfError(ErrorCodes.TLS_BAD_CERT, `cannot load ${describe(options.ca!, 'CA')}`, ret);
      }
      if (crlPem) {
        const ret = native.loadCrl(crlPem);
        if (ret !== WOLFSSL_SUCCESS) throw wolfError(ErrorCodes.TLS_BAD_CERT, `cannot load ${describe(options.crl!, 'CRL')}`, ret);
      }
      const verify = options.verifyPeer ?? (this.role === 'client' && caPem ? 'require' : 'none');
      const modes = { none: 0, optional: 1, require: 2 } as const;
      if (!(verify in modes)) throw invalidArgument(`verifyPeer must be none, optional or require`);
      native.setVerify(modes[verify]);
      if (options.ciphers !== undefined) this.setCiphers(options.ciphers);
      if (options.groups !== undefined) this.setGroups(options.groups);
      if (options.sessionCache) {
        const ret = native.setSessionCache(options.sessionCache.enabled, options.sessionCache.timeoutSec ?? 0);
        if (ret !== WOLFSSL_SUCCESS) throw wolfError(ErrorCodes.TLS_CONTEXT, 'cannot configure the session cache', ret);
      }
      if (options.tickets !== undefined) this.setTickets(options.tickets);
      if (options.psk) native.enablePsk();
      if (options.legacyResume) {
        if (!dtls || this.maxVersion !== 'DTLSv1.2') throw invalidArgument('legacyResume needs a DTLS 1.2 context');
        const ret = native.enableLegacyResume();
        if (ret !== WOLFSSL_SUCCESS) throw wolfError(ErrorCodes.TLS_CONTEXT, 'cannot enable legacy DTLS resumption (wolfSSL needs HAVE_EXT_CACHE)', ret);
      }
      if (options.pskIdentityHint !== undefined) {
        const ret = native.setPskIdentityHint(options.pskIdentityHint);
        if (ret !== WOLFSSL_SUCCESS) throw wolfError(ErrorCodes.TLS_CONTEXT, 'cannot set the PSK identity hint', ret);
      }
    } catch (e) {
      native.free();
      throw e;
    }
  }

  /**
   * Sets the cipher list after checking each name on its own: wolfSSL would
   * otherwise accept a list where only some names are known and silently
   * drop the rest.
   */
  setCiphers(list: string): void {
    const names = list.split(':').map((s) => s.trim()).filter((s) => s.length > 0);
    if (names.length === 0) throw new WolfguardError(ErrorCodes.TLS_BAD_CIPHER, 'cipher list is empty');
    const unknown = names.filter((n) => this.native.setCipherList(n) !== WOLFSSL_SUCCESS);
    if (unknown.length > 0) {
      throw new WolfguardError(ErrorCodes.TLS_BAD_CIPHER, `unknown or unavailable cipher suite(s): ${unknown.join(', ')}`, { unknown });
    }
    const ret = this.native.setCipherList(names.join(':'));
    if (ret !== WOLFSSL_SUCCESS) throw wolfError(ErrorCodes.TLS_BAD_CIPHER, `cipher list rejected: ${list}`, ret);
  }

  private setGroups(groups: readonly KeyExchangeGroup[]): void {
    if (groups.length === 0) throw invalidArgument('groups must be a non-empty list');
    const unknown = groups.filter((g) => !Object.hasOwn(GROUP_IDS, g));
    if (unknown.length > 0) {
      throw invalidArgument(`unknown key-exchange group(s): ${unknown.map(String).join(', ')} (known: ${Object.keys(GROUP_IDS).join(', ')})`);
    }
    const ret = this.native.setGroups(groups.map((g) => GROUP_IDS[g]));
    if (ret !== WOLFSSL_SUCCESS) throw wolfError(ErrorCodes.TLS_CONTEXT, `key-exchange groups not available in this wolfSSL: ${groups.join(', ')}`, ret);
  }

  setTickets(tickets: boolean | { keys: Buffer[] }): void {
    const enabled = tickets !== false;
    let ret = this.native.setTickets(enabled);
    if (ret !== WOLFSSL_SUCCESS) throw wolfError(ErrorCodes.TLS_CONTEXT, 'cannot configure session tickets', ret);
    if (typeof tickets === 'object') {
      if (this.role !== 'server') throw invalidArgument('ticket keys are for servers');
      const keys = tickets.keys;
      if (keys.length < 1 || keys.length > 2 || keys.some((k) => !Buffer.isBuffer(k) || k.length !== TICKET_KEY_BYTES)) {
        throw invalidArgument(`tickets.keys must be 1 or 2 Buffers of ${TICKET_KEY_BYTES} bytes`);
      }
      // An all-0xff name marks tickets that must never resume (certificate logins over TLS 1.3, context.cc).
      if (keys.some((k) => k.subarray(0, 16).every((b) => b === 0xff))) throw invalidArgument('a ticket key name (its first 16 bytes) must not be all 0xff');
      ret = this.native.setTicketKeys(keys[0]!, keys[1]);
      if (ret !== WOLFSSL_SUCCESS) throw wolfError(ErrorCodes.TLS_CONTEXT, 'cannot set ticket keys', ret);
    }
  }

  /**
   * Loads a newer CRL into the live context (a CRL file replaced by the CA):
   * handshakes from now on are checked against it too.
   */
  reloadCrl(crl: PemSource): void {
    const pem = readPem(crl, 'CRL');
    const ret = this.native.loadCrl(pem);
    if (ret !== WOLFSSL_SUCCESS) throw wolfError(ErrorCodes.TLS_BAD_CERT, `cannot load ${describe(crl, 'CRL')}`, ret);
  }

  /** Releases the context; live connections keep it until they end. */
  close(): void {
    this.native.free();
  }
}

/** Every cipher suite name this wolfSSL build offers (wolfSSL's names). */
export function availableCiphers(): string[] {
  const list = addon().ciphers();
  return list ? list.split(':') : [];
}

/** A fresh random ticket key (16-byte name + 32-byte key) from wolfCrypt's DRBG. */
export function newTicketKey(): Buffer {
  return addon().randomBytes(TICKET_KEY_BYTES);
}
