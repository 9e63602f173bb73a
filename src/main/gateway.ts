// The gateway as a whole, in the main thread: one TUN device with a queue per
// shard, the shared route table and the shard-to-shard rings, the shards, the
// session registry, the TCP acceptor and the admin socket. startGateway()
// returns a handle (tests use it); runGateway() runs until a signal.
import { execFileSync } from 'node:child_process';
import { allowedCpus, closeFd, createWakeFd, openTun, TunSteering, DEFAULT_PLANE_SLICE_US, planeSliceProblem, DEFAULT_DTLS_RCVBUF_BYTES, dtlsRcvBufProblem } from '../../native/lib';
import { planeCpus, PLANE_CPUS_ENV } from './plane-cpus';
import { tunFramingWanted, TUN_USO_ENV } from './tun-framing';
import { createRing } from '../ring/spsc-ring';
import { DEFAULT_SLOT_COUNT, DEFAULT_SLOT_SIZE } from '../ring/layout';
import { RouteTable, createRouteTable, leaseCapacity, type RoutePools } from '../ring/route-table';
import { ErrorCodes, WolfguardError } from '../common/errors';
import type { MeshConfig } from '../workers/messages';
import type { GatewayConfig } from './config/types';
import * as fs from 'node:fs';
import { loadConfigFile } from './config/load';
import { EMBEDDED_SOURCE } from './config/default-config';
import { ShardPool, SHARD_SCRIPT, defaultWorkerCount } from './shard-pool';
import { startAcceptor, type Acceptor } from './acceptor';
import { IpPool, GATEWAY_LEASE } from './sessions/ip-pool';
import { SessionRegistry } from './sessions/registry';
import { GatewayAdmission } from './admission/gateway-admission';
import { SessionService, type Authenticator } from './session-service';
import { passwordAuthenticator } from './users/authenticator';
import { checkSupConfigFiles } from './auth/sup-pool';
import { supDirsOf } from './auth/sup-config';
import { startAdminServer, type AdminServer, type ReloadOutcome } from './admin/server';
import { startDtlsDispatch, type DtlsDispatch } from './dtls-dispatch';
import { startMetrics, type MetricsServer } from './metrics';
import { addonFile, randomBytes } from '../../native/lib';
import { clusterFromConfig, clusterLoginGuard } from './state/cluster-setup';
import type { ClusterSessions } from './state/cluster-sessions';
import { createLogger, type Logger } from '../common/log';
import { envInt, envIntChecked } from '../common/env';
import { negotiateMtu } from '../protocol/mtu';
import { effectiveLimits } from './limits';
import { checkFipsFiles, describeFipsBuild, fipsBuildStatus } from './fips';
import { capabilitiesFor, dropPrivileges, identityFromSystem, readableBy, warmThreadPool } from './privileges';
import { unmapIpv4 } from '../common/address';

/**
 * Packets the kernel may queue per TUN queue for a shard to read. One device
 * serves every session (ocserv has one per client, at 500), and a shard busy
 * decrypting a burst must not lose the ACKs of that very burst meanwhile.
 */
export const DEFAULT_TUN_TXQUEUELEN = 4096;

export interface GatewayOptions {
  workers?: number;
  log?: Logger;
  /** Replaces the password file (tests). */
  authenticator?: Authenticator;
  /** Called when the admin socket asks the gateway to stop (absent: refused). */
  onStopRequest?: () => void;
  /** Called when the admin socket asks for a configuration reload (absent: refused). */
  onReloadRequest?: () => ReloadOutcome;
}

export interface Gateway {
  readonly port: number;
  readonly device: string;
  readonly workers: number;
  readonly service: SessionService;
  readonly pool: ShardPool;
  readonly admin: AdminServer | undefined;
  readonly admission: GatewayAdmission;
  readonly metricsPort: number | undefined;
  /**
   * Applies a reloaded configuration without dropping anyone: new sessions
   * get its routes, DNS, domain, timers and limits. Returns the keys that
   * only a restart changes (they keep their old values).
   */
  reload(next: GatewayConfig): string[];
  /**
   * Stops taking new connections and DTLS handshakes, lets the open tunnels
   * run until they end or `deadlineMs` passes, then stops.
   */
  drain(deadlineMs: number): Promise<void>;
  stop(): Promise<void>;
}

export function routePools(cfg: GatewayConfig): RoutePools {
  const pools: RoutePools = {};
  if (cfg.ipv4Pool) pools.v4 = { network: cfg.ipv4Pool.network, prefix: cfg.ipv4Pool.prefix };
  if (cfg.ipv6Pool) pools.v6 = { network: cfg.ipv6Pool.network, prefix: cfg.ipv6Pool.prefix, subnetPrefix: cfg.ipv6Pool.subnetPrefix };
  return pools;
}

function ip(args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: Buffer };
    throw new WolfguardError(ErrorCodes.SOCKET, `ip ${args.join(' ')}: ${err.stderr?.toString().trim() ?? (e as Error).message}`);
  }
}

/** Most addresses the steering map holds: an IPv4 and an IPv6 address per lease, within the map's own limit. */
const STEERING_MAX_ADDRESSES = 2 ** 24;

/** The TUN queue-steering program when it runs; `status` says `on`, or `off: ` and why (admin status). */
interface Steering {
  program?: TunSteering;
  status: string;
}

/**
 * Off is a slower path, not a failure: every packet still reaches its shard
 * through the rings. WOLFGUARD_TUN_STEERING=0 turns it off (for side-by-side runs).
 */
function startSteering(tunFd: number, leases: number, workers: number, log: Logger): Steering {
  if (process.env.WOLFGUARD_TUN_STEERING === '0') return { status: 'off: WOLFGUARD_TUN_STEERING=0' };
  if (workers === 1) return { status: 'off: one shard' };
  try {
    const program = TunSteering.attach(tunFd, Math.min(2 * leases, STEERING_MAX_ADDRESSES), workers);
    log.info({ shards: workers }, 'TUN steering: each client\'s packets are queued for the shard that owns it');
    return { program, status: 'on' };
  } catch (e) {
    const why = (e as Error).message;
    log.warn({ reason: why }, 'TUN steering unavailable: packets reach their shard through the rings (one hop more for a flow the kernel queues elsewhere)');
    return { status: `off: ${why}` };
  }
}

export async function startGateway(cfg: GatewayConfig, opts: GatewayOptions = {}): Promise<Gateway> {
  const log = opts.log ?? createLogger();
  // Limits from the environment are checked now, not at the first connection.
  effectiveLimits(cfg);
  // fips = true: refuse a non-approved certificate or cipher list before anything is opened.
  let fipsInfo: { enabled: boolean; validatedModule: boolean; module: string } = { enabled: false, validatedModule: false, module: '' };
  if (cfg.fips) {
    const plan = checkFipsFiles(cfg);
    cfg = plan.config;
    const build = fipsBuildStatus();
    fipsInfo = { enabled: true, validatedModule: build.validated, module: describeFipsBuild(build) };
    log.info({ certificate: plan.certificate, changes: plan.notes }, 'FIPS-approved mode: approved algorithms only');
    if (build.validated) log.info(fipsInfo.module);
    else log.warn(fipsInfo.module);
  }
  const workers = opts.workers ?? defaultWorkerCount();
  const pools = routePools(cfg);
  const ipPool = new IpPool(pools);
  // A group's pool or explicit address outside the gateway's network stops the start, naming file and line.
  checkSupConfigFiles(supDirsOf(cfg), ipPool);
  const gatewayAddr = ipPool.addresses(GATEWAY_LEASE);
  // The device carries every client's packets: its MTU is the largest data
  // MTU any client can be offered (each client's own may be smaller).
  const mtu = negotiateMtu({ configured: cfg.mtu }).dataMtu;

  // One TUN device, one queue per shard. The device and its addresses vanish
  // when the last queue fd closes, so a crashed gateway leaves nothing behind.
  const tun = openTun(cfg.device, workers, tunFramingWanted(process.env[TUN_USO_ENV]));
  const owned: number[] = [...tun.fds];
  const wakeFds: number[] = [];
  let steering: Steering = { status: 'off: not started' };
  let pool: ShardPool | undefined;
  let acceptor: Acceptor | undefined;
  let admin: AdminServer | undefined;
  let service: SessionService | undefined;
  let admission: GatewayAdmission | undefined;
  let dtls: DtlsDispatch | undefined;
  let metrics: MetricsServer | undefined;
  let cluster: ClusterSessions | undefined;
  try {
    admission = new GatewayAdmission(cfg, { warn: (m) => log.warn({ file: cfg.geofilterFile }, m) });
    const adm = admission;
    if (gatewayAddr.ipv4) ip(['addr', 'add', `${gatewayAddr.ipv4}/${cfg.ipv4Pool!.prefix}`, 'dev', tun.name]);
    if (gatewayAddr.ipv6) ip(['-6', 'addr', 'add', `${gatewayAddr.ipv6}/${cfg.ipv6Pool!.prefix}`, 'dev', tun.name, 'nodad']);
    ip(['link', 'set', 'dev', tun.name, 'mtu', String(mtu), 'txqueuelen', String(envInt('WOLFGUARD_TUN_TXQUEUELEN', DEFAULT_TUN_TXQUEUELEN)), 'up']);

    const routes = createRouteTable(pools);
    steering = startSteering(tun.fds[0]!, leaseCapacity(pools), workers, log);
    const slots = envInt('WOLFGUARD_RING_SLOTS', DEFAULT_SLOT_COUNT);
    const slotSize = envInt('WOLFGUARD_RING_SLOT_BYTES', DEFAULT_SLOT_SIZE);
    const planeSliceUs = envIntChecked('WOLFGUARD_PLANE_SLICE_US', DEFAULT_PLANE_SLICE_US, planeSliceProblem);
    const shardCpus = planeCpus(process.env[PLANE_CPUS_ENV], workers, allowedCpus());
    const dtlsRcvBufBytes = envIntChecked('WOLFGUARD_DTLS_RCVBUF_BYTES', DEFAULT_DTLS_RCVBUF_BYTES, dtlsRcvBufProblem);
    // rings[i][j]: shard i → shard j.
    const rings = Array.from({ length: workers }, (_, i) => Array.from({ length: workers }, (_, j) => (i === j ? null : createRing(slots, slotSize))));
    for (let i = 0; i < workers; i++) wakeFds.push(createWakeFd());
    const steerFd = steering.program ? { steerFd: steering.program.addressMapFd } : {};
    const mesh: MeshConfig[] = rings.map((row, i) => ({ routes, outRings: row, inRings: rings.map((r) => r[i]!), wakeFds, ...steerFd }));

    const registry = new SessionRegistry({
      pool: ipPool,
      limits: adm.slots(),
      cookieTimeoutMs: cfg.cookieTimeout * 1000,
      sessionTimeoutMs: cfg.sessionTimeout ? cfg.sessionTimeout * 1000 : null,
      random: randomBytes,
      persistentCookies: cfg.persistentCookies === true,
    });
    const auth = opts.authenticator ?? passwordAuthenticator(cfg);
    // state = redis://...: sessions, leases, limits and bans shared with other nodes (src/main/state).
    let svcRef: SessionService | undefined;
    const setup = clusterFromConfig(cfg, {
      registry,
      pool: ipPool,
      hasIpv4: pools.v4 !== undefined,
      engine: adm.engine,
      banNotes: adm.banNotes,
      random: randomBytes,
      log: { info: (m, f) => log.info(f ?? {}, m), warn: (m, f) => log.warn(f ?? {}, m), error: (m, f) => log.error(f ?? {}, m) },
      dropped: (id) => void svcRef?.drop(id),
    });
    cluster = setup?.cluster;
    const svc = new SessionService(registry, auth, (shard, m) => pool?.post(shard, m), {
      // Every session line names user, peer and session id (never the cookie).
      login: (user, peer, ok, reason, session) => {
        metrics?.logins.inc({ result: ok ? 'ok' : 'failed' });
        if (ok) log.info({ user, peer, session }, 'login');
        else log.warn({ user, peer, reason }, 'login refused');
      },
      tunnel: (e) => {
        const f = { user: e.user, peer: e.peer, session: e.session, shard: e.shard };
        if (e.kind === 'open') log.info({ ...f, tunnels: e.tunnels }, 'tunnel open');
        else if (e.kind === 'closed') log.info({ ...f, reason: e.reason }, 'tunnel closed; the session waits for its client');
        else log.warn({ peer: e.peer, shard: e.shard, reason: e.reason }, 'tunnel refused');
      },
      ended: (e) => log.info({ user: e.session.user, peer: e.session.peer, session: e.session.id, reason: e.reason }, 'session ended'),
      warning: (m) => log.warn(m),
    }, cluster ? clusterLoginGuard(adm.loginGuard(), cluster) : adm.loginGuard(), cluster);
    service = svc;
    svcRef = svc;
    if (setup) {
      await setup.cluster.start();
      log.info({ state: setup.where, node: setup.cluster.store.nodeId, up: setup.cluster.store.up }, 'cluster state in Redis');
    }
    const table = new RouteTable(routes);
    pool = new ShardPool({
      workers,
      certFile: cfg.serverCert,
      keyFile: cfg.serverKey,
      gateway: cfg,
      tunFds: tun.fds,
      tunFraming: tun.framing,
      mesh,
      planeSliceUs,
      ...(shardCpus !== undefined ? { planeCpus: shardCpus } : {}),
      onMessage: (m) => svc.handle(m),
      onShardExit: (shard, code) => {
        const dropped = registry.dropShard(shard, Date.now());
        for (const s of dropped) table.release(s.addresses.lease, shard);
        log.error({ shard, code, sessions: dropped.length }, 'shard died; restarting it (its clients reconnect with their cookies)');
        // Its TUN queue went with it: attach a fresh one to the same device.
        const fd = openTun(tun.name, 1, tun.framing).fds[0];
        if (steering.program) {
          try {
            steering.program.reattached(shard);
          } catch (e) {
            log.warn({ shard, err: (e as Error).message }, 'TUN steering did not follow the new queue; packets reach their shard through the rings');
          }
        }
        return fd;
      },
    });
    log.info({ tunFraming: tun.framing }, tun.framing === 'uso' ? `TUN ${tun.name}: runs of UDP datagrams written as one (${TUN_USO_ENV})` : `TUN ${tun.name}: one write per packet (${TUN_USO_ENV}${process.env[TUN_USO_ENV]?.trim() === 'off' ? '=off' : ': this kernel has no UDP segmentation offload for TUN, Linux 6.2+'})`);
    log.info({ planeCpus: shardCpus?.cpus ?? null, planeCpuKeep: shardCpus?.keep ?? null }, shardCpus !== undefined ? `data-plane threads kept on CPUs ${shardCpus.cpus.join(',')} (shard order; ${shardCpus.keep === 'shared' ? 'while two or more carry packets' : 'always'}; ${PLANE_CPUS_ENV}; none without WOLFGUARD_DATA_THREAD)` : `data-plane threads placed by the scheduler (${PLANE_CPUS_ENV})`);
    owned.length = 0; // the shards own the TUN queue fds now
    await pool.ready();
    acceptor = await startAcceptor(pool, cfg.listenHost ?? '::', cfg.tcpPort, (ip) => {
      const d = adm.checkConnect(ip);
      if (!d.allow) log.warn({ peer: unmapIpv4(ip), reason: d.reason, rule: d.ruleId }, 'connection refused');
      return d.allow;
    });
    if (cfg.udpPort !== null) {
      dtls = await startDtlsDispatch({
        port: cfg.udpPort,
        ...(cfg.listenHost !== undefined ? { host: cfg.listenHost } : {}),
        registry,
        post: (shard, m) => pool?.post(shard, m),
        admit: (ip) => adm.engine.checkDtlsHandshake(ip, Date.now()).allow,
        onError: (message) => log.warn(message),
        rcvBufBytes: dtlsRcvBufBytes,
      });
    }
    const metricsListen = process.env.WOLFGUARD_METRICS || cfg.metricsListen;
    if (metricsListen) {
      const clu = cluster;
      metrics = await startMetrics(metricsListen, { service: svc, pool, admission: adm, stateUp: () => (clu ? clu.store.up : true) });
      log.info({ port: metrics.port }, `metrics on http://${metricsListen}/metrics`);
    }
    // occtl-socket-group: its members may use the admin socket too (the group is resolved like run-as-group).
    const socketGid = cfg.adminSocketGroup !== undefined ? identityFromSystem('root', cfg.adminSocketGroup).gid : undefined;
    if (cfg.adminSocket) admin = await startAdminServer(cfg.adminSocket, { service: svc, pool, workers, admission: adm, startedAt: Date.now(), status: { fips: fipsInfo, tunSteering: steering.status }, ...(cluster ? { cluster } : {}), ...(socketGid !== undefined ? { socketGid } : {}), ...(opts.onStopRequest ? { stop: opts.onStopRequest } : {}), ...(opts.onReloadRequest ? { reloadConfig: opts.onReloadRequest } : {}) });
    // Ports bound, TUN open, sockets made: root is no longer needed (src/main/privileges.ts).
    if (cfg.runAsUser !== undefined) {
      const who = identityFromSystem(cfg.runAsUser, cfg.runAsGroup);
      // Read after the drop: the configuration on SIGHUP, users at each login; when a shard restarts,
      // its code (an install under a directory only root may enter) and the certificate and key.
      const needed = [...(cfg.source !== EMBEDDED_SOURCE ? [cfg.source] : []), SHARD_SCRIPT, addonFile(), cfg.serverCert, cfg.serverKey, ...cfg.auth.flatMap((a) => (a.kind === 'plain' ? [a.passwd, ...(a.otp !== undefined ? [a.otp] : [])] : [])), ...(cfg.admissionRules ? [cfg.admissionRules] : [])];
      const unreadable = needed.filter((f) => !readableBy(f, who));
      await warmThreadPool();
      const dropped = dropPrivileges(who, capabilitiesFor(unreadable));
      log.info({ uid: dropped.uid, gid: dropped.gid, user: dropped.user, group: dropped.group, keptCapabilities: dropped.kept }, 'privileges dropped');
      if (unreadable.length > 0) {
        log.warn({ files: unreadable, user: dropped.user }, `files unreadable by ${dropped.user}: CAP_DAC_READ_SEARCH kept to read them; make them readable by ${dropped.group} to run with CAP_NET_ADMIN alone`);
      }
    }
  } catch (e) {
    await acceptor?.close();
    await dtls?.close();
    await metrics?.close();
    await admin?.close();
    service?.close();
    await cluster?.close();
    admission?.close();
    await pool?.close();
    steering.program?.close();
    for (const fd of [...owned, ...wakeFds]) closeFd(fd);
    throw e;
  }
  const p = pool;
  const a = acceptor;
  const s = service;
  const ad = admin;
  const adm = admission;
  const dt = dtls;
  const me = metrics;
  const cl = cluster;
  const st = steering.program;
  let current = cfg;
  let stopped = false;
  const stopGw = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await a.close();
    await dt?.close();
    await me?.close();
    await ad?.close();
    s.close();
    await cl?.close();
    adm.close();
    await p.close();
    st?.close();
    for (const fd of wakeFds) closeFd(fd);
  };
  return {
    port: a.port,
    device: tun.name,
    workers,
    service: s,
    pool: p,
    admin: ad,
    admission: adm,
    metricsPort: me?.port,
    reload(next: GatewayConfig): string[] {
      // Before anything changes: a bad per-user/group pool fails the whole reload (the pool itself is restart-only).
      checkSupConfigFiles(supDirsOf(next), ipPool);
      const kept = RESTART_ONLY.filter((k) => JSON.stringify(next[k]) !== JSON.stringify(current[k]));
      const applied: GatewayConfig = { ...next };
      for (const k of kept) (applied as unknown as Record<string, unknown>)[k] = current[k];
      current = applied;
      s.registry.configure({ cookieTimeoutMs: applied.cookieTimeout * 1000, sessionTimeoutMs: applied.sessionTimeout ? applied.sessionTimeout * 1000 : null });
      adm.engine.configureSessions({ maxClients: applied.maxClients, maxSameClients: applied.maxSameClients, pendingTtlMs: applied.cookieTimeout * 1000 });
      cl?.configure({ maxClients: applied.maxClients, maxSameClients: applied.maxSameClients }, applied.cookieTimeout * 1000);
      p.reconfigure(applied);
      s.reconfigureLogins({ supDirs: supDirsOf(applied), appendRoutes: applied.appendRoutes === true, network: { routes: applied.routes, noRoutes: applied.noRoutes, dns: applied.dns } });
      return kept;
    },
    async drain(deadlineMs: number) {
      await a.close();
      await dt?.close();
      const end = Date.now() + deadlineMs;
      const connected = () => [...s.registry.sessions()].some((x) => x.state === 'connected');
      while (Date.now() < end && connected()) await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
      await stopGw();
    },
    stop: stopGw,
  };
}

/** How often a draining gateway looks whether its last tunnel has ended. */
const DRAIN_POLL_MS = 200;

/** What a reload cannot change on a running gateway. */
const RESTART_ONLY: ReadonlyArray<keyof GatewayConfig> = ['tcpPort', 'udpPort', 'listenHost', 'serverCert', 'serverKey', 'caCert', 'auth', 'ipv4Pool', 'ipv6Pool', 'device', 'ciphers', 'adminSocket', 'adminSocketGroup', 'metricsListen', 'state', 'nodeId'];

/** Runs the gateway in the foreground until SIGINT/SIGTERM. */
export async function runGateway(cfg: GatewayConfig, opts: GatewayOptions = {}): Promise<void> {
  const log = opts.log ?? createLogger();
  let stop: (why: string) => void = () => undefined;
  const stopped = new Promise<string>((resolve) => (stop = resolve));
  // SIGHUP and `wolfguard-ctl reload`: re-read the configuration file and the
  // admission rules; sessions, bans and rates are kept (users are re-read
  // whenever their file changes).
  let gwRef: Gateway | undefined;
  const reloadAll = (): ReloadOutcome => {
    const gw = gwRef;
    if (gw === undefined) return { config: cfg.source, needRestart: [], rules: 0, error: 'the gateway is still starting' };
    const out: ReloadOutcome = { config: cfg.source, needRestart: [], rules: 0 };
    // The admission files the new configuration names (the old ones when it cannot be read).
    let sources: GatewayConfig | undefined;
    // stat, not existsSync: access(2) ignores the capabilities kept after a privilege drop.
    if (cfg.source !== EMBEDDED_SOURCE && fs.statSync(cfg.source, { throwIfNoEntry: false }) !== undefined) {
      try {
        const { config: next, warnings } = loadConfigFile(cfg.source);
        for (const w of warnings) log.warn(w);
        const kept = gw.reload(next);
        sources = next;
        out.needRestart = kept;
        log.info({ file: cfg.source, needRestart: kept }, kept.length > 0 ? `configuration reloaded; ${kept.join(', ')} take effect at the next start` : 'configuration reloaded');
      } catch (e) {
        out.error = `configuration not reloaded; the old one stays: ${(e as Error).message}`;
        log.error({ err: (e as Error).message }, 'configuration not reloaded; the old one stays');
      }
    }
    try {
      out.rules = gw.admission.reload(sources).rules.length;
      log.info({ file: sources?.admissionRules ?? cfg.admissionRules, geofilter: sources?.geofilterFile ?? cfg.geofilterFile }, 'admission rules reloaded');
    } catch (e) {
      out.error ??= `admission rules not reloaded; the old ones stay: ${(e as Error).message}`;
      log.error({ err: (e as Error).message }, 'admission rules not reloaded; the old ones stay');
    }
    return out;
  };
  const gw = await startGateway(cfg, { ...opts, log, onStopRequest: () => stop('admin socket'), onReloadRequest: reloadAll });
  gwRef = gw;
  log.info({ port: gw.port, device: gw.device, workers: gw.workers, config: cfg.source }, `wolfguard listening on TCP port ${gw.port} (${gw.workers} shards, device ${gw.device})`);
  const onSignal = (sig: string) => stop(sig);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const onHup = () => void reloadAll();
  process.on('SIGHUP', onHup);
  const why = await stopped;
  process.off('SIGHUP', onHup);
  // SIGTERM with WOLFGUARD_DRAIN_SECONDS: stop accepting, let tunnels finish
  // until the deadline; a second signal stops at once.
  const drainSeconds = envInt('WOLFGUARD_DRAIN_SECONDS', 0, true);
  if (drainSeconds > 0 && why !== 'SIGINT') {
    log.info({ reason: why, seconds: drainSeconds }, 'draining: no new connections; open tunnels may finish');
    const again = new Promise<void>((resolve) => {
      process.once('SIGTERM', () => resolve());
      process.once('SIGINT', () => resolve());
    });
    await Promise.race([gw.drain(drainSeconds * 1000), again.then(() => log.info('second signal: stopping now'))]);
  } else {
    log.info({ reason: why }, 'stopping');
  }
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  await gw.stop();
}
