// The admin interface: JSON over HTTP on a Unix socket (ocserv's
// occtl-socket-file role), readable only by root (mode 0600). Read-only
// queries plus disconnecting a session; `wolfguard ctl` and the tests use it.
//   GET  /status                      gateway totals and per-shard connections
//   GET  /sessions                    every session
//   GET  /shards                      each shard's data-plane counters
//   POST /sessions/<id>/disconnect    end a session (its cookie stops working)
//   GET  /bans                        banned addresses (manual, blacklist, ban points)
//   POST /bans?prefix=P[&seconds=N]   ban an address or prefix (no seconds: until unbanned)
//   POST /unban?prefix=P              lift a ban (and the address's ban points)
//   POST /reload                      re-read the admission rules
//   GET  /admission                   decision counters
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { SessionService } from '../session-service';
import type { ShardPool } from '../shard-pool';
import type { GatewayAdmission } from '../admission/gateway-admission';
import { isWolfguardError } from '../../common/errors';

export interface AdminServer {
  path: string;
  close(): Promise<void>;
}

export interface AdminContext {
  service: SessionService;
  pool: ShardPool;
  workers: number;
  admission?: GatewayAdmission;
}

/** Largest request body the admin socket reads (commands have none). */
const MAX_ADMIN_BODY = 4096;

export async function startAdminServer(socketPath: string, ctx: AdminContext): Promise<AdminServer> {
  // A socket file left by a previous run that is not listening any more.
  try {
    if (fs.statSync(socketPath).isSocket()) fs.unlinkSync(socketPath);
  } catch {
    /* absent */
  }
  const server = http.createServer((req, res) => {
    route(ctx, req).then(
      ([status, body]) => reply(res, status, body),
      (e: Error) => reply(res, 500, { error: e.message }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  fs.chmodSync(socketPath, 0o600);
  return {
    path: socketPath,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        fs.rmSync(socketPath, { force: true });
      }),
  };
}

async function route(ctx: AdminContext, req: http.IncomingMessage): Promise<[number, unknown]> {
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_ADMIN_BODY) return [413, { error: 'request body too large' }];
  }
  const url = new URL(req.url ?? '/', 'http://admin');
  const reg = ctx.service.registry;
  if (req.method === 'GET' && url.pathname === '/status') {
    return [200, { sessions: reg.size, workers: ctx.workers, shards: ctx.pool.stats() }];
  }
  if (req.method === 'GET' && url.pathname === '/sessions') {
    const list = [...reg.sessions()].map((s) => ({
      id: s.id,
      user: s.user,
      groups: s.groups,
      state: s.state,
      ipv4: s.addresses.ipv4,
      ipv6: s.addresses.ipv6,
      shard: s.shard,
      peer: s.peer,
      createdAt: new Date(s.createdAt).toISOString(),
      tunnels: s.tunnels,
    }));
    return [200, list];
  }
  if (req.method === 'GET' && url.pathname === '/shards') return [200, await ctx.pool.shardStats()];
  const adm = ctx.admission;
  if (adm) {
    const now = Date.now();
    try {
      if (req.method === 'GET' && url.pathname === '/bans') return [200, adm.engine.listBans(now).map((b) => ({ ...b, until: Number.isFinite(b.until) ? new Date(b.until).toISOString() : null }))];
      if (req.method === 'GET' && url.pathname === '/admission') return [200, { stats: adm.engine.stats(), counters: adm.engine.counters() }];
      if (req.method === 'POST' && url.pathname === '/bans') {
        const prefix = url.searchParams.get('prefix') ?? '';
        const secs = url.searchParams.get('seconds');
        if (secs !== null && !/^\d{1,9}$/.test(secs)) return [400, { error: 'seconds must be a whole number' }];
        const b = adm.engine.ban(prefix, now, secs === null ? Infinity : Number(secs) * 1000);
        return [200, { prefix: b.prefix }];
      }
      if (req.method === 'POST' && url.pathname === '/unban') {
        const prefix = url.searchParams.get('prefix') ?? '';
        return adm.engine.unban(prefix) ? [200, { ok: true }] : [404, { error: `${prefix} is not banned` }];
      }
      if (req.method === 'POST' && url.pathname === '/reload') {
        const rules = adm.reload();
        return [200, { rules: rules.rules.length }];
      }
    } catch (e) {
      if (isWolfguardError(e)) return [400, { error: e.message, code: e.code }];
      throw e;
    }
  }
  const m = /^\/sessions\/([0-9a-f]{1,64})\/disconnect$/.exec(url.pathname);
  if (req.method === 'POST' && m) {
    return ctx.service.end(m[1]!) ? [200, { ok: true }] : [404, { error: `no session ${m[1]}` }];
  }
  return [404, { error: `unknown request ${req.method} ${url.pathname}` }];
}

function reply(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
