// A shard: one worker_thread that owns its connections from the TLS
// handshake to the end of the tunnel, with its own wolfSSL context, its own
// TUN queue and packet pump, on its own libuv loop. The main thread accepts
// and posts fds; the shard adopts them in native code.
import * as http from 'node:http';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { TlsContext, TlsSocket, TunnelPump, closeFd } from '../../native/lib';
import type { FromShard, PeerInfo, ShardConfig, ToShard } from './messages';
import { LoopMonitor } from './loop-monitor';
import { routeRequest } from './http-routes';
import { certificateOf, createAuthRoutes } from './auth-routes';
import { certMode } from '../main/auth/cert-backend';
import { watchCrl } from './crl-watch';
import { LoginMessages } from '../protocol/auth-xml';
import { MainRpc } from './rpc';
import { TunnelManager, zeroChannelStats, zeroDtlsStats } from './tunnels';
import { createDtlsPskContext } from './dtls-context';
import { createDtlsLegacyContext } from './dtls-legacy-context';
import { RouteTable } from '../ring/route-table';
import { effectiveLimits } from '../main/limits';
import { shedThreadCapabilities } from '../main/privileges';
import { FIPS_GROUPS } from '../main/fips';

const config = workerData as ShardConfig;
const port = parentPort!;
const send = (m: FromShard) => port.postMessage(m);
const rpc = new MainRpc(port, config.shard);
const gw = config.gateway;

const ctxOptions: ConstructorParameters<typeof TlsContext>[0] = { role: 'server', cert: { file: config.certFile }, key: { file: config.keyFile } };
if (gw?.ciphers) ctxOptions.ciphers = gw.ciphers;
const groups = gw?.fips ? FIPS_GROUPS : undefined;
if (groups) ctxOptions.groups = groups;
// Certificate login: ask every client for a certificate but let those without
// one finish the handshake (password users, and a 401 rather than a TLS alert
// for the rest); one that is presented must verify against ca-cert and the CRL.
const certLogin = gw && gw.caCert !== undefined ? certMode(gw.auth, gw.enableAuth) : undefined;
if (gw && certLogin) {
  ctxOptions.ca = { file: gw.caCert! };
  if (gw.crl !== undefined) ctxOptions.crl = { file: gw.crl };
  ctxOptions.verifyPeer = 'optional';
}
// Worker messages deliver Buffers as plain Uint8Arrays.
const ticketKeys = (keys: Uint8Array[]) => ({ keys: keys.map((k) => Buffer.from(k.buffer, k.byteOffset, k.byteLength)) });
// The pool's shared keys: a ticket from any shard resumes here (wolfSSL's own keys are per context).
if (config.ticketKeys) ctxOptions.tickets = ticketKeys(config.ticketKeys);
const ctx = new TlsContext(ctxOptions);
if (gw && certLogin && gw.crl !== undefined) watchCrl(ctx, gw.crl, (message) => send({ type: 'error', shard: config.shard, message }));
// A shard restarted after the privilege drop inherited the main thread's
// capabilities (read with them the key just above); it needs none now.
shedThreadCapabilities();

let tunnels: TunnelManager | undefined;
let pump: TunnelPump | undefined;
if (gw && config.tunFd !== undefined) {
  pump = new TunnelPump(config.tunFd, {
    ...(config.planeSliceUs !== undefined ? { planeSliceUs: config.planeSliceUs } : {}),
    ...(config.planeCpu !== undefined ? { planeCpu: config.planeCpu } : {}),
    ...(config.planeCpuKeep !== undefined ? { planeCpuKeep: config.planeCpuKeep } : {}),
    ...(config.tunFraming !== undefined ? { framing: config.tunFraming } : {}),
  });
  let routes: RouteTable | undefined;
  if (config.mesh) {
    routes = new RouteTable(config.mesh.routes);
    pump.attachMesh({ self: config.shard, ...config.mesh });
  }
  const tmOptions: ConstructorParameters<typeof TunnelManager>[0] = { shard: config.shard, config: gw, pump, rpc, send };
  if (routes) tmOptions.routes = routes;
  if (gw.ipv4Pool) tmOptions.ipv4Prefix = gw.ipv4Pool.prefix;
  if (gw.ipv6Pool) tmOptions.ipv6Prefix = gw.ipv6Pool.subnetPrefix;
  // PSK-NEGOTIATE: plain PSK key exchange, AES-GCM; DTLS 1.2 for openconnect, 1.3 for clients that offer it.
  if (gw.udpPort !== null) tmOptions.dtlsContext = createDtlsPskContext(groups);
  if (gw.udpPort !== null && gw.dtlsLegacy !== false) tmOptions.legacyDtlsContext = createDtlsLegacyContext();
  tunnels = new TunnelManager(tmOptions);
}

const routesFor = gw ? createAuthRoutes({ rpc, loginMessage: LoginMessages.USERNAME_PASSWORD, ...(gw.banner !== undefined ? { banner: gw.banner } : {}), ...(gw.selectGroups ? { groups: gw.selectGroups } : {}), ...(gw.defaultSelectGroup !== undefined ? { defaultGroup: gw.defaultSelectGroup } : {}), ...(certLogin ? { certificate: { mode: certLogin, identity: (req: http.IncomingMessage) => certificateOf(req.socket as unknown as TlsSocket) } } : {}) }) : routeRequest;
// Limits (src/main/limits.ts); a shard without a gateway config (tests) keeps the pool's handshake timeout.
const limits = effectiveLimits(gw);
const handshakeTimeoutMs = gw ? limits.handshakeTimeout * 1000 : config.handshakeTimeoutMs;
const server = http.createServer({ maxHeaderSize: limits.maxHeaderBytes }, routesFor);
// An unauthenticated exchange may not last forever (auth-timeout).
if (gw) {
  server.headersTimeout = gw.authTimeout * 1000;
  server.requestTimeout = gw.authTimeout * 1000;
}
// Clients that speak garbage HTTP get a 400 and are closed; nobody else notices.
server.on('clientError', (_err, socket) => {
  if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  socket.destroy();
});
const connOf = new WeakMap<object, number>();
server.on('connect', (req: http.IncomingMessage, socket: TlsSocket, head: Buffer) => {
  const conn = connOf.get(socket);
  // Asking for a tunnel ends the login phase: the auth deadline no longer applies.
  clearAuthDeadline(socket);
  if (!tunnels || conn === undefined) {
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  tunnels.connect(req, socket, conn, head).catch(() => socket.destroy());
});

// Released-connection reports are batched per loop turn: the main thread
// only needs the count for its least-loaded choice.
let released = 0;
let live = 0;
let flushScheduled = false;
// Handshake durations travel with the same batch (metrics: a histogram in main).
let handshakeMs: number[] = [];
function scheduleFlush(): void {
  if (flushScheduled) return;
  flushScheduled = true;
  setImmediate(() => {
    send({ type: 'released', shard: config.shard, count: released, handshakeMs });
    released = 0;
    handshakeMs = [];
    flushScheduled = false;
  });
}
function noteReleased(): void {
  released++;
  live--;
  scheduleFlush();
}

let nextConn = 1;
const loop = new LoopMonitor();
port.on('message', (m: ToShard) => {
  switch (m.type) {
    case 'reply':
      rpc.settle(m.id, m.result);
      return;
    case 'stats':
      send({ type: 'stats', id: m.id, stats: { shard: config.shard, connections: live, tunnels: tunnels?.size ?? 0, dtls: tunnels?.dtlsStats() ?? zeroDtlsStats(), channels: tunnels?.channelStats() ?? zeroChannelStats(), ...(m.loop === true ? loop.read() : {}), handshakes: { pending: handshaking.size, evicted: handshakeEvictions }, ...(pump ? { pump: pump.stats() } : {}) } });
      return;
    case 'dtls':
      if (tunnels) tunnels.attachDtls(m.conn, m.fd, m.hello);
      else closeFd(m.fd);
      return;
    case 'kick':
      tunnels?.kick(m.conn, m.reason, m.notify === true);
      return;
    case 'config':
      tunnels?.setConfig(m.gateway);
      return;
    case 'ticket-keys':
      ctx.setTickets(ticketKeys(m.keys));
      return;
    case 'crash':
      // Test hook: an uncaught error, as a bug would throw one.
      if (process.env.WOLFGUARD_TEST_HOOKS === '1') {
        setImmediate(() => {
          throw new Error('test hook: shard crash');
        });
      }
      return;
    case 'stop':
      loop.stop();
      tunnels?.close();
      server.close();
      pump?.close();
      port.close();
      return;
    case 'adopt':
      adopt(m.fd, m.peer);
  }
});

// TLS handshakes in progress, oldest first. Past the limit the oldest is
// closed to make room: a real client finishes its handshake in a few round
// trips, so the oldest pending one is most likely a slowloris peer; refusing
// the newest instead would let a flood of idle connections lock everyone out
// until the handshake timeout.
const handshaking = new Set<TlsSocket>();
let handshakeEvictions = 0;
// A connection has auth-timeout seconds from adoption to ask for a tunnel; an
// HTTP client that keeps its connection alive with endless GETs is cut then
// (the per-request timeouts above do not catch it).
const authDeadlines = new WeakMap<object, NodeJS.Timeout>();
function clearAuthDeadline(sock: object): void {
  const t = authDeadlines.get(sock);
  if (t) clearTimeout(t);
  authDeadlines.delete(sock);
}

function adopt(fd: number, peer: PeerInfo): void {
  if (handshaking.size >= limits.maxPendingHandshakes) {
    const oldest = handshaking.values().next().value as TlsSocket;
    handshaking.delete(oldest);
    handshakeEvictions++;
    oldest.destroy();
  }
  let sock: TlsSocket;
  try {
    sock = new TlsSocket(ctx, fd, { handshakeTimeoutMs });
  } catch (e) {
    noteReleased();
    send({ type: 'error', shard: config.shard, message: (e as Error).message });
    return;
  }
  sock.remoteAddress = peer.address;
  sock.remotePort = peer.port;
  if (peer.local) sock.localAddress = peer.local;
  connOf.set(sock, nextConn++);
  live++;
  const adopted = performance.now();
  handshaking.add(sock);
  const handshakeOver = () => handshaking.delete(sock);
  if (gw && gw.authTimeout > 0) {
    const t = setTimeout(() => sock.destroy(), gw.authTimeout * 1000);
    t.unref();
    authDeadlines.set(sock, t);
  }
  sock.once('secure', () => {
    handshakeOver();
    handshakeMs.push(performance.now() - adopted);
    scheduleFlush();
  });
  sock.once('close', () => {
    handshakeOver();
    clearAuthDeadline(sock);
    noteReleased();
  });
  sock.on('error', () => sock.destroy());
  server.emit('connection', sock);
}

send({ type: 'ready', shard: config.shard });
