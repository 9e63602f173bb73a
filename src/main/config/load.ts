// ocserv-syntax configuration text → validated GatewayConfig. parseConfig is
// pure; loadConfigFile reads the file first. Every error names the key and the
// line; warnings (ignored ocserv options, overridden repeats, ignored virtual
// hosts) are returned for the caller to print.
import { parseListen } from '../listen-address';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FAMILY_V4, FAMILY_V6, formatAddress } from '../../common/address';
import { LIMIT_KEYS, LIMIT_RANGES } from '../limits';
import { ErrorCodes, WolfguardError, isWolfguardError } from '../../common/errors';
import { AuthSpecError, parseAuthSpec } from './auth-spec';
import { parseCertOid } from '../auth/cert-backend';
import { parseStateUrl } from '../state/state-url';
import { isValidNodeId } from '../state/store';
import { IGNORED_OCSERV_KEYS, IMPLEMENTED_KEYS, suggestKey } from './ocserv-keys';
import { tokenizeConfig, type ConfigToken } from './ocserv-syntax';
import type { AuthMethod, GatewayConfig, Ipv4Pool, Ipv6Pool } from './types';
import { Ipv4NetworkError, MAX_PORT, ValueError, clip, ipv4NetworkOf, netmaskToPrefix, parseAddress, parseBool, parseNetworkWithLength, parsePort, parseRoute, parseUint } from './values';

/**
 * Defaults, as ocserv's apply_default_conf() and src/vpn.h (1.3.x) set them.
 * tcp-port and device are mandatory in ocserv; wolfguard defaults them.
 */
export const CONFIG_DEFAULTS = {
  tcpPort: 443,
  dpd: 90, // DEFAULT_DPD_TIME
  mobileDpd: 1800, // DEFAULT_MOBILE_DPD_TIME
  keepalive: 32400, // DEFAULT_KEEPALIVE_TIME
  cookieTimeout: 300, // DEFAULT_COOKIE_RECON_TIMEOUT
  authTimeout: 240, // DEFAULT_AUTH_TIMEOUT_SECS
  rekeyTime: 172800, // DEFAULT_REKEY_TIME
  // ocserv leaves rekey_method unset (0) and then announces "new-tunnel".
  rekeyMethod: 'new-tunnel' as const,
  ipv6SubnetPrefix: 128,
  device: 'wolfguard0',
  // ocserv's OCCTL_UNIX_SOCKET, used when use-occtl = true names no socket file.
  occtlSocket: '/var/run/occtl.socket',
} as const;

/** ocserv's MAX_BANNER_SIZE. */
export const MAX_BANNER_CHARS = 256;
/** IFNAMSIZ - 1. */
export const MAX_DEVICE_CHARS = 15;
/** valid_ipv6_prefix() in ocserv's src/ip-util.h: 11..128. */
export const MIN_IPV6_PREFIX = 11;
export const MIN_MTU = 576;
const IPV6_MIN_MTU = 1280;

export interface ParseOptions {
  /** Shown in messages and stored as config.source (a file path, or "<embedded default>"). */
  source: string;
  /** Directory relative file paths are resolved against (the config file's). */
  baseDir: string;
}

export interface LoadedConfig {
  config: GatewayConfig;
  warnings: string[];
}

const SINGLE_KEYS_WITH_ERROR_ON_REPEAT = new Set(['server-cert', 'server-key']);
const MULTI_KEYS = new Set(['auth', 'enable-auth', 'route', 'no-route', 'dns', 'ipv4-dns', 'ipv6-dns', 'select-group']);

class Reader {
  readonly warnings: string[] = [];
  /** Last token of each single-valued key; all tokens of multi-valued ones. */
  readonly single = new Map<string, ConfigToken>();
  readonly multi = new Map<string, ConfigToken[]>();
  readonly ignored: string[] = [];

  constructor(readonly opts: ParseOptions) {}

  where(t: ConfigToken): string {
    return `${this.opts.source} line ${t.line}`;
  }

  fail(t: ConfigToken, why: string, code: (typeof ErrorCodes)[keyof typeof ErrorCodes] = ErrorCodes.CONFIG_INVALID): WolfguardError {
    const hint = t.continued ? ` (the line is indented, so it is read as one more value of "${t.key}")` : '';
    return new WolfguardError(code, `${this.where(t)}: ${t.key}: ${why}${hint}`, { source: this.opts.source, key: t.key, line: t.line });
  }

  /** Runs a value parser, turning its complaint into an error naming key and line. */
  value<T>(t: ConfigToken, parse: (v: string) => T): T {
    try {
      return parse(t.value);
    } catch (e) {
      if (e instanceof ValueError || e instanceof AuthSpecError) throw this.fail(t, e.message);
      if (isWolfguardError(e)) throw this.fail(t, e.message);
      throw e;
    }
  }

  filePath(t: ConfigToken, p: string = t.value): string {
    if (p.includes('\0')) throw this.fail(t, 'file name contains a NUL character');
    return path.resolve(this.opts.baseDir, p);
  }

  get(key: string): ConfigToken | undefined {
    return this.single.get(key);
  }

  all(key: string): ConfigToken[] {
    return this.multi.get(key) ?? [];
  }

  collect(tokens: ConfigToken[]): void {
    const sectionsWarned = new Set<string>();
    const ignoredWarned = new Set<string>();
    for (const t of tokens) {
      if (t.section !== undefined) {
        if (!sectionsWarned.has(t.section)) {
          sectionsWarned.add(t.section);
          const what = t.section.startsWith('vhost:') ? 'wolfguard has no virtual hosts' : 'unknown section';
          this.warnings.push(`${this.where(t)}: section [${t.section}] ignored (${what})`);
        }
        continue;
      }
      if (IMPLEMENTED_KEYS.has(t.key)) {
        if (t.value === '') {
          // ocserv's sanitize_config_value drops such a line.
          this.warnings.push(`${this.where(t)}: key ${t.key} has an empty value; ignored`);
          continue;
        }
        if (MULTI_KEYS.has(t.key)) {
          const list = this.multi.get(t.key) ?? [];
          list.push(t);
          this.multi.set(t.key, list);
          continue;
        }
        const prev = this.single.get(t.key);
        if (prev) {
          if (SINGLE_KEYS_WITH_ERROR_ON_REPEAT.has(t.key)) {
            throw this.fail(t, `given again (first on line ${prev.line}); wolfguard serves one certificate and key`);
          }
          this.warnings.push(`${this.where(t)}: key ${t.key} repeated; this value overrides line ${prev.line}`);
        }
        this.single.set(t.key, t);
        continue;
      }
      if (IGNORED_OCSERV_KEYS.has(t.key)) {
        if (!ignoredWarned.has(t.key)) {
          ignoredWarned.add(t.key);
          this.ignored.push(t.key);
          this.warnings.push(`${this.where(t)}: key ${t.key} is an ocserv option wolfguard does not implement; ignored`);
        }
        continue;
      }
      const guess = suggestKey(t.key);
      const why = guess ? `unknown key; did you mean "${guess}"?` : 'unknown key';
      throw this.fail(t, why, ErrorCodes.CONFIG_UNKNOWN_KEY);
    }
  }
}

function missing(r: Reader, key: string, what: string): WolfguardError {
  return new WolfguardError(ErrorCodes.CONFIG_INVALID, `${r.opts.source}: ${what}`, { source: r.opts.source, key });
}

function optionalUint(r: Reader, key: string, fallback: number, min = 0, max?: number): number {
  const t = r.get(key);
  return t ? r.value(t, (v) => parseUint(v, min, max)) : fallback;
}

function optionalBool(r: Reader, key: string, fallback: boolean): boolean {
  const t = r.get(key);
  return t ? r.value(t, parseBool) : fallback;
}

/** 0 means "off" for these ocserv timeouts; unset is off too. */
function optionalTimeout(r: Reader, key: string): number | null | undefined {
  const t = r.get(key);
  if (!t) return undefined;
  const n = r.value(t, (v) => parseUint(v));
  return n === 0 ? null : n;
}

function readIpv4Pool(r: Reader): Ipv4Pool | null {
  const net = r.get('ipv4-network');
  const mask = r.get('ipv4-netmask');
  if (!net) {
    if (mask) r.warnings.push(`${r.where(mask)}: ipv4-netmask without ipv4-network; ignored`);
    return null;
  }
  const maskLen = mask ? r.value(mask, netmaskToPrefix) : undefined;
  let parsed;
  try {
    parsed = ipv4NetworkOf(net.value, maskLen, `line ${net.line}`);
  } catch (e) {
    if (e instanceof Ipv4NetworkError) throw r.fail(e.key === 'ipv4-netmask' && mask ? mask : net, e.message);
    throw e;
  }
  return { network: formatAddress(parsed.words, FAMILY_V4), prefix: parsed.length };
}

function readIpv6Pool(r: Reader): Ipv6Pool | null {
  const net = r.get('ipv6-network');
  const pfx = r.get('ipv6-prefix');
  const sub = r.get('ipv6-subnet-prefix');
  if (!net) {
    for (const t of [pfx, sub]) if (t) r.warnings.push(`${r.where(t)}: ${t.key} without ipv6-network; ignored`);
    return null;
  }
  const pfxLen = pfx ? r.value(pfx, (v) => parseUint(v, MIN_IPV6_PREFIX, 128)) : undefined;
  let text = net.value;
  if (!text.includes('/')) {
    if (pfxLen === undefined) throw r.fail(net, 'no prefix: write ipv6-network = ADDRESS/PREFIX');
    text = `${text}/${pfxLen}`;
  }
  const parsed = r.value({ ...net, value: text }, parseNetworkWithLength);
  if (parsed.family !== FAMILY_V6) throw r.fail(net, `"${clip(net.value)}" is not an IPv6 network`);
  if (parsed.length < MIN_IPV6_PREFIX) throw r.fail(net, `prefix /${parsed.length} is shorter than ocserv allows (/${MIN_IPV6_PREFIX}..128)`);
  if (pfx && pfxLen !== undefined && net.value.includes('/') && pfxLen !== parsed.length) {
    throw r.fail(pfx, `/${pfxLen} contradicts ipv6-network ${net.value} on line ${net.line}`);
  }
  let subnetPrefix: number = CONFIG_DEFAULTS.ipv6SubnetPrefix;
  if (sub) {
    const n = r.value(sub, (v) => parseUint(v, 0, 128));
    // ocserv ignores ipv6-subnet-prefix = 0.
    if (n !== 0) {
      if (n < MIN_IPV6_PREFIX) throw r.fail(sub, `${n} is outside ${MIN_IPV6_PREFIX}..128`);
      subnetPrefix = n;
    }
  }
  if (parsed.length >= subnetPrefix) {
    const at = sub ?? net;
    throw r.fail(at, `the per-client prefix /${subnetPrefix} must be longer than the network's /${parsed.length}`);
  }
  return { network: formatAddress(parsed.words, FAMILY_V6), prefix: parsed.length, subnetPrefix };
}

function readRoutes(r: Reader): { routes: string[]; noRoutes: string[] } {
  const routes: string[] = [];
  let fullTunnel: ConfigToken | undefined;
  for (const t of r.all('route')) {
    const route = r.value(t, parseRoute);
    if (route === 'default') fullTunnel ??= t;
    else if (!routes.includes(route)) routes.push(route);
  }
  if (fullTunnel && routes.length > 0) {
    // As ocserv's check_cfg: a default route anywhere drops every route.
    r.warnings.push(`${r.where(fullTunnel)}: route = default tunnels everything; the other ${routes.length} route line(s) are ignored`);
  }
  const noRoutes: string[] = [];
  for (const t of r.all('no-route')) {
    const route = r.value(t, parseRoute);
    if (route === 'default') throw r.fail(t, 'a default no-route would exclude everything');
    if (!noRoutes.includes(route)) noRoutes.push(route);
  }
  return { routes: fullTunnel ? [] : routes, noRoutes };
}

function readDns(r: Reader): string[] {
  const tokens = [...r.all('dns'), ...r.all('ipv4-dns'), ...r.all('ipv6-dns')].sort((a, b) => a.line - b.line);
  const out: string[] = [];
  for (const t of tokens) {
    if (t.value === 'local') throw r.fail(t, 'the "local" DNS keyword is no longer supported (as in ocserv)');
    const a = r.value(t, parseAddress);
    if (!out.includes(a)) out.push(a);
  }
  return out;
}

function readAuth(r: Reader): AuthMethod[] {
  const out: AuthMethod[] = [];
  for (const t of r.all('auth')) {
    const m = r.value(t, parseAuthSpec);
    if (out.some((o) => o.kind === m.kind)) throw r.fail(t, `a second ${m.kind} method (ocserv refuses mixing methods of one type)`);
    if (m.kind === 'plain') {
      const passwd = r.filePath(t, m.passwd);
      out.push(m.otp === undefined ? { kind: 'plain', passwd } : { kind: 'plain', passwd, otp: r.filePath(t, m.otp) });
    } else {
      out.push(m);
    }
  }
  return out;
}

/** select-group and per-user/group configuration (ocserv's spelling; `select-group = name[Friendly name]`). */
function readGroupKeys(r: Reader, config: GatewayConfig): void {
  const groups: Array<{ value: string; label: string }> = [];
  for (const t of r.all('select-group')) {
    const g = r.value(t, (v) => {
      const m = /^([^[\]]+?)\s*(?:\[([^\]]*)\])?$/.exec(v);
      if (!m || /[\s,]/.test(m[1]!)) throw new ValueError(`"${clip(v)}" is not a group name, optionally followed by [friendly name]`);
      return { value: m[1]!, label: m[2]?.trim() || m[1]! };
    });
    if (!groups.some((x) => x.value === g.value)) groups.push(g);
  }
  if (groups.length > 0) config.selectGroups = groups;
  const def = r.get('default-select-group');
  if (def) config.defaultSelectGroup = def.value;
  const paths = [
    ['config-per-user', 'configPerUser'],
    ['config-per-group', 'configPerGroup'],
    ['default-user-config', 'defaultUserConfig'],
    ['default-group-config', 'defaultGroupConfig'],
  ] as const;
  for (const [key, field] of paths) {
    const t = r.get(key);
    if (t) config[field] = r.filePath(t);
  }
  const app = r.get('append-routes');
  if (app) config.appendRoutes = r.value(app, parseBool);
}

function readDevice(r: Reader): string {
  const t = r.get('device');
  if (!t) return CONFIG_DEFAULTS.device;
  return r.value(t, (v) => {
    if (v.length > MAX_DEVICE_CHARS) throw new ValueError(`"${clip(v)}" is longer than ${MAX_DEVICE_CHARS} characters`);
    if (v === '.' || v === '..' || /[\s/:]/.test(v)) throw new ValueError(`"${clip(v)}" is not a valid interface name`);
    return v;
  });
}

function readRekeyMethod(r: Reader): GatewayConfig['rekeyMethod'] {
  const t = r.get('rekey-method');
  if (!t) return CONFIG_DEFAULTS.rekeyMethod;
  return r.value(t, (v) => {
    if (v === 'ssl' || v === 'new-tunnel' || v === 'none') return v;
    throw new ValueError(`unknown rekey method "${clip(v)}" (ssl, new-tunnel or none)`);
  });
}

function readUdpPort(r: Reader): number | null {
  const noUdp = r.get('no-udp');
  if (noUdp && r.value(noUdp, parseBool)) return null;
  const t = r.get('udp-port');
  if (!t) return null;
  // ocserv: udp-port = 0 (or unset) means no DTLS.
  const n = r.value(t, (v) => parseUint(v, 0, MAX_PORT));
  return n === 0 ? null : n;
}

function readAdminSocket(r: Reader): string | undefined {
  const use = r.get('use-occtl');
  const file = r.get('occtl-socket-file');
  const enabled = use ? r.value(use, parseBool) : undefined;
  if (enabled === false) return undefined;
  if (file) return r.filePath(file);
  return enabled ? CONFIG_DEFAULTS.occtlSocket : undefined;
}

function readString(r: Reader, key: string): string | undefined {
  return r.get(key)?.value;
}

export function parseConfig(text: string, opts: ParseOptions): LoadedConfig {
  const r = new Reader(opts);
  let tokens: ConfigToken[];
  try {
    tokens = tokenizeConfig(text);
  } catch (e) {
    if (isWolfguardError(e)) throw new WolfguardError(e.code, `${opts.source} ${e.message}`, { ...e.details, source: opts.source });
    throw e;
  }
  r.collect(tokens);

  const auth = readAuth(r);
  if (auth.length === 0) throw missing(r, 'auth', 'no auth given (e.g. auth = "plain[passwd=/etc/ocserv/ocpasswd]")');
  const certT = r.get('server-cert');
  const keyT = r.get('server-key');
  if (!certT) throw missing(r, 'server-cert', 'server-cert is required (the server certificate, PEM)');
  if (!keyT) throw missing(r, 'server-key', 'server-key is required (the private key of server-cert, PEM)');
  const caT = r.get('ca-cert');
  if (auth.some((a) => a.kind === 'certificate') && !caT) {
    throw r.fail(r.all('auth').find((t) => /^\s*certificate/i.test(t.value)) ?? r.all('auth')[0], 'certificate authentication needs ca-cert');
  }
  const enableAuth = readEnableAuth(r);
  if (enableAuth.length > 0 && !caT) throw r.fail(r.all('enable-auth')[0]!, 'certificate authentication needs ca-cert');
  const ipv4Pool = readIpv4Pool(r);
  const ipv6Pool = readIpv6Pool(r);
  if (!ipv4Pool && !ipv6Pool) throw missing(r, 'ipv4-network', 'no address pool: set ipv4-network (and/or ipv6-network)');

  const dpd = optionalUint(r, 'dpd', CONFIG_DEFAULTS.dpd);
  const mobileDpdRaw = optionalUint(r, 'mobile-dpd', CONFIG_DEFAULTS.mobileDpd);
  const idle = optionalTimeout(r, 'idle-timeout');
  const mobileIdle = optionalTimeout(r, 'mobile-idle-timeout');

  const mtuT = r.get('mtu');
  let mtu: number | null = null;
  if (mtuT) {
    const n = r.value(mtuT, (v) => parseUint(v, 0, MAX_PORT));
    if (n !== 0 && n < MIN_MTU) throw r.fail(mtuT, `${n} is below ${MIN_MTU}`);
    if (n !== 0 && ipv6Pool && n < IPV6_MIN_MTU) r.warnings.push(`${r.where(mtuT)}: mtu ${n} is below IPv6's minimum of ${IPV6_MIN_MTU}; IPv6 will not work in the tunnel`);
    mtu = n === 0 ? null : n;
  }

  const bannerT = r.get('banner');
  if (bannerT && bannerT.value.length > MAX_BANNER_CHARS) throw r.fail(bannerT, `longer than ${MAX_BANNER_CHARS} characters (ocserv's limit)`);
  const ciphersT = r.get('ciphers');

  const { routes, noRoutes } = readRoutes(r);
  const tcpT = r.get('tcp-port');
  const config: GatewayConfig = {
    source: opts.source,
    tcpPort: tcpT ? r.value(tcpT, parsePort) : CONFIG_DEFAULTS.tcpPort,
    udpPort: readUdpPort(r),
    dtlsPsk: optionalBool(r, 'dtls-psk', true),
    dtlsLegacy: optionalBool(r, 'dtls-legacy', true),
    matchTlsDtlsCiphers: optionalBool(r, 'match-tls-dtls-ciphers', false),
    serverCert: r.filePath(certT),
    serverKey: r.filePath(keyT),
    auth,
    ipv4Pool,
    ipv6Pool,
    routes,
    noRoutes,
    dns: readDns(r),
    dpd,
    // ocserv's check_cfg: mobile-dpd = 0 falls back to dpd.
    mobileDpd: mobileDpdRaw === 0 ? dpd : mobileDpdRaw,
    keepalive: optionalUint(r, 'keepalive', CONFIG_DEFAULTS.keepalive),
    idleTimeout: idle ?? null,
    // ocserv: an unset mobile-idle-timeout follows idle-timeout.
    mobileIdleTimeout: mobileIdle === undefined ? (idle ?? null) : mobileIdle,
    sessionTimeout: optionalTimeout(r, 'session-timeout') ?? null,
    mtu,
    cookieTimeout: optionalUint(r, 'cookie-timeout', CONFIG_DEFAULTS.cookieTimeout),
    maxClients: optionalUint(r, 'max-clients', 0),
    maxSameClients: optionalUint(r, 'max-same-clients', 0),
    device: readDevice(r),
    rekeyTime: optionalUint(r, 'rekey-time', CONFIG_DEFAULTS.rekeyTime),
    rekeyMethod: readRekeyMethod(r),
    authTimeout: optionalUint(r, 'auth-timeout', CONFIG_DEFAULTS.authTimeout),
    ignoredKeys: r.ignored,
  };
  const listenHost = readString(r, 'listen-host');
  if (listenHost !== undefined) config.listenHost = listenHost;
  if (caT) config.caCert = r.filePath(caT);
  const rulesT = r.get('admission-rules');
  if (rulesT) config.admissionRules = r.filePath(rulesT);
  const geofilterT = r.get('geofilter-file');
  if (geofilterT) config.geofilterFile = r.filePath(geofilterT);
  const geoipT = r.get('geoip-db');
  if (geoipT) config.geoipDb = r.filePath(geoipT);
  const ban: NonNullable<GatewayConfig['banScore']> = {};
  const banKeys = [
    ['max-ban-score', 'maxBanScore'],
    ['ban-reset-time', 'banResetTime'],
    ['min-reauth-time', 'minReauthTime'],
    ['ban-points-wrong-password', 'pointsWrongPassword'],
    ['ban-points-connection', 'pointsConnection'],
    ['ban-points-kkdcp', 'pointsKkdcp'],
  ] as const;
  for (const [key, field] of banKeys) {
    const t = r.get(key);
    if (t) ban[field] = r.value(t, (v) => parseUint(v));
  }
  if (Object.keys(ban).length > 0) config.banScore = ban;
  const domain = readString(r, 'default-domain');
  if (domain !== undefined) config.defaultDomain = domain;
  if (bannerT) config.banner = bannerT.value;
  if (ciphersT) config.ciphers = ciphersT.value;
  const metricsT = r.get('metrics-listen');
  if (metricsT) {
    r.value(metricsT, (v) => parseListen(v, 'the value'));
    config.metricsListen = metricsT.value.trim();
  }
  const adminGroup = readString(r, 'occtl-socket-group');
  if (adminGroup !== undefined && adminGroup.trim() !== '') config.adminSocketGroup = adminGroup.trim();
  const admin = readAdminSocket(r);
  if (admin !== undefined) config.adminSocket = admin;
  readGroupKeys(r, config);
  readHardeningKeys(r, config);
  readCertificateKeys(r, config, enableAuth);
  readClusterKeys(r, config);
  return { config, warnings: r.warnings };
}

/** enable-auth lines: alternatives sufficient on their own; ocserv allows certificate, gssapi and oidc, wolfguard certificate. */
function readEnableAuth(r: Reader): AuthMethod[] {
  const out: AuthMethod[] = [];
  for (const t of r.all('enable-auth')) {
    const m = r.value(t, parseAuthSpec);
    if (m.kind !== 'certificate') throw r.fail(t, `enable-auth supports only "certificate" (a password method belongs in auth)`);
    if (!out.some((o) => o.kind === m.kind)) out.push(m);
  }
  return out;
}

/** crl, cert-user-oid, cert-group-oid (issue 6), and persistent-cookies. */
function readCertificateKeys(r: Reader, config: GatewayConfig, enableAuth: AuthMethod[]): void {
  if (enableAuth.length > 0) config.enableAuth = enableAuth;
  const certLogin = enableAuth.length > 0 || config.auth.some((a) => a.kind === 'certificate');
  // ocserv refuses to start without it; wolfguard reads the CN, as most client certificates carry the user there.
  if (certLogin && !r.get('cert-user-oid')) r.warnings.push(`${config.source}: cert-user-oid is not set; the user name is read from the certificate's CN (2.5.4.3)`);
  const crlT = r.get('crl');
  if (crlT) config.crl = r.filePath(crlT);
  const userT = r.get('cert-user-oid');
  if (userT) {
    config.certUserOid = r.value(userT, (v) => {
      const p = parseCertOid(v, true);
      if (!p.ok) throw new ValueError(p.message);
      return p.oid;
    });
  }
  const groupT = r.get('cert-group-oid');
  if (groupT) {
    config.certGroupOid = r.value(groupT, (v) => {
      const p = parseCertOid(v, false);
      if (!p.ok) throw new ValueError(p.message);
      return p.oid;
    });
  }
  if (r.get('persistent-cookies')) config.persistentCookies = optionalBool(r, 'persistent-cookies', false);
}

/** state and node-id (issue 9): checked now, so a typo in the URL is a start-up error. */
function readClusterKeys(r: Reader, config: GatewayConfig): void {
  const stateT = r.get('state');
  if (stateT) {
    const spec = r.value(stateT, (v) => parseStateUrl(v));
    if (spec.kind !== 'local') config.state = stateT.value.trim();
  }
  const nodeT = r.get('node-id');
  if (nodeT) {
    config.nodeId = r.value(nodeT, (v) => {
      const id = v.trim();
      if (!isValidNodeId(id)) throw new ValueError('expected 1 to 64 letters, digits, ".", "_" or "-"');
      return id;
    });
  }
}

/** Privilege drop, FIPS mode and resource limits (issue 10); ranges in src/main/limits.ts. */
function readHardeningKeys(r: Reader, config: GatewayConfig): void {
  const user = readString(r, 'run-as-user');
  if (user !== undefined && user !== '') config.runAsUser = user;
  const group = readString(r, 'run-as-group');
  if (group !== undefined && group !== '') config.runAsGroup = group;
  if (r.get('fips')) config.fips = optionalBool(r, 'fips', false);
  const limits: NonNullable<GatewayConfig['limits']> = {};
  for (const [key, field] of LIMIT_KEYS) {
    const t = r.get(key);
    if (t) limits[field] = r.value(t, (v) => parseUint(v, LIMIT_RANGES[field].min, LIMIT_RANGES[field].max));
  }
  if (Object.keys(limits).length > 0) config.limits = limits;
}

/** Reads and parses a configuration file; relative paths in it are resolved against its directory. */
export function loadConfigFile(file: string): LoadedConfig {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new WolfguardError(ErrorCodes.FILE_NOT_FOUND, `configuration file ${abs} does not exist`, { file: abs });
    throw new WolfguardError(ErrorCodes.FILE_UNREADABLE, `cannot read configuration file ${abs}: ${err.message}`, { file: abs }, { cause: e });
  }
  return parseConfig(text, { source: abs, baseDir: path.dirname(abs) });
}
