// IP addresses as numbers, parsed once per decision and never as objects.
//
// Every address is held in a caller-owned Uint32Array(4) as its 128-bit IPv6
// form, most significant word first. IPv4 (and IPv4-mapped IPv6, which is what
// a dual-stack socket reports for an IPv4 peer) is stored as ::ffff:a.b.c.d and
// reported as FAMILY_V4, so one peer has one key whichever socket it came in on.
// The parser on the accept path returns a family code instead of throwing so a
// hostile or odd address costs no exception; the prefix parser used for config
// and admin commands throws WolfguardError with a readable message.

import { WolfguardError, ErrorCodes } from './errors';

export const FAMILY_NONE = 0;
export const FAMILY_V4 = 4;
export const FAMILY_V6 = 6;
export type Family = typeof FAMILY_V4 | typeof FAMILY_V6;

export const V4_BITS = 32;
export const V6_BITS = 128;
/** Word 2 of an IPv4-mapped address (::ffff:0:0/96). */
const MAPPED_MARKER = 0xffff;
/** Length of the ::ffff:0:0 prefix that marks an IPv4-mapped IPv6 address. */
const MAPPED_PREFIX_BITS = 96;
const V6_GROUPS = 8;
const GROUP_HEX_DIGITS = 4;
const OCTET_MAX = 255;
const OCTET_DIGITS = 3;
/** Longest textual address we bother to look at (full IPv6 with v4 tail and a zone id). */
const MAX_ADDRESS_TEXT = 100;

const CH_0 = 48;
const CH_9 = 57;
const CH_A_LOWER = 97;
const CH_F_LOWER = 102;
const CH_A_UPPER = 65;
const CH_F_UPPER = 70;
const CH_DOT = 46;
const CH_COLON = 58;
const CH_PERCENT = 37;

function hexValue(c: number): number {
  if (c >= CH_0 && c <= CH_9) return c - CH_0;
  if (c >= CH_A_LOWER && c <= CH_F_LOWER) return c - CH_A_LOWER + 10;
  if (c >= CH_A_UPPER && c <= CH_F_UPPER) return c - CH_A_UPPER + 10;
  return -1;
}

/**
 * Dotted quad in text[start, end) into out[word]; false when malformed.
 * Kept in int32 arithmetic (the store into the Uint32Array reinterprets the
 * sign bit) so V8 never boxes a double on this path. Leading zeros are
 * refused: inet_aton would read them as octal.
 */
function parseV4Into(text: string, start: number, end: number, out: Uint32Array, word: number): boolean {
  let value = 0;
  let i = start;
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (i >= end || text.charCodeAt(i) !== CH_DOT) return false;
      i++;
    }
    const first = i;
    let octet = 0;
    while (i < end) {
      const c = text.charCodeAt(i);
      if (c < CH_0 || c > CH_9) break;
      octet = octet * 10 + (c - CH_0);
      i++;
      if (i - first > OCTET_DIGITS) return false;
    }
    const digits = i - first;
    if (digits === 0 || octet > OCTET_MAX || (digits > 1 && text.charCodeAt(first) === CH_0)) return false;
    value = (value << 8) | octet;
  }
  if (i !== end) return false;
  out[word] = value;
  return true;
}

function getGroup(out: Uint32Array, g: number): number {
  const w = out[g >> 1];
  return (g & 1) === 1 ? w & 0xffff : w >>> 16;
}

function setGroup(out: Uint32Array, g: number, v: number): void {
  const i = g >> 1;
  out[i] = (g & 1) === 1 ? (out[i] & 0xffff0000) | v : (out[i] & 0xffff) | (v << 16);
}

/** IPv6 text in text[0, end) into out; returns false when malformed. */
function parseV6(text: string, end: number, out: Uint32Array): boolean {
  out[0] = 0;
  out[1] = 0;
  out[2] = 0;
  out[3] = 0;
  let groups = 0;
  let gap = -1;
  let i = 0;
  if (end >= 2 && text.charCodeAt(0) === CH_COLON) {
    if (text.charCodeAt(1) !== CH_COLON) return false;
    gap = 0;
    i = 2;
    if (i === end) return true;
  }
  for (;;) {
    const start = i;
    let value = 0;
    let digits = 0;
    while (i < end) {
      const h = hexValue(text.charCodeAt(i));
      if (h < 0) break;
      value = value * 16 + h;
      digits++;
      i++;
      if (digits > GROUP_HEX_DIGITS) return false;
    }
    if (i < end && text.charCodeAt(i) === CH_DOT) {
      // An embedded IPv4 tail takes the last two groups.
      if (groups > V6_GROUPS - 2) return false;
      // Groups >= `groups` (<= 6) are still zero, so word 3 is free as scratch.
      if (!parseV4Into(text, start, end, out, 3)) return false;
      const v4 = out[3];
      out[3] = 0;
      setGroup(out, groups++, v4 >>> 16);
      setGroup(out, groups++, v4 & 0xffff);
      break;
    }
    if (digits === 0 || groups >= V6_GROUPS) return false;
    setGroup(out, groups++, value);
    if (i === end) break;
    if (text.charCodeAt(i) !== CH_COLON) return false;
    i++;
    if (i < end && text.charCodeAt(i) === CH_COLON) {
      if (gap >= 0) return false;
      gap = groups;
      i++;
      if (i === end) break;
    } else if (i === end) {
      return false;
    }
  }
  if (gap < 0) return groups === V6_GROUPS;
  if (groups >= V6_GROUPS) return false;
  // Slide the groups after "::" to the end; walking down keeps unread groups intact.
  const shift = V6_GROUPS - groups;
  for (let g = groups - 1; g >= gap; g--) {
    setGroup(out, g + shift, getGroup(out, g));
    setGroup(out, g, 0);
  }
  return true;
}

/** True when words hold ::ffff:a.b.c.d. */
export function isMappedV4(words: Uint32Array): boolean {
  return words[0] === 0 && words[1] === 0 && words[2] === MAPPED_MARKER;
}

/**
 * Parse a textual IPv4 or IPv6 address (optionally with a %zone, ignored) into
 * `out` (128-bit form). Returns FAMILY_V4, FAMILY_V6 or FAMILY_NONE when the
 * text is not an address. Never throws, never allocates.
 */
export function parseAddressInto(text: string, out: Uint32Array): number {
  const len = text.length;
  if (len === 0 || len > MAX_ADDRESS_TEXT) return FAMILY_NONE;
  // IPv4 first: it is the common case and fails within a few characters on IPv6 text.
  if (parseV4Into(text, 0, len, out, 3)) {
    out[0] = 0;
    out[1] = 0;
    out[2] = MAPPED_MARKER;
    return FAMILY_V4;
  }
  let end = len;
  let colon = false;
  for (let i = 0; i < len; i++) {
    const c = text.charCodeAt(i);
    if (c === CH_COLON) colon = true;
    else if (c === CH_PERCENT) {
      end = i;
      break;
    }
  }
  if (!colon || !parseV6(text, end, out)) return FAMILY_NONE;
  return isMappedV4(out) ? FAMILY_V4 : FAMILY_V6;
}

/** Bits that matter for a family: 32 for IPv4 (the low word), 128 for IPv6. */
export function familyBits(family: number): number {
  return family === FAMILY_V4 ? V4_BITS : V6_BITS;
}

/**
 * Zero every bit after the first `length` bits of the family's address space
 * (for IPv4, of word 3; the mapped marker is kept).
 */
export function maskInPlace(words: Uint32Array, family: number, length: number): void {
  const offset = family === FAMILY_V4 ? MAPPED_PREFIX_BITS : 0;
  const keep = offset + length;
  for (let w = family === FAMILY_V4 ? 3 : 0; w < 4; w++) {
    const bitsBefore = w * 32;
    if (keep >= bitsBefore + 32) continue;
    const inWord = keep - bitsBefore;
    words[w] = inWord <= 0 ? 0 : words[w] & (~0 << (32 - inWord));
  }
}

/** Any bit set after the first `length` bits (config check; allocates). */
export function hasHostBits(words: Uint32Array, family: number, length: number): boolean {
  const copy = Uint32Array.from(words);
  maskInPlace(copy, family, length);
  return copy[0] !== words[0] || copy[1] !== words[1] || copy[2] !== words[2] || copy[3] !== words[3];
}

/** Text form: dotted quad for IPv4, RFC 5952 (longest zero run as "::", lower case) for IPv6. */
export function formatAddress(words: Uint32Array, family: number): string {
  if (family === FAMILY_V4) {
    const v = words[3];
    return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let g = 0; g < V6_GROUPS; ) {
    if (getGroup(words, g) !== 0) {
      g++;
      continue;
    }
    let e = g;
    while (e < V6_GROUPS && getGroup(words, e) === 0) e++;
    // RFC 5952: a lone zero group is not shortened.
    if (e - g > bestLen && e - g > 1) {
      bestStart = g;
      bestLen = e - g;
    }
    g = e;
  }
  let s = '';
  for (let g = 0; g < V6_GROUPS; g++) {
    if (g === bestStart) {
      s += '::';
      g += bestLen - 1;
      continue;
    }
    if (s.length > 0 && !s.endsWith(':')) s += ':';
    s += getGroup(words, g).toString(16);
  }
  return s;
}

/** A parsed prefix; `words` are masked, `length` counts bits in the family (0..32 or 0..128). */
export interface Prefix {
  readonly family: Family;
  readonly words: Uint32Array;
  readonly length: number;
}

function prefixError(text: string, why: string): WolfguardError {
  return new WolfguardError(ErrorCodes.INVALID_ARGUMENT, `invalid address prefix "${text.length > MAX_ADDRESS_TEXT ? text.slice(0, MAX_ADDRESS_TEXT) + '…' : text}": ${why}`, { value: text });
}

/**
 * Parse "addr" or "addr/len". An IPv4-mapped IPv6 prefix of /96 or longer is
 * the IPv4 prefix it maps to. Host bits set after the length are refused
 * rather than silently masked: "10.0.0.1/8" is more likely a typo than intent.
 */
export function parsePrefix(text: string): Prefix {
  if (typeof text !== 'string') throw prefixError(String(text), 'not a string');
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const words = new Uint32Array(4);
  const family = parseAddressInto(addrText, words);
  if (family === FAMILY_NONE || addrText.includes('%')) throw prefixError(text, 'not an IPv4 or IPv6 address');
  const written6 = addrText.includes(':');
  const maxLen = written6 ? V6_BITS : V4_BITS;
  let length = maxLen;
  if (slash >= 0) {
    const lenText = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(lenText)) throw prefixError(text, 'prefix length must be a decimal number');
    length = Number(lenText);
    if (length > maxLen) throw prefixError(text, `prefix length ${length} exceeds ${maxLen}`);
  }
  let outFamily: Family = family === FAMILY_V4 ? FAMILY_V4 : FAMILY_V6;
  if (written6 && family === FAMILY_V4) {
    if (length >= MAPPED_PREFIX_BITS) length -= MAPPED_PREFIX_BITS;
    else outFamily = FAMILY_V6; // a short prefix around ::ffff:0:0/96 is an IPv6 rule
  }
  if (hasHostBits(words, outFamily, length)) {
    const masked = Uint32Array.from(words);
    maskInPlace(masked, outFamily, length);
    throw prefixError(text, `host bits set after /${slash >= 0 ? text.slice(slash + 1) : length}; did you mean ${formatAddress(masked, outFamily)}/${length}?`);
  }
  return { family: outFamily, words, length };
}

/** Text form of a prefix, e.g. "10.0.0.0/8", "2001:db8::/32". */
export function formatPrefix(p: Prefix): string {
  return `${formatAddress(p.words, p.family)}/${p.length}`;
}

/** Dotted IPv4 netmask of a prefix length (24 → "255.255.255.0"). */
export function netmaskFromPrefix(length: number): string {
  if (!Number.isInteger(length) || length < 0 || length > V4_BITS) throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, `IPv4 prefix length ${length} outside 0..32`);
  const m = length === 0 ? 0 : (~0 << (V4_BITS - length)) >>> 0;
  return `${m >>> 24}.${(m >>> 16) & 0xff}.${(m >>> 8) & 0xff}.${m & 0xff}`;
}

/**
 * "::ffff:10.0.0.1" → "10.0.0.1": a dual-stack socket reports IPv4 peers in
 * the mapped form; logs, the admin socket and the cluster store show them as
 * operators write them. Any other text is returned as it is.
 */
export function unmapIpv4(a: string): string {
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}
