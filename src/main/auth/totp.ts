// TOTP (RFC 6238) over HOTP (RFC 4226), with the HMAC from wolfCrypt. Pure
// apart from the HMAC: the caller passes the time and the last accepted step,
// and gets back the step to remember (replay protection lives with the caller).
import { invalidArgument } from '../../common/errors';
import { hmac, type HashName } from '../../../native/lib/wolfcrypt';

/** RFC 6238's default time step, and liboath's `HOTP/T30`. */
export const DEFAULT_STEP_SECONDS = 30;
/** RFC 4226's usual code length (liboath's default when the type has no `/N`). */
export const DEFAULT_DIGITS = 6;
/** Steps accepted either side of now: one covers the clock skew of a phone and a code typed near a step edge. */
export const DEFAULT_WINDOW = 1;
/** RFC 4226 allows 6 to 8 digits (10 digits cannot exceed 2^31). */
const MIN_DIGITS = 6;
const MAX_DIGITS = 8;
/** Bytes of the HOTP counter (big-endian 64-bit). */
const COUNTER_BYTES = 8;
/** RFC 4226 §5.3: the low nibble of the last byte picks the 4 bytes to take. */
const OFFSET_MASK = 0x0f;
const TRUNCATE_MASK = 0x7fffffff;

export interface TotpParams {
  key: Uint8Array;
  hash?: HashName;
  digits?: number;
  stepSeconds?: number;
  /** T0 of RFC 6238, seconds. */
  epoch?: number;
}

function checkDigits(d: number): number {
  if (!Number.isInteger(d) || d < MIN_DIGITS || d > MAX_DIGITS) throw invalidArgument(`OTP length must be ${MIN_DIGITS}..${MAX_DIGITS} digits, not ${String(d)}`);
  return d;
}

/** The HOTP value of `counter` (RFC 4226 §5.3), as a zero-padded decimal string. */
export function hotp(key: Uint8Array, counter: bigint | number, digits = DEFAULT_DIGITS, hash: HashName = 'sha1'): string {
  checkDigits(digits);
  const c = BigInt(counter);
  if (c < 0n || c >= 1n << 64n) throw invalidArgument('HOTP counter out of range');
  const msg = Buffer.alloc(COUNTER_BYTES);
  msg.writeBigUInt64BE(c);
  const mac = hmac(hash, key, msg);
  const off = mac[mac.length - 1]! & OFFSET_MASK;
  const bin = mac.readUInt32BE(off) & TRUNCATE_MASK;
  return String(bin % 10 ** digits).padStart(digits, '0');
}

/** The time step of `unixSeconds`. */
export function totpStep(unixSeconds: number, stepSeconds = DEFAULT_STEP_SECONDS, epoch = 0): number {
  if (!Number.isFinite(unixSeconds) || !(stepSeconds > 0)) throw invalidArgument('bad TOTP time or step');
  return Math.floor((unixSeconds - epoch) / stepSeconds);
}

export function totp(p: TotpParams, unixSeconds: number): string {
  return hotp(p.key, totpStep(unixSeconds, p.stepSeconds, p.epoch), p.digits ?? DEFAULT_DIGITS, p.hash ?? 'sha1');
}

export type TotpCheck = { ok: true; step: number } | { ok: false; reason: 'malformed' | 'wrong' | 'replayed' };

/**
 * Checks `code` against the steps now-window .. now+window. A step at or
 * before `lastStep` (the last one this user logged in with) is a replay: a
 * code seen on the wire or over a shoulder cannot be used again, nor can an
 * older one. Every candidate step is computed and compared, so the time taken
 * does not tell which step matched.
 */
export function verifyTotp(p: TotpParams, code: string, unixSeconds: number, lastStep: number | undefined, window = DEFAULT_WINDOW): TotpCheck {
  const digits = checkDigits(p.digits ?? DEFAULT_DIGITS);
  if (code.length !== digits || !/^[0-9]+$/.test(code)) return { ok: false, reason: 'malformed' };
  const now = totpStep(unixSeconds, p.stepSeconds, p.epoch);
  let fresh: number | undefined;
  let seen = false;
  for (let s = now - window; s <= now + window; s++) {
    if (s < 0) continue;
    if (!constantTimeEqual(hotp(p.key, s, digits, p.hash ?? 'sha1'), code)) continue;
    seen = true;
    if (fresh === undefined && (lastStep === undefined || s > lastStep)) fresh = s;
  }
  if (fresh !== undefined) return { ok: true, step: fresh };
  return { ok: false, reason: seen ? 'replayed' : 'wrong' };
}

function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32, as authenticator apps show secrets: case, spaces and '=' padding are forgiven. */
export function base32Decode(s: string): Buffer {
  const clean = s.replace(/[\s=-]/g, '').toUpperCase();
  if (clean.length === 0) throw invalidArgument('empty base32 secret');
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of clean) {
    const v = BASE32_ALPHABET.indexOf(ch);
    if (v < 0) throw invalidArgument(`"${ch}" is not a base32 character`);
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
    value &= (1 << bits) - 1;
  }
  return Buffer.from(out);
}

export function base32Encode(b: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of b) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32_ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

/** The otpauth:// URI authenticator apps import (Google's Key Uri Format). */
export function otpauthUri(o: { issuer: string; user: string; key: Uint8Array; digits?: number; stepSeconds?: number; hash?: HashName }): string {
  const label = `${encodeURIComponent(o.issuer)}:${encodeURIComponent(o.user)}`;
  const q = new URLSearchParams({
    secret: base32Encode(o.key),
    issuer: o.issuer,
    algorithm: (o.hash ?? 'sha1').toUpperCase(),
    digits: String(o.digits ?? DEFAULT_DIGITS),
    period: String(o.stepSeconds ?? DEFAULT_STEP_SECONDS),
  });
  return `otpauth://totp/${label}?${q.toString()}`;
}
