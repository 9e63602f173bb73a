// Per-user and per-group configuration (ocserv's config-per-user /
// config-per-group directories, src/sup-config/file.c): files named after
// the user or group, in ocserv's `key = value` syntax. The group's file is
// read first, then the user's; repeatable keys add up. Routes and DNS given
// there replace the gateway's (with append-routes the gateway's routes and
// no-routes are added after them), as in ocserv's apply_default_config.
// Keys ocserv allows there that wolfguard does not act on are reported.
//
// ipv4-network / ipv4-netmask / explicit-ipv4 choose where the session's
// address comes from (sup-pool.ts turns them into lease indexes). A mistake
// in them is an error, not a warning: a session must never silently get an
// address outside the range a downstream firewall expects of its group.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tokenizeConfig } from '../config/ocserv-syntax';
import type { GatewayConfig } from '../config/types';
import { FAMILY_V4 } from '../../common/address';
import { netmaskToPrefix, parseAddress, parseNetworkWithLength, parseRoute, ValueError } from '../config/values';

/** A value and the file:line it came from. */
export interface Located<T> {
  value: T;
  where: string;
}

export interface SupConfig {
  routes?: string[];
  noRoutes?: string[];
  dns?: string[];
  /** A `route = default` was given: tunnel everything (an empty include list), whatever other routes say. */
  fullTunnel?: boolean;
  /** ipv4-network as written (a bare address takes its length from ipv4-netmask, possibly of the other file). */
  ipv4Network?: Located<string>;
  /** ipv4-netmask as a prefix length. */
  ipv4Netmask?: Located<number>;
  /** explicit-ipv4, normalized. */
  explicitIpv4?: Located<string>;
}

export interface SupConfigResult {
  config: SupConfig;
  warnings: string[];
  /** Mistakes in the address keys: the login is refused rather than given some other address. */
  errors: string[];
}

/**
 * ocserv's IPv6 pool keys. One lease gives a session both its addresses, so
 * the IPv6 address follows from the IPv4 one a group's pool chose.
 */
const IPV6_POOL_KEYS = new Set(['ipv6-network', 'ipv6-prefix', 'explicit-ipv6', 'ipv6-subnet-prefix']);

/** Keys ocserv accepts in these files and wolfguard does not act on (yet). */
const KNOWN_IGNORED = new Set([
  'no-udp', 'restrict-user-to-routes', 'tunnel_all_dns', 'tunnel-all-dns', 'deny-roaming', 'split-dns', 'iroute', 'nbns', 'ipv4-nbns', 'ipv6-nbns',
  'cgroup', 'hostname',
  'rx-data-per-sec', 'tx-data-per-sec', 'stats-report-time', 'session-timeout', 'mtu', 'dpd', 'mobile-dpd', 'idle-timeout', 'mobile-idle-timeout',
  'keepalive', 'max-same-clients', 'net-priority', 'user-profile', 'restrict-user-to-ports',
]);

/** Parses one file's text into `into` (so a group's and a user's file add up). */
export function parseSupConfig(text: string, source: string, into: SupConfig = {}, warnings: string[] = [], errors: string[] = []): SupConfigResult {
  let tokens;
  try {
    tokens = tokenizeConfig(text);
  } catch (e) {
    warnings.push(`${source}: ${(e as Error).message}; file ignored`);
    return { config: into, warnings, errors };
  }
  for (const t of tokens) {
    const where = `${source}:${t.line}`;
    try {
      switch (t.key) {
        case 'route': {
          const r = parseRoute(t.value);
          into.routes ??= [];
          if (r === 'default') {
            // ocserv: a default route means "tunnel everything", which is an empty include list.
            into.routes.length = 0;
            into.fullTunnel = true;
          } else if (!into.fullTunnel && !into.routes.includes(r)) into.routes.push(r);
          break;
        }
        case 'no-route': {
          const r = parseRoute(t.value);
          if (r === 'default') throw new Error('a default no-route would exclude everything');
          into.noRoutes ??= [];
          if (!into.noRoutes.includes(r)) into.noRoutes.push(r);
          break;
        }
        case 'dns':
        case 'ipv4-dns':
        case 'ipv6-dns': {
          const a = parseAddress(t.value);
          into.dns ??= [];
          if (!into.dns.includes(a)) into.dns.push(a);
          break;
        }
        case 'ipv4-network':
          if (t.value.includes('/')) {
            if (parseNetworkWithLength(t.value).family !== FAMILY_V4) throw new ValueError('not an IPv4 network');
          } else ipv4Address(t.value);
          into.ipv4Network = { value: t.value, where };
          break;
        case 'ipv4-netmask':
          into.ipv4Netmask = { value: netmaskToPrefix(t.value), where };
          break;
        case 'explicit-ipv4':
          into.explicitIpv4 = { value: ipv4Address(t.value), where };
          break;
        default:
          if (IPV6_POOL_KEYS.has(t.key)) warnings.push(`${where}: ${t.key} is not supported per user/group: the IPv6 address follows from the IPv4 lease (set ipv4-network or explicit-ipv4 instead); ignored`);
          else warnings.push(KNOWN_IGNORED.has(t.key) ? `${where}: ${t.key} is not implemented per user/group; ignored` : `${where}: unknown key ${t.key}; ignored`);
      }
    } catch (e) {
      if (t.key === 'ipv4-network' || t.key === 'ipv4-netmask' || t.key === 'explicit-ipv4') errors.push(`${where}: ${t.key}: ${(e as Error).message}`);
      else warnings.push(`${where}: ${t.key}: ${(e as Error).message}; ignored`);
    }
  }
  return { config: into, warnings, errors };
}

function ipv4Address(value: string): string {
  const a = parseAddress(value);
  if (a.includes(':')) throw new ValueError(`"${value}" is not an IPv4 address`);
  return a;
}

export interface SupConfigDirs {
  perUser?: string;
  perGroup?: string;
  /** default-user-config / default-group-config: used when no file matches. */
  defaultUser?: string;
  defaultGroup?: string;
}

/** config-per-user / config-per-group and their default files. */
export function supDirsOf(cfg: GatewayConfig): SupConfigDirs {
  const dirs: SupConfigDirs = {};
  if (cfg.configPerUser !== undefined) dirs.perUser = cfg.configPerUser;
  if (cfg.configPerGroup !== undefined) dirs.perGroup = cfg.configPerGroup;
  if (cfg.defaultUserConfig !== undefined) dirs.defaultUser = cfg.defaultUserConfig;
  if (cfg.defaultGroupConfig !== undefined) dirs.defaultGroup = cfg.defaultGroupConfig;
  return dirs;
}

/** A file name is the user or group name itself; names that would leave the directory are never read. */
function safeName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');
}

function readIf(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Reads the group's then the user's file (or the defaults), as ocserv does at login. */
export function loadSupConfig(dirs: SupConfigDirs, user: string, group: string | undefined): SupConfigResult {
  const config: SupConfig = {};
  const warnings: string[] = [];
  const errors: string[] = [];
  const one = (dir: string | undefined, name: string | undefined, fallback: string | undefined): void => {
    if (dir === undefined) return;
    let file = name !== undefined && safeName(name) ? path.join(dir, name) : undefined;
    let text = file === undefined ? undefined : readIf(file);
    if (text === undefined && fallback !== undefined) {
      file = fallback;
      text = readIf(fallback);
    }
    if (text !== undefined && file !== undefined) parseSupConfig(text, file, config, warnings, errors);
  };
  one(dirs.perGroup, group, dirs.defaultGroup);
  one(dirs.perUser, user, dirs.defaultUser);
  return { config, warnings, errors };
}

/** The routes and DNS a session gets: its own where set, the gateway's otherwise. */
export function effectiveNetwork(sup: SupConfig, global: { routes: string[]; noRoutes: string[]; dns: string[] }, appendRoutes: boolean): { routes: string[]; noRoutes: string[]; dns: string[] } {
  const routes = sup.routes === undefined ? [...global.routes] : appendRoutes ? uniq([...sup.routes, ...global.routes]) : [...sup.routes];
  const noRoutes = sup.noRoutes === undefined ? [...global.noRoutes] : appendRoutes ? uniq([...sup.noRoutes, ...global.noRoutes]) : [...sup.noRoutes];
  return { routes, noRoutes, dns: sup.dns === undefined ? [...global.dns] : [...sup.dns] };
}

function uniq(xs: string[]): string[] {
  return [...new Set(xs)];
}
