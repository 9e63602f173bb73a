// FIPS-approved mode (`fips = true`): the gateway uses only FIPS 140-3
// approved algorithms: AES-GCM, SHA-2, ECDHE and ECDSA on P-256/P-384, RSA of
// 2048 bits or more; no ChaCha20-Poly1305, no SHA-1 signatures, no legacy
// Cisco DTLS (its suites are AES-CBC with HMAC-SHA1 on a pre-standard
// protocol). It refuses to start on a certificate or cipher list outside that,
// saying which part is wrong. Restricting algorithms is ours; whether the
// wolfCrypt module itself is FIPS 140-3 validated is the library's, and is
// reported as it is (the wolfSSL built by native/scripts/wolfssl.sh is not).
//
// Pure except fipsBuildStatus (asks the addon) and checkFipsFiles (reads PEM).
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { addon } from '../../native/lib';
import type { KeyExchangeGroup } from '../../native/lib';
import { ErrorCodes, WolfguardError } from '../common/errors';
import type { GatewayConfig } from './config/types';

/** TLS suites used when fips = true and no `ciphers` is configured: TLS 1.3 and ECDHE AES-GCM only (wolfSSL names). */
export const FIPS_TLS_CIPHERS = [
  'TLS13-AES256-GCM-SHA384',
  'TLS13-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
].join(':');

/**
 * Key-exchange groups when fips = true: the NIST curves of SP 800-56A; X25519
 * and X448 (wolfSSL's first choices otherwise) are not approved for key
 * agreement. Applies to TLS 1.3 and DTLS 1.3 key shares and to TLS 1.2 ECDHE.
 */
export const FIPS_GROUPS: readonly KeyExchangeGroup[] = ['P-256', 'P-384'];

/** Approved suites (wolfSSL names): AES-GCM with SHA-2, ECDHE (TLS 1.2), or TLS 1.3. PSK-AES-GCM is the DTLS PSK-NEGOTIATE mode. */
const APPROVED_SUITE = /^(TLS13-AES(128|256)-GCM-SHA(256|384)|ECDHE-(ECDSA|RSA)-AES(128|256)-GCM-SHA(256|384)|PSK-AES(128|256)-GCM-SHA(256|384))$/;

export const MIN_RSA_BITS = 2048;
export const APPROVED_CURVES: readonly string[] = ['prime256v1', 'secp384r1'];

/** Signature algorithm OIDs of approved certificate signatures (SHA-2 RSA PKCS#1 v1.5, RSA-PSS, ECDSA with SHA-2). */
const APPROVED_SIGNATURES: ReadonlyMap<string, string> = new Map([
  ['1.2.840.113549.1.1.11', 'sha256WithRSAEncryption'],
  ['1.2.840.113549.1.1.12', 'sha384WithRSAEncryption'],
  ['1.2.840.113549.1.1.13', 'sha512WithRSAEncryption'],
  ['1.2.840.113549.1.1.10', 'RSASSA-PSS'],
  ['1.2.840.10045.4.3.2', 'ecdsa-with-SHA256'],
  ['1.2.840.10045.4.3.3', 'ecdsa-with-SHA384'],
  ['1.2.840.10045.4.3.4', 'ecdsa-with-SHA512'],
]);
const KNOWN_UNAPPROVED: ReadonlyMap<string, string> = new Map([
  ['1.2.840.113549.1.1.5', 'sha1WithRSAEncryption'],
  ['1.2.840.113549.1.1.4', 'md5WithRSAEncryption'],
  ['1.2.840.10045.4.1', 'ecdsa-with-SHA1'],
  ['1.3.101.112', 'Ed25519'],
  ['1.3.101.113', 'Ed448'],
]);

function fipsError(message: string, details: Record<string, unknown> = {}): WolfguardError {
  return new WolfguardError(ErrorCodes.CONFIG_INVALID, `fips = true: ${message}`, details);
}

/** Every suite of a wolfSSL cipher list that is not approved. */
export function unapprovedCiphers(list: string): string[] {
  return list
    .split(':')
    .map((s) => s.trim())
    .filter((s) => s !== '' && !APPROVED_SUITE.test(s));
}

// Just enough DER to reach Certificate.signatureAlgorithm.algorithm (RFC 5280 §4.1).
function derHeader(b: Buffer, off: number): { tag: number; start: number; end: number } {
  if (off + 2 > b.length) throw new Error('truncated');
  const tag = b[off]!;
  let len = b[off + 1]!;
  let start = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > b.length) throw new Error('bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[start + i]!;
    start += n;
  }
  if (start + len > b.length) throw new Error('truncated');
  return { tag, start, end: start + len };
}

function oidText(b: Buffer): string {
  const parts = [Math.floor(b[0]! / 40), b[0]! % 40];
  let v = 0;
  for (let i = 1; i < b.length; i++) {
    v = v * 128 + (b[i]! & 0x7f);
    if (!(b[i]! & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

const DER_SEQUENCE = 0x30;
const DER_OID = 0x06;

/** The signature algorithm OID of a DER certificate. */
export function certificateSignatureOid(der: Buffer): string {
  try {
    const cert = derHeader(der, 0);
    if (cert.tag !== DER_SEQUENCE) throw new Error('not a SEQUENCE');
    const tbs = derHeader(der, cert.start);
    const alg = derHeader(der, tbs.end);
    const oid = derHeader(der, alg.start);
    if (alg.tag !== DER_SEQUENCE || oid.tag !== DER_OID) throw new Error('no AlgorithmIdentifier');
    return oidText(der.subarray(oid.start, oid.end));
  } catch (e) {
    throw new WolfguardError(ErrorCodes.TLS_BAD_CERT, `certificate is not DER X.509: ${(e as Error).message}`);
  }
}

export interface CertificateVerdict {
  keyType: string;
  /** RSA modulus bits, or undefined. */
  bits?: number;
  /** EC curve name, or undefined. */
  curve?: string;
  signature: string;
}

/** Checks one PEM certificate against the approved keys and signatures; throws CONFIG_INVALID naming what is wrong. */
export function checkCertificate(pem: string | Buffer, label = 'server-cert'): CertificateVerdict {
  let x: crypto.X509Certificate;
  try {
    x = new crypto.X509Certificate(pem);
  } catch (e) {
    throw new WolfguardError(ErrorCodes.TLS_BAD_CERT, `${label}: not a PEM certificate: ${(e as Error).message}`);
  }
  const key = x.publicKey;
  const d = key.asymmetricKeyDetails ?? {};
  const oid = certificateSignatureOid(x.raw);
  const signature = APPROVED_SIGNATURES.get(oid) ?? KNOWN_UNAPPROVED.get(oid) ?? oid;
  const verdict: CertificateVerdict = { keyType: key.asymmetricKeyType ?? 'unknown', signature };
  if (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') {
    verdict.bits = d.modulusLength ?? 0;
    if (verdict.bits < MIN_RSA_BITS) throw fipsError(`${label} has an RSA key of ${verdict.bits} bits; at least ${MIN_RSA_BITS} are required`, { label });
  } else if (key.asymmetricKeyType === 'ec') {
    verdict.curve = d.namedCurve ?? 'unknown';
    if (!APPROVED_CURVES.includes(verdict.curve)) throw fipsError(`${label} has an EC key on ${verdict.curve}; only P-256 (prime256v1) and P-384 (secp384r1) are allowed`, { label });
  } else {
    throw fipsError(`${label} has a ${verdict.keyType} key; only RSA (>= ${MIN_RSA_BITS} bits) and ECDSA P-256/P-384 are allowed`, { label });
  }
  if (!APPROVED_SIGNATURES.has(oid)) throw fipsError(`${label} is signed with ${signature}; only SHA-2 RSA or ECDSA signatures are allowed`, { label });
  return verdict;
}

/** Every certificate in a PEM bundle (the server's first, then its chain). */
export function pemCertificates(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
}

export interface FipsPlan {
  /** The configuration to run: ciphers defaulted to FIPS_TLS_CIPHERS, legacy DTLS off. */
  config: GatewayConfig;
  /** The server certificate's key and signature. */
  certificate: CertificateVerdict;
  /** What to log. */
  notes: string[];
}

/**
 * Validates a fips = true configuration given the server certificate's PEM
 * text (the whole file, chain included): throws CONFIG_INVALID on anything
 * outside the approved set; returns the configuration to run.
 */
export function planFips(cfg: GatewayConfig, certPem: string): FipsPlan {
  const notes: string[] = [];
  const next: GatewayConfig = { ...cfg };
  if (cfg.ciphers !== undefined) {
    if (cfg.ciphers.split(':').every((x) => x.trim() === '')) throw fipsError('ciphers is empty');
    const bad = unapprovedCiphers(cfg.ciphers);
    if (bad.length > 0) throw fipsError(`ciphers lists suites that are not FIPS-approved: ${bad.join(', ')}`, { ciphers: bad });
  } else {
    next.ciphers = FIPS_TLS_CIPHERS;
    notes.push(`ciphers set to ${FIPS_TLS_CIPHERS}`);
  }
  const legacy = next as GatewayConfig & { dtlsLegacy?: boolean };
  if (legacy.dtlsLegacy !== false) {
    legacy.dtlsLegacy = false;
    notes.push('legacy Cisco DTLS (AES-CBC/HMAC-SHA1 suites) turned off');
  }
  notes.push(`key exchange limited to ${FIPS_GROUPS.join(', ')} (no X25519/X448)`);
  const certs = pemCertificates(certPem);
  if (certs.length === 0) throw new WolfguardError(ErrorCodes.TLS_BAD_CERT, `${cfg.serverCert}: no PEM certificate in it`);
  const certificate = checkCertificate(certs[0]!, 'server-cert');
  certs.slice(1).forEach((c, i) => checkCertificate(c, `server-cert chain certificate ${i + 1}`));
  return { config: next, certificate, notes };
}

export interface FipsBuildStatus {
  /** True only for a wolfCrypt FIPS 140-3 validated module (HAVE_FIPS). */
  validated: boolean;
  version?: number;
  wolfssl: string;
}

export function fipsBuildStatus(): FipsBuildStatus {
  const a = addon() as unknown as { fipsBuild?: { validated: boolean; version?: number }; wolfsslVersion: string };
  const b = a.fipsBuild ?? { validated: false };
  return { ...b, wolfssl: a.wolfsslVersion };
}

/** The sentence the log and status carry about the module. */
export function describeFipsBuild(s: FipsBuildStatus): string {
  return s.validated
    ? `wolfSSL ${s.wolfssl} is a FIPS 140-3 validated wolfCrypt build${s.version !== undefined ? ` (FIPS version ${s.version})` : ''}`
    : `wolfSSL ${s.wolfssl} is NOT a FIPS 140-3 validated build: only approved algorithms are used, but the module is not validated`;
}

/** planFips on the configured certificate file. */
export function checkFipsFiles(cfg: GatewayConfig): FipsPlan {
  let pem: string;
  try {
    pem = fs.readFileSync(cfg.serverCert, 'utf8');
  } catch (e) {
    throw new WolfguardError(ErrorCodes.FILE_UNREADABLE, `${cfg.serverCert}: ${(e as Error).message}`, { file: cfg.serverCert });
  }
  return planFips(cfg, pem);
}
