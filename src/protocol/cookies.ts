// The cookies of the protocol, as ocserv's worker-auth.c sets them:
//   webvpn         the session (openconnect sends it back on CONNECT; http.c
//                  keeps everything up to the first ';' as the value)
//   webvpncontext  ties the steps of one login together (ocserv's "sid")
//   webvpnc        Cisco clients' config cookie; ocserv clears it, or sets the
//                  server certificate hash in it (ANYCONNECT_CLIENT_COMPAT)
// The *SetCookie helpers return the header VALUE (what follows
// "Set-Cookie: "), for res.setHeader('Set-Cookie', [...]).
import { ErrorCodes, WolfguardError } from '../common/errors';

/** Longest Cookie header we look at; ours are ~50 bytes, Cisco's a few hundred. */
export const MAX_COOKIE_HEADER = 8192;
/** Most cookies we keep from one header. */
const MAX_COOKIES = 32;
/** ocserv's way of deleting a cookie: an expiry date in the past. */
const EXPIRED = 'expires=Thu, 01 Jan 1970 22:00:00 GMT';
/** RFC 6265 cookie-octet (no space, DQUOTE, comma, semicolon or backslash). */
const COOKIE_VALUE = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$/;
/** RFC 7230 token: a cookie name. */
const COOKIE_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * A Cookie request header as name → value; the first of a repeated name wins
 * (browsers list the most specific path first). Bounded: a hostile header
 * cannot make us keep much. Node joins repeated Cookie headers with "; ".
 */
export function parseCookieHeader(header: string | readonly string[] | undefined): Map<string, string> {
  const out = new Map<string, string>();
  const text = Array.isArray(header) ? header.join('; ') : header;
  if (typeof text !== 'string' || text.length === 0 || text.length > MAX_COOKIE_HEADER) return out;
  for (const part of text.split(';')) {
    if (out.size >= MAX_COOKIES) break;
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (!COOKIE_NAME.test(name) || !COOKIE_VALUE.test(value)) continue;
    if (!out.has(name)) out.set(name, value);
  }
  return out;
}

export interface SetCookieOptions {
  /** Max-Age in seconds; ocserv sets none on webvpn (a session cookie). */
  maxAge?: number;
  path?: string;
}

function checkValue(name: string, value: string): void {
  if (!COOKIE_VALUE.test(value)) throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, `${name} cookie value holds characters a cookie may not`);
}

function attrs(o: SetCookieOptions): string {
  let s = '';
  if (o.maxAge !== undefined) {
    if (!Number.isInteger(o.maxAge) || o.maxAge < 0) throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, `Max-Age ${o.maxAge} is not a non-negative integer`);
    s += `; Max-Age=${o.maxAge}`;
  }
  if (o.path !== undefined) {
    if (!/^\/[\x21-\x3a\x3c-\x7e]*$/.test(o.path)) throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, `cookie path ${JSON.stringify(o.path)} is not a path`);
    s += `; path=${o.path}`;
  }
  return s;
}

/** ocserv post_common_handler: "webvpn=<cookie>; Secure; HttpOnly". */
export function webvpnSetCookie(value: string, opts: SetCookieOptions = {}): string {
  checkValue('webvpn', value);
  return `webvpn=${value}${attrs(opts)}; Secure; HttpOnly`;
}

/** ocserv get_auth_handler2 while a login is under way: "webvpncontext=<sid>; Max-Age=<cookie timeout>; Secure; HttpOnly". */
export function webvpnContextSetCookie(value: string, maxAgeSeconds: number): string {
  checkValue('webvpncontext', value);
  return `webvpncontext=${value}${attrs({ maxAge: maxAgeSeconds })}; Secure; HttpOnly`;
}

/** ocserv's webvpncontext when no login is under way (and its way of ending one). */
export function clearWebvpnContextCookie(): string {
  return `webvpncontext=; ${EXPIRED}; path=/; Secure; HttpOnly`;
}

/** ocserv clears Cisco's webvpnc cookie on every successful login. */
export function clearWebvpncCookie(): string {
  return `webvpnc=; ${EXPIRED}; path=/; Secure; HttpOnly`;
}

/**
 * Cisco AnyConnect's webvpnc with the server certificate's SHA-1 (hex),
 * as ocserv sends it when built with ANYCONNECT_CLIENT_COMPAT.
 */
export function webvpncSetCookie(certSha1Hex: string): string {
  if (!/^[0-9A-Fa-f]{40}$/.test(certSha1Hex)) throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, 'webvpnc needs the certificate SHA-1 as 40 hex digits');
  return `webvpnc=bu:/&p:t&iu:1/&sh:${certSha1Hex}; path=/; Secure; HttpOnly`;
}
