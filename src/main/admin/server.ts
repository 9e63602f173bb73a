// The admin interface: JSON over HTTP on a Unix socket (ocserv's
// occtl-socket-file role), readable only by root (mode 0600), or also by the
// occtl-socket-group (0660). `wolfguard-ctl` and the tests use it; the JSON
// each command answers is listed in docs/wolfguard-ctl.md.
//   GET  /status                          uptime, sessions, shards, traffic totals
//   GET  /sessions                        every session
//   GET  /sessions/<id>                   one session
//   GET  /users/<name>                    the sessions of a user
//   POST /sessions/<id>/disconnect        close its connection; the cookie stays valid
//   POST /sessions/<id>/terminate         end the session; its cookie stops working
//   POST /users/<name>/disconnect|terminate   the same for every session of the user
//   GET  /shards                          each shard's data-plane counters
//   GET  /bans                            banned addresses (manual, blacklist, ban points)
//   POST /bans?prefix=P[&seconds=N]       ban an address or prefix (no seconds: until unbanned)
//   POST /unban?prefix=P                  lift a ban (and the address's ban points)
//   POST /reload                          re-read the admission rules
//   POST /reload-config                   re-read the configuration file and the rules (as SIGHUP)
//   GET  /admission                       decision counters
//   POST /stop                            stop the gateway (when it runs as a service)
//   GET  /rules                           the admission policy: JSON rules, geofilter, bans
//
// The same socket also speaks one JSON command a line (json-command.ts), for
// `socat - UNIX-CONNECT:<socket>`; the first bytes of a connection choose
// the protocol (protocol-sniff.ts).
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { sniffProtocol } from './protocol-sniff';
import { serveJsonLines, JSON_IDLE_TIMEOUT_MS } from './json-session';
import { banView, rulesView, sessionView } from './views';
import { RATE_SAMPLE_MS, RateWindow, tunnelTotals, type Totals } from './rates';
import type { SessionService } from '../session-service';
import type { ShardPool } from '../shard-pool';
import type { GatewayAdmission } from '../admission/gateway-admission';
import { ErrorCodes, WolfguardError, isWolfguardError } from '../../common/errors';
import { formatPrefix, parsePrefix } from '../../common/address';

export interface AdminServer {
  path: string;
  close(): Promise<void>;
}

export interface AdminContext {
  service: SessionService;
  pool: ShardPool;
  workers: number;
  admission?: GatewayAdmission;
  startedAt?: number;
  /** Fixed facts added to GET /status (e.g. the FIPS mode and module). */
  status?: Record<string, unknown>;
  /** Asks the gateway to stop (absent: not allowed, e.g. embedded in tests). */
  stop?: () => void;
  /** Re-reads the configuration file as SIGHUP does (absent: no file to re-read, e.g. embedded in tests). */
  reloadConfig?: () => ReloadOutcome;
  /** Numeric group that may use the socket too (mode 0660); absent: root only (0600). */
  socketGid?: number;
  /** Shared cluster state: bans and unbans made here are applied on every node. */
  cluster?: { banned(prefix: string, until: number, reason?: string): void; unbanned(prefix: string): void };
}

/** What a configuration reload did; `error` set when the file was refused and the old configuration stays. */
export interface ReloadOutcome {
  config: string;
  needRestart: string[];
  rules: number;
  error?: string;
}

/** Largest request body the admin socket reads (commands have none). */
const MAX_ADMIN_BODY = 4096;

export async function startAdminServer(socketPath: string, ctx: AdminContext): Promise<AdminServer> {
  const rates = new RateWindow(ctx.startedAt ?? Date.now());
  const sampler = setInterval(() => {
    void totals(ctx).then((t) => rates.add(Date.now(), t), () => undefined);
  }, RATE_SAMPLE_MS);
  sampler.unref();
  // A socket file left by a previous run that is not listening any more.
  try {
    if (fs.statSync(socketPath).isSocket()) fs.unlinkSync(socketPath);
  } catch {
    /* absent */
  }
  const httpServer = http.createServer((req, res) => {
    route(ctx, rates, req).then(
      ([status, body]) => reply(res, status, body),
      (e: Error) => reply(res, 500, { error: e.message }),
    );
  });
  const lineSockets = new Set<net.Socket>();
  // allowHalfOpen: socat half-closes after its last line and still wants the answers; http.Server runs the same way.
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    let head: Buffer = Buffer.alloc(0);
    // Until the first bytes decide, a silent peer is dropped like an idle line client.
    socket.setTimeout(JSON_IDLE_TIMEOUT_MS, () => socket.destroy());
    const onError = () => socket.destroy();
    // Ended before deciding (e.g. "GET" then EOF): nothing to answer.
    const onEnd = () => socket.end();
    const onData = (chunk: Buffer) => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const kind = sniffProtocol(head);
      if (kind === 'undecided') return;
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.setTimeout(0);
      if (kind === 'http') {
        // Not unshift(): http.Server reads a fresh socket's handle directly
        // (parser.consume), past the JS buffer, so unshifted bytes would be
        // lost. Its 'data' listener still feeds the parser, so hand the head
        // in that way, before the handle's next read.
        httpServer.emit('connection', socket);
        socket.emit('data', head);
        return;
      }
      lineSockets.add(socket);
      socket.once('close', () => lineSockets.delete(socket));
      serveJsonLines(socket, ctx, head);
    };
    socket.on('error', onError);
    socket.on('end', onEnd);
    socket.on('data', onData);
  });
  await new Promise<void>((resolve, reject) => {
    const failed = (e: NodeJS.ErrnoException) => {
      clearInterval(sampler);
      // The usual cause is a directory that does not exist yet (/run/wolfguard without systemd's RuntimeDirectory); libuv reports that as EACCES.
      const missing = fs.statSync(path.dirname(socketPath), { throwIfNoEntry: false }) === undefined;
      reject(new WolfguardError(ErrorCodes.SOCKET, `admin socket ${socketPath} (occtl-socket-file): ${missing ? `directory ${path.dirname(socketPath)} does not exist` : e.message}`));
    };
    server.once('error', failed);
    server.listen(socketPath, () => {
      server.off('error', failed);
      resolve();
    });
  });
  if (ctx.socketGid !== undefined) {
    fs.chownSync(socketPath, 0, ctx.socketGid);
    fs.chmodSync(socketPath, 0o660);
  } else {
    fs.chmodSync(socketPath, 0o600);
  }
  return {
    path: socketPath,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(sampler);
        server.close(() => resolve());
        httpServer.closeAllConnections();
        for (const s of lineSockets) s.destroy();
        // After a privilege drop the socket's directory may not be ours to write: leave the file then.
        try {
          fs.rmSync(socketPath, { force: true });
        } catch {
          /* left for the next start, which removes a stale socket */
        }
      }),
  };
}

type ShardStatsList = Awaited<ReturnType<ShardPool['shardStats']>>;
type PumpCounter = 'ringOut' | 'ringOutDrops' | 'tunTxDrops';

/** A pump counter summed over the shards. */
function pumpSum(shards: ShardStatsList, k: PumpCounter): number {
  return shards.reduce((a, s) => a + (s.pump?.[k] ?? 0), 0);
}

/** The growing counters behind the status rates: what the tunnels carried, and handshakes. */
function totalsOf(ctx: AdminContext, shards: ShardStatsList): Totals {
  return tunnelTotals(shards, ctx.pool.handshakes ?? 0);
}

async function totals(ctx: AdminContext): Promise<Totals> {
  return totalsOf(ctx, await ctx.pool.shardStats());
}

async function route(ctx: AdminContext, rates: RateWindow, req: http.IncomingMessage): Promise<[number, unknown]> {
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_ADMIN_BODY) return [413, { error: 'request body too large' }];
  }
  // A request target such as "//" parses as a URL with an empty host and throws (found by fuzzing): a 400, not a 500.
  let url: URL;
  try {
    url = new URL(`http://admin${(req.url ?? '/').startsWith('/') ? '' : '/'}${req.url ?? ''}`);
  } catch {
    return [400, { error: 'unparseable request target' }];
  }
  const reg = ctx.service.registry;
  const p = url.pathname;
  if (req.method === 'GET' && p === '/status') {
    const shards = await ctx.pool.shardStats();
    const sum = (k: PumpCounter) => pumpSum(shards, k);
    const now = totalsOf(ctx, shards);
    const restarts = ctx.pool.restarts();
    const started = ctx.startedAt ?? Date.now();
    return [
      200,
      {
        uptimeSeconds: Math.round((Date.now() - started) / 1000),
        sessions: reg.size,
        connected: [...reg.sessions()].filter((s) => s.state === 'connected').length,
        workers: ctx.workers,
        shards: ctx.pool.stats().map((s) => ({ ...s, restarts: restarts[s.shard] ?? 0, tunnels: shards.find((x) => x.shard === s.shard)?.tunnels ?? 0, dtls: shards.find((x) => x.shard === s.shard)?.dtls.up ?? 0 })),
        // What the tunnels carried from the clients and to them (tunnelTotals).
        ...now,
        ringCrossings: sum('ringOut'),
        ringDrops: sum('ringOutDrops'),
        tunDrops: sum('tunTxDrops'),
        ...rates.rates(Date.now(), now),
        ...(ctx.status ?? {}),
        connectionsPerSecond: Math.round((ctx.pool.stats().reduce((a, s) => a + s.total, 0) / Math.max(1, (Date.now() - started) / 1000)) * 100) / 100,
      },
    ];
  }
  if (req.method === 'GET' && p === '/sessions') return [200, [...reg.sessions()].map(sessionView)];
  let m = /^\/sessions\/([0-9a-f]{1,64})$/.exec(p);
  if (req.method === 'GET' && m) {
    const s = reg.byId(m[1]!);
    return s ? [200, sessionView(s)] : [404, { error: `no session ${m[1]}` }];
  }
  m = /^\/users\/([^/]{1,256})$/.exec(p);
  if (req.method === 'GET' && m) {
    const user = decodeSegment(m[1]!);
    if (user === undefined) return [400, { error: 'malformed percent-encoding in the path' }];
    return [200, [...reg.sessions()].filter((s) => s.user === user).map(sessionView)];
  }
  m = /^\/(sessions|users)\/([^/]{1,256})\/(disconnect|terminate)$/.exec(p);
  if (req.method === 'POST' && m) {
    const key = decodeSegment(m[2]!);
    if (key === undefined) return [400, { error: 'malformed percent-encoding in the path' }];
    const ids = m[1] === 'sessions' ? (reg.byId(key) ? [key] : []) : [...reg.sessions()].filter((s) => s.user === key).map((s) => s.id);
    if (ids.length === 0) return [404, { error: `no ${m[1] === 'sessions' ? 'session' : 'sessions of user'} ${key}` }];
    const done = ids.filter((id) => (m![3] === 'terminate' ? ctx.service.end(id) : ctx.service.disconnect(id)));
    return [200, { [m[3] === 'terminate' ? 'terminated' : 'disconnected']: done }];
  }
  if (req.method === 'GET' && p === '/shards') return [200, await ctx.pool.shardStats()];
  // Test hook (WOLFGUARD_TEST_HOOKS=1 only): make a shard thread die.
  if (req.method === 'POST' && p === '/test/crash-shard' && process.env.WOLFGUARD_TEST_HOOKS === '1') {
    const shard = Number(url.searchParams.get('shard'));
    if (!Number.isInteger(shard) || shard < 0 || shard >= ctx.workers) return [400, { error: 'shard must be a shard number' }];
    ctx.pool.post(shard, { type: 'crash' });
    return [200, { crashing: shard }];
  }
  if (req.method === 'GET' && p === '/restarts') return [200, ctx.pool.restarts()];
  if (req.method === 'POST' && p === '/reload-config') {
    if (!ctx.reloadConfig) return [403, { error: 'this gateway has no configuration file to reload' }];
    const r = ctx.reloadConfig();
    return r.error === undefined ? [200, r] : [400, { error: r.error, config: r.config }];
  }
  if (req.method === 'POST' && p === '/stop') {
    if (!ctx.stop) return [403, { error: 'this gateway cannot be stopped over the admin socket' }];
    setImmediate(ctx.stop);
    return [200, { stopping: true }];
  }
  const adm = ctx.admission;
  if (adm) {
    const now = Date.now();
    try {
      if (req.method === 'GET' && p === '/bans') return [200, adm.engine.listBans(now).map((b) => banView(b, adm.banNotes))];
      if (req.method === 'GET' && p === '/rules') return [200, rulesView(adm, now)];
      if (req.method === 'GET' && p === '/admission') return [200, { stats: adm.engine.stats(), counters: adm.engine.counters() }];
      if (req.method === 'POST' && p === '/bans') {
        const prefix = url.searchParams.get('prefix') ?? '';
        const secs = url.searchParams.get('seconds');
        if (secs !== null && !/^\d{1,9}$/.test(secs)) return [400, { error: 'seconds must be a whole number' }];
        const b = adm.engine.ban(prefix, now, secs === null ? Infinity : Number(secs) * 1000);
        ctx.cluster?.banned(b.prefix, b.until);
        return [200, { prefix: b.prefix }];
      }
      if (req.method === 'POST' && p === '/unban') {
        const prefix = url.searchParams.get('prefix') ?? '';
        const had = adm.engine.unban(prefix);
        // Lifted cluster-wide even when this node did not have it (a ban another node could not share yet).
        ctx.cluster?.unbanned(formatPrefix(parsePrefix(prefix)));
        if (!had) return [404, { error: `${prefix} is not banned` }];
        const live = new Set(adm.engine.listBans(now).map((b) => b.prefix));
        for (const k of adm.banNotes.keys()) if (!live.has(k)) adm.banNotes.delete(k);
        return [200, { ok: true }];
      }
      if (req.method === 'POST' && p === '/reload') {
        const rules = adm.reload();
        return [200, { rules: rules.rules.length }];
      }
    } catch (e) {
      if (isWolfguardError(e)) return [400, { error: e.message, code: e.code }];
      throw e;
    }
  }
  return [404, { error: `unknown request ${req.method} ${p}` }];
}

/** decodeURIComponent throws URIError on "%zz" (found by fuzzing); undefined instead. */
function decodeSegment(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

function reply(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
