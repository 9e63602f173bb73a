// Cookie header parsing for the few cookies the protocol uses (webvpn,
// webvpncontext). Bounded: a hostile header cannot make us keep much.
/** Longest Cookie header we look at; ours are ~50 bytes, Cisco's ~200. */
export const MAX_COOKIE_HEADER = 8192;
/** Most cookies we keep from one header. */
const MAX_COOKIES = 32;

export function parseCookieHeader(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header || header.length > MAX_COOKIE_HEADER) return out;
  for (const part of header.split(';')) {
    if (out.size >= MAX_COOKIES) break;
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (name && !out.has(name)) out.set(name, value);
  }
  return out;
}
