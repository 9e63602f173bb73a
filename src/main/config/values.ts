// Value parsers for configuration keys. Each returns the value or throws a
// ValueError saying what is wrong with it; the loader adds the key and line.
import { FAMILY_NONE, FAMILY_V4, V4_BITS, formatAddress, formatPrefix, parseAddressInto, parsePrefix, type Prefix } from '../../common/address';
import { isWolfguardError } from '../../common/errors';

export class ValueError extends Error {}

/** ocserv reads numbers into C ints; anything larger is a mistake. */
export const MAX_CONFIG_INT = 2 ** 31 - 1;

export function parseUint(value: string, min = 0, max = MAX_CONFIG_INT): number {
  if (!/^[0-9]{1,10}$/.test(value)) throw new ValueError(`"${clip(value)}" is not a non-negative integer`);
  const n = Number(value);
  if (n < min || n > max) throw new ValueError(`${n} is outside ${min}..${max}`);
  return n;
}

export const MAX_PORT = 65535;

export function parsePort(value: string): number {
  return parseUint(value, 1, MAX_PORT);
}

/** ocserv's READ_TF says true for "true"/"yes" and false for anything else; we refuse typos instead. */
export function parseBool(value: string): boolean {
  const v = value.toLowerCase();
  if (v === 'true' || v === 'yes') return true;
  if (v === 'false' || v === 'no') return false;
  throw new ValueError(`"${clip(value)}" is not true/false (or yes/no)`);
}

/** Dotted IPv4 netmask → prefix length; the mask must be contiguous ones. */
export function netmaskToPrefix(mask: string): number {
  const w = new Uint32Array(4);
  if (parseAddressInto(mask, w) !== FAMILY_V4 || mask.includes(':')) throw new ValueError(`"${clip(mask)}" is not a dotted IPv4 netmask`);
  const m = w[3];
  const inverted = ~m >>> 0;
  // Contiguous ones followed by zeros: the inverted mask plus one is a power of two.
  if ((inverted & (inverted + 1)) !== 0) throw new ValueError(`netmask ${mask} is not contiguous`);
  let len = 0;
  for (let bit = V4_BITS - 1; bit >= 0 && (m >>> bit) & 1; bit--) len++;
  return len;
}

function prefix(text: string): Prefix {
  try {
    return parsePrefix(text);
  } catch (e) {
    if (isWolfguardError(e)) throw new ValueError(e.message);
    throw e;
  }
}

/**
 * "addr/len" or (IPv4) "addr/dotted.mask" → the parsed prefix. The length is
 * required: ocserv refuses a route without one. Host bits are refused.
 */
export function parseNetworkWithLength(value: string): Prefix {
  const slash = value.indexOf('/');
  if (slash < 0) throw new ValueError(`"${clip(value)}" is missing a /prefix (write address/prefix)`);
  const addr = value.slice(0, slash);
  const len = value.slice(slash + 1);
  if (len.includes('.')) {
    if (addr.includes(':')) throw new ValueError(`"${clip(value)}": a dotted netmask goes with an IPv4 address only`);
    return prefix(`${addr}/${netmaskToPrefix(len)}`);
  }
  return prefix(value);
}

/** A complaint about ipv4-network + ipv4-netmask, naming the key that is wrong. */
export class Ipv4NetworkError extends ValueError {
  constructor(
    readonly key: 'ipv4-network' | 'ipv4-netmask',
    message: string,
  ) {
    super(message);
  }
}

/**
 * ipv4-network with the prefix length of an optional ipv4-netmask, combined
 * as ocserv does: the network may carry /N (or /dotted.mask) itself, the
 * netmask then must agree; a bare address needs the netmask. Shared by the
 * main configuration and the per-user/group files so both read it alike.
 * `networkAt` ("line 5") only goes into the message of a contradiction.
 */
export function ipv4NetworkOf(network: string, maskLength: number | undefined, networkAt: string): Prefix {
  let text = network;
  if (!text.includes('/')) {
    if (maskLength === undefined) throw new Ipv4NetworkError('ipv4-network', 'no netmask: write ipv4-network = ADDRESS/PREFIX or add ipv4-netmask');
    text = `${text}/${maskLength}`;
  }
  let parsed: Prefix;
  try {
    parsed = parseNetworkWithLength(text);
  } catch (e) {
    if (e instanceof ValueError) throw new Ipv4NetworkError('ipv4-network', e.message);
    throw e;
  }
  if (parsed.family !== FAMILY_V4) throw new Ipv4NetworkError('ipv4-network', `"${clip(network)}" is not an IPv4 network`);
  if (maskLength !== undefined && network.includes('/') && maskLength !== parsed.length) {
    throw new Ipv4NetworkError('ipv4-netmask', `netmask /${maskLength} contradicts ipv4-network ${network} on ${networkAt}`);
  }
  return parsed;
}

/** A route / no-route entry as CIDR text; `default` (and 0.0.0.0/0) come back as 'default'. */
export function parseRoute(value: string): string {
  if (value === 'default') return 'default';
  const p = parseNetworkWithLength(value);
  if (p.family === FAMILY_V4 && p.length === 0) return 'default';
  return formatPrefix(p);
}

/** A DNS server address, normalized. */
export function parseAddress(value: string): string {
  const w = new Uint32Array(4);
  const fam = parseAddressInto(value, w);
  if (fam === FAMILY_NONE || value.includes('%')) throw new ValueError(`"${clip(value)}" is not an IPv4 or IPv6 address`);
  return formatAddress(w, fam);
}

const CLIP_CHARS = 60;
export function clip(s: string): string {
  return s.length > CLIP_CHARS ? `${s.slice(0, CLIP_CHARS)}…` : s;
}
