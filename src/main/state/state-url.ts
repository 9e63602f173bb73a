// The `state` configuration value: where the shared state lives. Pure.
//
//   local                                    in-process (the default)
//   redis://[user:pass@]host[:port][/db]     one Redis server (rediss:// for TLS)
//   redis+unix:///path/to/redis.sock[?db=N]  one Redis server on a unix socket
//   redis-sentinel://[:pass@]h1:p1,h2:p2/master[/db]
//                                            Sentinel: the master named "master"
//   redis-cluster://[:pass@]h1:p1,h2:p2      Redis Cluster seed nodes
import { ErrorCodes, WolfguardError } from '../../common/errors';

export const DEFAULT_REDIS_PORT = 6379;
export const DEFAULT_SENTINEL_PORT = 26379;
/** Redis has 16 databases unless configured otherwise; more is refused anyway by the server. */
const MAX_DB = 1 << 16;
const MAX_URL_CHARS = 4096;

export interface HostPort {
  host: string;
  port: number;
}

export type StateSpec =
  | { kind: 'local' }
  | { kind: 'redis'; url: string; tls: boolean; host: string; port: number; db: number; username?: string; password?: string }
  | { kind: 'redis-unix'; path: string; db: number; username?: string; password?: string }
  | { kind: 'redis-sentinel'; sentinels: HostPort[]; name: string; db: number; password?: string }
  | { kind: 'redis-cluster'; nodes: HostPort[]; password?: string };

function bad(text: string, why: string): WolfguardError {
  return new WolfguardError(ErrorCodes.CONFIG_INVALID, `state = ${JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}...` : text)}: ${why}`);
}

function parseDb(text: string, raw: string): number {
  if (!/^\d{1,5}$/.test(raw)) throw bad(text, `database must be a number, got ${JSON.stringify(raw)}`);
  const n = Number(raw);
  if (n >= MAX_DB) throw bad(text, `database ${n} is out of range`);
  return n;
}

function decode(text: string, part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw bad(text, 'bad percent-encoding in the credentials');
  }
}

/** "h1:p1,[::1]:p2" → host/port list. */
function parseHosts(text: string, list: string, defaultPort: number): HostPort[] {
  const out: HostPort[] = [];
  for (const item of list.split(',')) {
    if (item === '') throw bad(text, 'empty host in the list');
    let host: string;
    let portText: string | undefined;
    const v6 = /^\[([0-9A-Fa-f:.]+)\](?::(.*))?$/.exec(item);
    if (v6) {
      host = v6[1]!;
      portText = v6[2];
    } else {
      const i = item.lastIndexOf(':');
      host = i < 0 ? item : item.slice(0, i);
      portText = i < 0 ? undefined : item.slice(i + 1);
      if (!/^[A-Za-z0-9.-]+$/.test(host)) throw bad(text, `bad host ${JSON.stringify(host)}`);
    }
    let port = defaultPort;
    if (portText !== undefined) {
      if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) throw bad(text, `bad port ${JSON.stringify(portText)}`);
      port = Number(portText);
    }
    out.push({ host, port });
  }
  return out;
}

/** Splits "[user[:pass]@]rest". */
function credentials(text: string, rest: string): { user?: string; password?: string; rest: string } {
  const at = rest.lastIndexOf('@');
  if (at < 0) return { rest };
  const cred = rest.slice(0, at);
  const colon = cred.indexOf(':');
  const out: { user?: string; password?: string; rest: string } = { rest: rest.slice(at + 1) };
  const user = decode(text, colon < 0 ? cred : cred.slice(0, colon));
  if (user !== '') out.user = user;
  if (colon >= 0) out.password = decode(text, cred.slice(colon + 1));
  return out;
}

export function parseStateUrl(text: string): StateSpec {
  const t = text.trim();
  if (t.length > MAX_URL_CHARS) throw bad(t, 'too long');
  if (t === '' || t === 'local') return { kind: 'local' };
  const m = /^([a-z+-]+):\/\/(.*)$/.exec(t);
  if (!m) throw bad(t, 'expected "local" or a redis://, rediss://, redis+unix://, redis-sentinel:// or redis-cluster:// URL');
  const scheme = m[1]!;
  const body = m[2]!;
  if (/[\s\0]/.test(body)) throw bad(t, 'white space or NUL inside the URL');
  switch (scheme) {
    case 'redis':
    case 'rediss': {
      const c = credentials(t, body);
      const slash = c.rest.indexOf('/');
      const hostPart = slash < 0 ? c.rest : c.rest.slice(0, slash);
      const dbPart = slash < 0 ? '' : c.rest.slice(slash + 1);
      const hosts = parseHosts(t, hostPart, DEFAULT_REDIS_PORT);
      if (hosts.length !== 1) throw bad(t, 'one host only (redis-cluster:// or redis-sentinel:// for several)');
      const spec: StateSpec = { kind: 'redis', url: t, tls: scheme === 'rediss', host: hosts[0]!.host, port: hosts[0]!.port, db: dbPart === '' ? 0 : parseDb(t, dbPart) };
      if (c.user !== undefined) spec.username = c.user;
      if (c.password !== undefined) spec.password = c.password;
      return spec;
    }
    case 'redis+unix': {
      const c = credentials(t, body);
      const q = c.rest.indexOf('?');
      const p = q < 0 ? c.rest : c.rest.slice(0, q);
      const query = q < 0 ? '' : c.rest.slice(q + 1);
      if (!p.startsWith('/')) throw bad(t, 'the socket path must be absolute (redis+unix:///path/to/redis.sock)');
      let db = 0;
      if (query !== '') {
        const dm = /^db=(.*)$/.exec(query);
        if (!dm) throw bad(t, 'the only query parameter is db=N');
        db = parseDb(t, dm[1]!);
      }
      const spec: StateSpec = { kind: 'redis-unix', path: p, db };
      if (c.user !== undefined) spec.username = c.user;
      if (c.password !== undefined) spec.password = c.password;
      return spec;
    }
    case 'redis-sentinel': {
      const c = credentials(t, body);
      const parts = c.rest.split('/');
      if (parts.length < 2 || parts.length > 3 || parts[1] === '') throw bad(t, 'expected redis-sentinel://host:port[,host:port...]/master-name[/db]');
      if (!/^[A-Za-z0-9._-]+$/.test(parts[1]!)) throw bad(t, `bad master name ${JSON.stringify(parts[1])}`);
      const spec: StateSpec = { kind: 'redis-sentinel', sentinels: parseHosts(t, parts[0]!, DEFAULT_SENTINEL_PORT), name: parts[1]!, db: parts.length === 3 && parts[2] !== '' ? parseDb(t, parts[2]!) : 0 };
      if (c.password !== undefined) spec.password = c.password;
      return spec;
    }
    case 'redis-cluster': {
      const c = credentials(t, body);
      const hostPart = c.rest.endsWith('/') ? c.rest.slice(0, -1) : c.rest;
      if (hostPart.includes('/')) throw bad(t, 'Redis Cluster has no databases: no /db');
      const spec: StateSpec = { kind: 'redis-cluster', nodes: parseHosts(t, hostPart, DEFAULT_REDIS_PORT) };
      if (c.password !== undefined) spec.password = c.password;
      return spec;
    }
    default:
      throw bad(t, `unknown scheme ${scheme}://`);
  }
}

/** The URL without its password, for logs. */
export function describeState(spec: StateSpec): string {
  switch (spec.kind) {
    case 'local':
      return 'local';
    case 'redis':
      return `${spec.tls ? 'rediss' : 'redis'}://${spec.host.includes(':') ? `[${spec.host}]` : spec.host}:${spec.port}/${spec.db}`;
    case 'redis-unix':
      return `redis+unix://${spec.path}?db=${spec.db}`;
    case 'redis-sentinel':
      return `redis-sentinel://${spec.sentinels.map((h) => `${h.host}:${h.port}`).join(',')}/${spec.name}/${spec.db}`;
    case 'redis-cluster':
      return `redis-cluster://${spec.nodes.map((h) => `${h.host}:${h.port}`).join(',')}`;
  }
}
