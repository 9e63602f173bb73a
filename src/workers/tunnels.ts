// A shard's tunnels: `CONNECT /CSCOSSLC/tunnel` turns an authenticated TLS
// connection into a CSTP tunnel handed to the native pump, and this file
// keeps the little per-session state JavaScript still needs: the lease in the
// shared route table, DPD and idle timers (checked once a second, never per
// packet), and the end of the tunnel reported to the main thread.
import type * as http from 'node:http';
import type { GatewayConfig } from '../main/config/types';
import { parseCookieHeader } from '../protocol/cookies';
import { parseConnectRequest } from '../protocol/connect-request';
import { buildConnectReply, buildHttpRefusal, type TunnelOffer } from '../protocol/connect-reply';
import { CstpType, DisconnectReason, encodeDisconnect } from '../protocol/cstp';
import { DtlsOverhead, IPV4_HEADER_BYTES, IPV6_HEADER_BYTES, UDP_HEADER_BYTES, negotiateMtu } from '../protocol/mtu';
import { isWolfguardError } from '../common/errors';
import { effectiveLimits } from '../main/limits';
import { netmaskFromPrefix } from '../common/address';
import { DtlsSession, LivenessSlot, closeFd, type TlsContext, type TlsSocket, type TunnelPump } from '../../native/lib';
import type { RouteTable } from '../ring/route-table';
import type { MainRpc } from './rpc';
import type { ChannelCounters, ChannelStats, DtlsShardStats, FromShard, TunnelSession } from './messages';
import { planLegacyDtls, type LegacyPlan } from './dtls-legacy';

/** A peer silent for this many DPD intervals is dead (it should have probed us every interval). */
export const DPD_DEAD_INTERVALS = 3;
/** RFC 5705 label of openconnect's PSK-NEGOTIATE; the PSK is 32 bytes of the TLS session's exporter. */
export const DTLS_PSK_LABEL = 'EXPORTER-openconnect-psk';
export const DTLS_PSK_BYTES = 32;
/** openconnect's PSK identity. */
export const DTLS_PSK_IDENTITY = 'psk';
/** A DTLS handshake that has not finished by then is dropped (the client retries over a new ClientHello). */
export const DTLS_HANDSHAKE_TIMEOUT_MS = 10_000;
/**
 * DTLS fallback detection: a client sending this many data packets over TLS
 * in one check interval, and none over a DTLS session up for longer than
 * DTLS_SETTLE_MS (packets queued while DTLS came up still go over TLS), has
 * given up on DTLS.
 */
export const FALLBACK_MIN_FRAMES = 3;
export const DTLS_SETTLE_MS = 3000;
/** How long a told client has to close its side before the socket is destroyed. */
const DISCONNECT_GRACE_MS = 1000;
/** How often tunnels are checked for dead peers and idle timeouts. */
export const TUNNEL_CHECK_MS = 1000;

interface Tunnel {
  conn: number;
  sock: TlsSocket;
  session: TunnelSession;
  startedAt: number;
  lastData: number;
  dataFrames: number;
  closedReported: boolean;
  logout: boolean;
  reason: string;
  /** PSK for the DTLS channel (TLS exporter), when DTLS was offered. */
  dtlsKey?: Buffer;
  /** Legacy Cisco DTLS: the session the client resumes, when that mode was offered instead. */
  dtlsLegacy?: LegacyPlan['session'];
  dtls?: DtlsSession;
  /** Largest datagram for the DTLS channel: the link MTU less IP and UDP headers. */
  dtlsMtu: number;
  /** The addresses routed to this tunnel (moved to DTLS and back). */
  addresses: string[];
  /** Data frames per channel at the last check (to see a client fall back from DTLS to TLS). */
  tlsDataFrames: number;
  dtlsDataFrames: number;
  /** When the current DTLS session came up. */
  dtlsSince: number;
}

export interface TunnelManagerOptions {
  shard: number;
  /** Replaced by setConfig() on a reload. */
  config: GatewayConfig;
  pump: TunnelPump;
  routes?: RouteTable;
  rpc: MainRpc;
  send: (m: FromShard) => void;
  /** Netmask of the IPv4 pool and prefix of the IPv6 pool, as the client must be told. */
  ipv4Prefix?: number;
  ipv6Prefix?: number;
  /** The DTLS 1.2 PSK server context; absent = DTLS off. */
  dtlsContext?: TlsContext;
  /** The legacy Cisco DTLS 1.2 context (dtls-legacy.ts); absent = no legacy mode. */
  legacyDtlsContext?: TlsContext;
}

export class TunnelManager {
  readonly #o: TunnelManagerOptions;
  readonly #byConn = new Map<number, Tunnel>();
  readonly #timer: NodeJS.Timeout;

  constructor(o: TunnelManagerOptions) {
    this.#o = o;
    this.#timer = setInterval(() => this.#check(Date.now()), TUNNEL_CHECK_MS);
    this.#timer.unref();
  }

  get size(): number {
    return this.#byConn.size;
  }

  /** A reloaded configuration: new tunnels get its routes, DNS and timers; open ones keep theirs. */
  setConfig(config: GatewayConfig): void {
    this.#o.config = config;
  }

  async connect(req: http.IncomingMessage, sock: TlsSocket, conn: number, head: Buffer): Promise<void> {
    const cfg = this.#o.config;
    if (req.url !== '/CSCOSSLC/tunnel') return refuse(sock, 404, 'unknown tunnel path');
    let parsed;
    try {
      parsed = parseConnectRequest(req.rawHeaders);
    } catch (e) {
      return refuse(sock, 400, isWolfguardError(e) ? e.message : 'bad request');
    }
    const cookie = parseCookieHeader(req.headers.cookie).get('webvpn') ?? parsed.cookie;
    if (!cookie) return refuse(sock, 401, 'no session cookie');
    const r = await this.#o.rpc.connect({ conn, cookie, peer: req.socket.remoteAddress ?? '', ...(req.socket.localAddress ? { local: req.socket.localAddress } : {}) });
    if (sock.destroyed) {
      // The client went away while main looked the cookie up; tell main so
      // the session does not stay marked as connected here.
      if (r.ok) this.#o.send({ type: 'tunnel-closed', shard: this.#o.shard, conn, sessionId: r.session.id, logout: false, reason: 'gone before the tunnel opened' });
      return;
    }
    if (!r.ok) return refuse(sock, r.status, r.reason);
    const s = r.session;
    const now = Date.now();
    const peer = req.socket.remoteAddress ?? '';
    const wantV6 = s.ipv6 !== undefined && this.#o.ipv6Prefix !== undefined;
    // openconnect's PSK-NEGOTIATE when both sides allow it (ocserv's order),
    // else Cisco's legacy mode when the client sent a master secret.
    const offerDtls = this.#o.dtlsContext !== undefined && cfg.udpPort !== null && cfg.dtlsPsk !== false && parsed.dtlsCipherSuites.includes('PSK-NEGOTIATE');
    const legacy =
      !offerDtls && this.#o.legacyDtlsContext !== undefined && cfg.udpPort !== null && cfg.dtlsLegacy !== false
        ? planLegacyDtls({ ...parsed, masterSecret: parsed.dtlsMasterSecret, sessionId: Buffer.from(s.dtlsAppId, 'hex'), tlsCipher: sock.info()?.cipher ?? null, matchTlsCipher: cfg.matchTlsDtlsCiphers === true })
        : undefined;
    const mtu = negotiateMtu({
      ...(offerDtls || legacy ? { dtlsOverhead: DtlsOverhead.AES_GCM } : {}),
      configured: cfg.mtu,
      clientBaseMtu: parsed.baseMtu,
      clientMtu: parsed.mtu,
      transport: peer.includes(':') && !peer.startsWith('::ffff:') ? 'ipv6' : 'ipv4',
      ipv6Tunnel: wantV6,
    });
    const offer: TunnelOffer = {
      mtu: mtu.dataMtu,
      baseMtu: mtu.linkMtu,
      fullIpv6: parsed.fullIpv6,
      // Per-user/group configuration (config-per-user/-group) replaces the gateway's.
      dns: s.dns ?? cfg.dns,
      splitInclude: s.routes ?? cfg.routes,
      splitExclude: s.noRoutes ?? cfg.noRoutes,
      dpd: cfg.dpd,
      keepalive: cfg.keepalive,
      rekeyMethod: 'none',
    };
    if (parsed.hostname !== undefined) offer.hostname = parsed.hostname;
    let dtlsKey: Buffer | undefined;
    if (offerDtls) {
      try {
        dtlsKey = sock.exportKeyingMaterial(DTLS_PSK_BYTES, DTLS_PSK_LABEL);
        offer.dtls = { mode: 'psk', appId: Buffer.from(s.dtlsAppId, 'hex'), port: cfg.udpPort!, dpd: cfg.dpd, keepalive: cfg.keepalive };
      } catch {
        dtlsKey = undefined; // no exporter: the client stays on TLS
      }
    }
    if (legacy) {
      const l = legacy.suite;
      offer.dtls = { mode: 'legacy', sessionId: legacy.session.sessionId, cipherSuite: l.name, dtls12: l.dtls12, mtu: mtu.dataMtu, port: cfg.udpPort!, dpd: cfg.dpd, keepalive: cfg.keepalive };
    }
    if (s.ipv4 && this.#o.ipv4Prefix !== undefined) offer.ipv4 = { address: s.ipv4, netmask: netmaskFromPrefix(this.#o.ipv4Prefix) };
    // ocserv's rule: an MTU too small for IPv6 means no IPv6 at all.
    if (wantV6 && mtu.ipv6Ok) offer.ipv6 = { address: s.ipv6!, prefix: this.#o.ipv6Prefix! };
    if (cfg.defaultDomain !== undefined) offer.defaultDomain = cfg.defaultDomain;
    if (cfg.banner !== undefined) offer.banner = cfg.banner;
    if (cfg.idleTimeout !== null) offer.idleTimeout = cfg.idleTimeout;
    if (cfg.sessionTimeout !== null) {
      offer.sessionTimeout = cfg.sessionTimeout;
      offer.sessionTimeoutRemaining = Math.max(0, Math.floor((s.createdAt + cfg.sessionTimeout * 1000 - now) / 1000));
    }

    const t: Tunnel = { conn, sock, session: s, startedAt: now, lastData: now, dataFrames: 0, closedReported: false, logout: false, reason: 'connection closed', addresses: [], tlsDataFrames: 0, dtlsDataFrames: 0, dtlsSince: 0, dtlsMtu: mtu.linkMtu - (peer.includes(':') && !peer.startsWith('::ffff:') ? IPV6_HEADER_BYTES : IPV4_HEADER_BYTES) - UDP_HEADER_BYTES };
    if (dtlsKey) t.dtlsKey = dtlsKey;
    if (legacy) t.dtlsLegacy = legacy.session;
    this.#byConn.set(conn, t);
    sock.once('close', () => this.#closed(t));
    sock.on('control', (type: number, payload: Buffer) => this.#control(t, type, payload));
    // Anything the HTTP layer read past the request is the tunnel's too.
    const extra: Buffer[] = head.length > 0 ? [head] : [];
    for (let c; (c = sock.read() as Buffer | null) !== null; ) extra.push(c);
    try {
      sock.write(buildConnectReply(offer));
      sock.startTunnel(this.#o.pump, { maxQueueBytes: effectiveLimits(cfg).tunnelQueueBytes, ...(extra.length > 0 ? { head: Buffer.concat(extra) } : {}) });
      if (s.ipv4) t.addresses.push(s.ipv4);
      if (offer.ipv6) t.addresses.push(offer.ipv6.address);
      for (const a of t.addresses) this.#o.pump.addRoute(sock, a);
      this.#o.routes?.claim(s.lease, this.#o.shard);
    } catch (e) {
      t.reason = `tunnel start failed: ${(e as Error).message}`;
      sock.destroy();
    }
  }

  /** Traffic by channel: ended tunnels and DTLS sessions, plus the live ones. */
  channelStats(): ChannelStats {
    const tls = { ...this.#retired.tls };
    const dtls = { ...this.#retired.dtls };
    // Every 5 s (the admin server's rate sampler) over every tunnel: the
    // counters array, not stats() (an object of a dozen properties each).
    for (const t of this.#byConn.values()) {
      addCounters(tls, t.sock.counters());
      if (t.dtls) addCounters(dtls, t.dtls.counters());
    }
    return { tls, dtls };
  }

  /** Counters of tunnels and DTLS sessions that have ended. */
  readonly #retired = zeroChannelStats();

  dtlsStats(): DtlsShardStats {
    const r = zeroDtlsStats();
    for (const t of this.#byConn.values()) {
      if (!t.dtls?.secure) continue;
      const a = t.dtls.counters();
      r.up++;
      r.dataFramesIn += a[LivenessSlot.dataFramesIn]!;
      r.framesOut += a[LivenessSlot.framesOut]!;
      r.sendCalls += a[LivenessSlot.sendCalls]!;
      r.recvCalls += a[LivenessSlot.recvCalls]!;
      r.gsoDatagrams += a[LivenessSlot.gsoDatagrams]!;
    }
    return r;
  }

  /**
   * Main handed over a DTLS ClientHello for tunnel `conn` with a UDP socket
   * connected to the client. Once the PSK handshake is done the tunnel's
   * addresses are routed to the DTLS session; when it goes, back to TLS.
   */
  attachDtls(conn: number, fd: number, hello: Uint8Array): void {
    const t = this.#byConn.get(conn);
    const legacy = t?.dtlsLegacy;
    const ctx = legacy ? this.#o.legacyDtlsContext : this.#o.dtlsContext;
    if (!t || (!t.dtlsKey && !legacy) || !ctx || t.sock.destroyed) {
      closeFd(fd);
      return;
    }
    const key = t.dtlsKey;
    let d: DtlsSession;
    try {
      d = new DtlsSession(ctx, fd, {
        initialDatagrams: [Buffer.from(hello)],
        mtu: t.dtlsMtu,
        handshakeTimeoutMs: DTLS_HANDSHAKE_TIMEOUT_MS,
        // Legacy: the client resumes the session of its CONNECT, nothing else.
        ...(legacy
          ? { legacySession: legacy }
          : // openconnect says "psk"; our DTLS 1.3 clients name the session by its App-ID.
            { psk: { lookup: (identity: string) => (identity === DTLS_PSK_IDENTITY || identity === t.session.dtlsAppId ? key : undefined) } }),
      });
    } catch {
      return; // the session closed the fd
    }
    const old = t.dtls;
    t.dtls = d;
    old?.close();
    d.on('error', () => d.close());
    d.once('secure', () => {
      if (t.dtls !== d || t.sock.destroyed) return d.close();
      t.dtlsSince = Date.now();
      try {
        d.startTunnel(this.#o.pump);
        for (const a of t.addresses) this.#o.pump.addRoute(d, a);
      } catch {
        d.close();
      }
    });
    d.on('control', (type: number, payload: Buffer) => {
      // DISCONNECT may come over DTLS too; it ends the whole tunnel.
      if (type === CstpType.DISCONNECT) this.#control(t, type, payload);
    });
    d.once('close', () => {
      addCounters(this.#retired.dtls, d.counters());
      if (t.dtls === d) {
        t.dtls = undefined;
        // Back to TLS for the tunnel's packets, if TLS is still there.
        if (!t.sock.destroyed) for (const a of t.addresses) this.#o.pump.addRoute(t.sock, a);
      }
    });
  }

  /** The main thread ended the session, or moved it to another connection. */
  kick(conn: number, reason: string, notify = false): void {
    const t = this.#byConn.get(conn);
    if (!t) return;
    t.reason = reason;
    t.closedReported = true; // main already knows
    if (notify) this.#sayGoodbye(t);
    else t.sock.destroy();
  }

  /** Shard stop (shutdown, end of a drain): every client is told, then its connection closes. */
  close(): void {
    clearInterval(this.#timer);
    for (const t of this.#byConn.values()) this.#sayGoodbye(t);
  }

  /**
   * ocserv's cstp_send_terminate: an empty DISCONNECT on the TLS channel
   * (openconnect: "Received server disconnect", then it quits rather than
   * retrying), close_notify, and the socket is destroyed if the client does
   * not close within DISCONNECT_GRACE_MS.
   */
  #sayGoodbye(t: Tunnel): void {
    if (t.sock.destroyed) return;
    t.dtls?.close();
    t.sock.end(encodeDisconnect());
    setTimeout(() => t.sock.destroy(), DISCONNECT_GRACE_MS).unref();
  }

  #control(t: Tunnel, type: number, payload: Buffer): void {
    if (type === CstpType.DISCONNECT) {
      t.logout = payload[0] === DisconnectReason.USER_LOGOUT;
      t.reason = t.logout ? 'user logout' : 'client disconnected';
    } else if (type === CstpType.TERMINATE) {
      t.reason = 'client terminated';
    } else {
      // COMPRESSED was never offered; anything else is not CSTP.
      t.reason = `unexpected CSTP frame type ${type}`;
    }
    t.sock.destroy();
  }

  #closed(t: Tunnel): void {
    this.#byConn.delete(t.conn);
    addCounters(this.#retired.tls, t.sock.counters());
    t.dtls?.close();
    this.#o.routes?.release(t.session.lease, this.#o.shard);
    if (t.closedReported) return;
    t.closedReported = true;
    this.#o.send({ type: 'tunnel-closed', shard: this.#o.shard, conn: t.conn, sessionId: t.session.id, logout: t.logout, reason: t.reason });
  }

  #check(now: number): void {
    const cfg = this.#o.config;
    const deadMs = cfg.dpd > 0 ? cfg.dpd * DPD_DEAD_INTERVALS * 1000 : 0;
    for (const t of this.#byConn.values()) {
      const st = t.sock.liveness();
      // With DTLS up the client probes and sends over DTLS: the peer is as
      // alive as its livelier channel, and its data is the sum of both.
      const ds = t.dtls?.secure ? t.dtls.liveness() : undefined;
      const idleMs = Math.min(st.idleMs, ds?.idleMs ?? Infinity);
      if (deadMs > 0 && idleMs > deadMs) {
        t.reason = 'dead peer (no DPD or traffic)';
        t.sock.destroy();
        continue;
      }
      // The client sends data over TLS again while DTLS is "up": it has
      // given up on DTLS (UDP blocked or lost, its DTLS DPD failed) and fell
      // back to CSTP, so our packets must go that way too. Closing the DTLS
      // session moves the routes back to TLS; the client may start DTLS anew.
      const tlsFrames = st.dataFramesIn;
      if (ds && now - t.dtlsSince > DTLS_SETTLE_MS && tlsFrames - t.tlsDataFrames >= FALLBACK_MIN_FRAMES && ds.dataFramesIn === t.dtlsDataFrames) {
        t.dtls?.close();
      }
      t.tlsDataFrames = tlsFrames;
      t.dtlsDataFrames = ds?.dataFramesIn ?? 0;
      const frames = st.dataFramesIn + (ds?.dataFramesIn ?? 0);
      if (frames !== t.dataFrames) {
        t.dataFrames = frames;
        t.lastData = now;
      } else if (cfg.idleTimeout !== null && cfg.idleTimeout > 0 && now - t.lastData > cfg.idleTimeout * 1000) {
        t.reason = 'idle timeout';
        t.sock.destroy();
      }
    }
  }
}

function refuse(sock: TlsSocket, status: 400 | 401 | 403 | 404 | 503, reason: string): void {
  if (sock.destroyed) return;
  sock.end(buildHttpRefusal(status, reason));
}

/** A shard's DTLS totals before any tunnel (or with no tunnel manager). */
export function zeroDtlsStats(): DtlsShardStats {
  return { up: 0, dataFramesIn: 0, framesOut: 0, sendCalls: 0, recvCalls: 0, gsoDatagrams: 0 };
}

/** Both channels' totals before any tunnel (or with no tunnel manager). */
export function zeroChannelStats(): ChannelStats {
  return { tls: zeroCounters(), dtls: zeroCounters() };
}

function zeroCounters(): ChannelCounters {
  return { bytesIn: 0, bytesOut: 0, framesIn: 0, framesOut: 0 };
}

/** Adds a connection's counters() (LivenessSlot) to a channel's totals. */
function addCounters(into: ChannelCounters, a: Float64Array): void {
  into.bytesIn += a[LivenessSlot.bytesIn]!;
  into.bytesOut += a[LivenessSlot.bytesOut]!;
  into.framesIn += a[LivenessSlot.framesIn]!;
  into.framesOut += a[LivenessSlot.framesOut]!;
}
