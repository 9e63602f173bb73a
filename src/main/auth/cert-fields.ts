// What certificate login needs of a client certificate: the attributes of its
// subject DN (by OID, in order, so a repeated OU gives several groups) and the
// e-mail addresses of its subjectAltName, read from the DER (RFC 5280 §4.1,
// §4.2.1.6). Keyed purely by OID, as ocserv's gnutls_x509_crt_get_dn_by_oid
// is, so any configured cert-user-oid / cert-group-oid works without a table
// of names. The certificate was verified by wolfSSL during the handshake;
// this module only reads it. Pure: no I/O. Malformed input throws
// WolfguardError(TLS_BAD_CERT), never anything else.
import { createHash } from 'node:crypto';
import { ErrorCodes, WolfguardError } from '../../common/errors';

/** One AttributeTypeAndValue of the subject, e.g. { oid: '2.5.4.3', value: 'alice' }. */
export interface CertAttribute {
  oid: string;
  value: string;
}

/** A verified client certificate, as the shard hands it to the main thread with a login. */
export interface CertIdentity {
  /** Subject DN attributes in certificate order. */
  subject: CertAttribute[];
  /** rfc822Name entries of the subjectAltName extension. */
  emails: string[];
  /** SHA-256 of the DER, hex: ties the rounds of one login to one certificate. */
  fingerprint: string;
}

export const OID_CN = '2.5.4.3';
export const OID_UID = '0.9.2342.19200300.100.1.1';
export const OID_OU = '2.5.4.11';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';

const TAG_BOOLEAN = 0x01;
const TAG_OCTET_STRING = 0x04;
const TAG_OID = 0x06;
const TAG_SEQUENCE = 0x30;
const TAG_SET = 0x31;
/** [0] EXPLICIT version, [3] EXPLICIT extensions (constructed, context-specific). */
const TAG_VERSION = 0xa0;
const TAG_EXTENSIONS = 0xa3;
/** GeneralName rfc822Name: [1] IMPLICIT IA5String (primitive, context-specific). */
const TAG_RFC822_NAME = 0x81;
/** Length octets we accept after 0x8N: certificates are far below 4 GiB. */
const MAX_LENGTH_OCTETS = 4;
/** Longest attribute value kept (ocserv's user names are MAX_USERNAME_SIZE = 64; group names similar). */
export const MAX_VALUE_CHARS = 1024;

interface Tlv {
  tag: number;
  start: number;
  end: number;
}

function bad(why: string): never {
  throw new WolfguardError(ErrorCodes.TLS_BAD_CERT, `client certificate is not DER X.509: ${why}`);
}

function tlv(b: Uint8Array, off: number, limit: number): Tlv {
  if (off + 2 > limit) bad('truncated');
  const tag = b[off]!;
  if ((tag & 0x1f) === 0x1f) bad('multi-byte tags are not used in certificates');
  let len = b[off + 1]!;
  let start = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > MAX_LENGTH_OCTETS || start + n > limit) bad('bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[start + i]!;
    start += n;
  }
  if (start + len > limit) bad('truncated');
  return { tag, start, end: start + len };
}

function expect(b: Uint8Array, off: number, limit: number, tag: number, what: string): Tlv {
  const t = tlv(b, off, limit);
  if (t.tag !== tag) bad(`${what}: tag 0x${t.tag.toString(16)} where 0x${tag.toString(16)} belongs`);
  return t;
}

/** The elements of a constructed value. */
function children(b: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let off = parent.start; off < parent.end; ) {
    const t = tlv(b, off, parent.end);
    out.push(t);
    off = t.end;
  }
  return out;
}

/** Dotted text of an OBJECT IDENTIFIER's contents (X.690 §8.19). */
export function oidToText(c: Uint8Array): string {
  if (c.length === 0) bad('empty OID');
  const arcs: bigint[] = [];
  let v = 0n;
  for (let i = 0; i < c.length; i++) {
    v = (v << 7n) | BigInt(c[i]! & 0x7f);
    if (!(c[i]! & 0x80)) {
      arcs.push(v);
      v = 0n;
    } else if (i === c.length - 1) {
      bad('OID ends inside an arc');
    }
  }
  const first = arcs[0]!;
  const head = first < 40n ? [0n, first] : first < 80n ? [1n, first - 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].map(String).join('.');
}

function decodeString(tag: number, c: Uint8Array): string {
  let s: string;
  switch (tag) {
    case 0x0c: // UTF8String
      s = Buffer.from(c).toString('utf8');
      break;
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x12: // NumericString
    case 0x1a: // VisibleString
    case 0x14: // TeletexString: in practice Latin-1
      s = Buffer.from(c).toString('latin1');
      break;
    case 0x1e: {
      // BMPString: UCS-2 big-endian
      if (c.length % 2 !== 0) bad('BMPString of odd length');
      const swapped = Buffer.from(c);
      swapped.swap16();
      s = swapped.toString('utf16le');
      break;
    }
    case 0x1c: {
      // UniversalString: UCS-4 big-endian
      if (c.length % 4 !== 0) bad('UniversalString length not a multiple of 4');
      const cps: number[] = [];
      for (let i = 0; i < c.length; i += 4) {
        const cp = ((c[i]! << 24) >>> 0) + (c[i + 1]! << 16) + (c[i + 2]! << 8) + c[i + 3]!;
        if (cp > 0x10ffff) bad('UniversalString code point out of range');
        cps.push(cp);
      }
      s = String.fromCodePoint(...cps);
      break;
    }
    default:
      // Other types (e.g. a hex-encoded opaque value) are not names a user could have.
      return '';
  }
  return s.length > MAX_VALUE_CHARS ? s.slice(0, MAX_VALUE_CHARS) : s;
}

function readName(b: Uint8Array, name: Tlv): CertAttribute[] {
  const out: CertAttribute[] = [];
  for (const rdn of children(b, name)) {
    if (rdn.tag !== TAG_SET) bad('RelativeDistinguishedName is not a SET');
    for (const atv of children(b, rdn)) {
      if (atv.tag !== TAG_SEQUENCE) bad('AttributeTypeAndValue is not a SEQUENCE');
      const [type, value] = children(b, atv);
      if (!type || type.tag !== TAG_OID || !value) bad('AttributeTypeAndValue without type and value');
      const text = decodeString(value.tag, b.subarray(value.start, value.end));
      if (text !== '') out.push({ oid: oidToText(b.subarray(type.start, type.end)), value: text });
    }
  }
  return out;
}

function readEmails(b: Uint8Array, extensions: Tlv): string[] {
  const list = children(b, extensions);
  if (list.length !== 1 || list[0]!.tag !== TAG_SEQUENCE) bad('extensions are not one SEQUENCE');
  const emails: string[] = [];
  for (const ext of children(b, list[0]!)) {
    const parts = children(b, ext);
    if (parts.length < 2 || parts[0]!.tag !== TAG_OID) bad('Extension without an OID');
    const valueT = parts[1]!.tag === TAG_BOOLEAN ? parts[2] : parts[1];
    if (!valueT || valueT.tag !== TAG_OCTET_STRING) bad('Extension without an OCTET STRING value');
    if (oidToText(b.subarray(parts[0]!.start, parts[0]!.end)) !== OID_SUBJECT_ALT_NAME) continue;
    const names = expect(b, valueT.start, valueT.end, TAG_SEQUENCE, 'GeneralNames');
    for (const gn of children(b, names)) {
      if (gn.tag === TAG_RFC822_NAME) emails.push(decodeString(0x16, b.subarray(gn.start, gn.end)));
    }
  }
  return emails.filter((e) => e !== '');
}

/** Subject attributes, SAN e-mails and fingerprint of a DER certificate. */
export function certificateIdentity(der: Uint8Array): CertIdentity {
  const cert = expect(der, 0, der.length, TAG_SEQUENCE, 'Certificate');
  const tbs = expect(der, cert.start, cert.end, TAG_SEQUENCE, 'TBSCertificate');
  const fields = children(der, tbs);
  let i = fields[0]?.tag === TAG_VERSION ? 1 : 0;
  // serialNumber, signature, issuer, validity, then subject.
  i += 4;
  const subject = fields[i];
  if (!subject || subject.tag !== TAG_SEQUENCE) bad('no subject Name');
  const extensions = fields.slice(i + 1).find((f) => f.tag === TAG_EXTENSIONS);
  return {
    subject: readName(der, subject),
    emails: extensions ? readEmails(der, extensions) : [],
    fingerprint: createHash('sha256').update(der.subarray(0, cert.end)).digest('hex'),
  };
}
