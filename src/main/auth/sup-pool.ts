// Per-user/group address choice (ipv4-network, ipv4-netmask, explicit-ipv4
// of config-per-user / config-per-group) → the lease indexes of the gateway's
// pool a session may get. The data plane and the cluster store find an
// address's owner by arithmetic from the one gateway-wide network, so a
// group's pool must lie inside it and is only a sub-range of leases; a pool
// outside is a configuration error naming the file and line, checked when the
// gateway starts or reloads (checkSupConfigFiles) and again at each login,
// since the files are read then and may have changed in between.
//
// The session's IPv6 address is not chosen here: it follows from the lease
// (IPv6 network + (lease << (128 - subnet prefix))).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FAMILY_V4, formatAddress, parseAddressInto } from '../../common/address';
import { ErrorCodes, WolfguardError } from '../../common/errors';
import { GATEWAY_LEASE, IpPool, type LeaseRequest } from '../sessions/ip-pool';
import type { RoutePools } from '../../ring/route-table';
import type { GatewayConfig } from '../config/types';
import { Ipv4NetworkError, ipv4NetworkOf } from '../config/values';
import { parseSupConfig, supDirsOf, type SupConfig, type SupConfigDirs } from './sup-config';

/** Files listed in one error before "and N more". */
const MAX_LISTED_ERRORS = 10;

function v4Word(address: string): number {
  const w = new Uint32Array(4);
  if (parseAddressInto(address, w) !== FAMILY_V4) throw new WolfguardError(ErrorCodes.CONFIG_INVALID, `not an IPv4 address: ${address}`);
  return w[3]!;
}

function v4Text(word: number): string {
  return formatAddress(Uint32Array.of(0, 0, 0xffff, word >>> 0), FAMILY_V4);
}

function fail(where: string, key: string, why: string): WolfguardError {
  return new WolfguardError(ErrorCodes.CONFIG_INVALID, `${where}: ${key}: ${why}`, { where, key });
}

function poolText(pool: IpPool): string {
  const n = pool.ipv4Network!;
  return `${v4Text(n.network)}/${n.prefix}`;
}

function noIpv4(where: string, key: string): WolfguardError {
  return fail(where, key, 'the gateway has no ipv4-network, so there is no pool to take this address from');
}

/** explicit-ipv4 → its one lease, or why it cannot be given. */
function explicitLease(c: SupConfig, pool: IpPool): LeaseRequest | undefined {
  const e = c.explicitIpv4;
  if (!e) return undefined;
  if (!pool.ipv4Network) throw noIpv4(e.where, 'explicit-ipv4');
  const lease = pool.leaseOfIpv4(v4Word(e.value));
  if (lease === undefined) throw fail(e.where, 'explicit-ipv4', `${e.value} is outside the gateway's ipv4-network ${poolText(pool)}`);
  const span = pool.clientSpan;
  if (lease === 0 || lease === GATEWAY_LEASE) throw fail(e.where, 'explicit-ipv4', `${e.value} is the ${lease === 0 ? 'network' : "gateway's own"} address of ${poolText(pool)}`);
  if (lease >= span.end) {
    const broadcast = lease === 2 ** (32 - pool.ipv4Network.prefix) - 1;
    throw fail(e.where, 'explicit-ipv4', `${e.value} is ${broadcast ? 'the broadcast address' : `beyond the ${span.end} leases the gateway hands out`} of ${poolText(pool)}`);
  }
  return { kind: 'exact', lease, label: e.value };
}

/** ipv4-network (+ ipv4-netmask) → its lease range; undefined when not set, or not complete and `partial`. */
function rangeOf(c: SupConfig, pool: IpPool, partial: boolean): LeaseRequest | undefined {
  const net = c.ipv4Network;
  const mask = c.ipv4Netmask;
  if (!net) {
    if (mask && !partial) throw fail(mask.where, 'ipv4-netmask', 'given without ipv4-network (in the group\'s or the user\'s file)');
    return undefined;
  }
  // A bare address may take its netmask from the other file: that is only known at login.
  if (partial && !net.value.includes('/') && !mask) return undefined;
  let p;
  try {
    p = ipv4NetworkOf(net.value, mask?.value, net.where);
  } catch (e) {
    if (e instanceof Ipv4NetworkError) {
      const at = e.key === 'ipv4-netmask' && mask ? mask : net;
      throw fail(at.where, e.key, e.message);
    }
    throw e;
  }
  const text = `${formatAddress(p.words, FAMILY_V4)}/${p.length}`;
  const main = pool.ipv4Network;
  if (!main) throw noIpv4(net.where, 'ipv4-network');
  const first = pool.leaseOfIpv4(p.words[3]!);
  if (p.length < main.prefix || first === undefined) {
    throw fail(net.where, 'ipv4-network', `${text} is not inside the gateway's ipv4-network ${poolText(pool)}; a group's pool must be a part of it`);
  }
  const end = first + 2 ** (32 - p.length);
  const span = pool.clientSpan;
  if (Math.min(end, span.end) <= Math.max(first, span.first)) {
    throw fail(net.where, 'ipv4-network', `${text} holds no address a client may get (the network, the gateway's own and the broadcast address of ${poolText(pool)} are never given out${pool.capacity < 2 ** (32 - main.prefix) ? `, nor leases beyond the first ${pool.capacity}` : ''})`);
  }
  return { kind: 'range', first, end, label: text };
}

/**
 * Where a session with this per-user/group configuration takes its lease
 * from: explicit-ipv4 before ipv4-network (both are checked), undefined for
 * the whole pool. Throws WG_CONFIG_INVALID naming the file and line.
 */
export function leaseRequestOf(c: SupConfig, pool: IpPool): LeaseRequest | undefined {
  const range = rangeOf(c, pool, false);
  return explicitLease(c, pool) ?? range;
}

/** Everything a file alone says about addresses, checked (what needs the other file waits for the login). */
function checkOne(c: SupConfig, pool: IpPool): void {
  rangeOf(c, pool, true);
  explicitLease(c, pool);
}

function filesOf(dir: string | undefined): string[] {
  if (dir === undefined) return [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return []; // no directory yet: nothing to check, and logins find no file either
  }
  return names.sort().map((n) => path.join(dir, n));
}

/**
 * Reads every per-user and per-group file (and the default files) and checks
 * their address keys against the gateway's pool, at start and at reload.
 * Throws WG_CONFIG_INVALID listing the files and lines at fault.
 */
export function checkSupConfigFiles(dirs: SupConfigDirs, pool: IpPool): void {
  // Logins read no file at all without one of the directories (not even the defaults).
  if (dirs.perUser === undefined && dirs.perGroup === undefined) return;
  const files = [...filesOf(dirs.perGroup), ...filesOf(dirs.perUser), ...[dirs.defaultGroup, dirs.defaultUser].filter((f): f is string => f !== undefined)];
  const problems: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      if (!fs.statSync(file).isFile()) continue;
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue; // unreadable now: a login reading it later says so
    }
    const r = parseSupConfig(text, file);
    problems.push(...r.errors);
    try {
      checkOne(r.config, pool);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  if (problems.length === 0) return;
  const more = problems.length > MAX_LISTED_ERRORS ? `; and ${problems.length - MAX_LISTED_ERRORS} more` : '';
  throw new WolfguardError(ErrorCodes.CONFIG_INVALID, `per-user/group configuration: ${problems.slice(0, MAX_LISTED_ERRORS).join('; ')}${more}`, { problems: problems.length });
}

/** checkSupConfigFiles for a configuration on its own (`-t`), with the pool the gateway would make of it. */
export function checkSupConfigOf(cfg: GatewayConfig): void {
  const pools: RoutePools = {};
  if (cfg.ipv4Pool) pools.v4 = { network: cfg.ipv4Pool.network, prefix: cfg.ipv4Pool.prefix };
  if (cfg.ipv6Pool) pools.v6 = { network: cfg.ipv6Pool.network, prefix: cfg.ipv6Pool.prefix, subnetPrefix: cfg.ipv6Pool.subnetPrefix };
  checkSupConfigFiles(supDirsOf(cfg), new IpPool(pools));
}
