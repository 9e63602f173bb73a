// Prometheus metrics (prom-client) on an HTTP listener of their own, off by
// default; WOLFGUARD_METRICS=host:port turns them on (loopback is the
// sensible host). Values are gathered at scrape time from the registry, the
// shards and the admission engine, so nothing on a packet path counts for us.
import * as http from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { SessionService } from './session-service';
import type { ShardPool } from './shard-pool';
import { parseListen } from './listen-address';
import type { GatewayAdmission } from './admission/gateway-admission';
import { LAG_RESOLUTION_MS, LoopMonitor } from '../workers/loop-monitor';

export interface MetricsContext {
  service: SessionService;
  pool: ShardPool;
  admission: GatewayAdmission;
  /** Whether the cluster state store is reachable (always true with the in-process state). */
  stateUp?: () => boolean;
}

export interface MetricsServer {
  port: number;
  logins: Counter<'result'>;
  close(): Promise<void>;
}


export async function startMetrics(listen: string, ctx: MetricsContext): Promise<MetricsServer> {
  const { host, port } = parseListen(listen, 'metrics listener');
  const reg = new Registry();
  // prom-client's own delay monitor (its nodejs_eventloop_lag_* families,
  // which count the timer's period in) at our period instead of its 10 ms.
  collectDefaultMetrics({ register: reg, prefix: 'wolfguard_process_', eventLoopMonitoringPrecision: LAG_RESOLUTION_MS });
  const mainLoop = new LoopMonitor();

  const handshakes = new Histogram({
    name: 'wolfguard_tls_handshake_seconds',
    help: 'TLS handshake time in the shards, from fd hand-off to the finished handshake',
    // 1 ms .. 10 s: a LAN handshake takes a few ms, a lossy mobile one seconds.
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10],
    registers: [reg],
  });
  ctx.pool.onHandshakes = (ms) => {
    for (const v of ms) handshakes.observe(v / 1000);
  };
  const logins = new Counter({ name: 'wolfguard_logins_total', help: 'Password logins by result', labelNames: ['result'] as const, registers: [reg] });
  new Gauge({
    name: 'wolfguard_sessions',
    help: 'Sessions by state',
    labelNames: ['state'] as const,
    registers: [reg],
    collect() {
      const n = { authenticated: 0, connected: 0, dropped: 0 };
      for (const s of ctx.service.registry.sessions()) n[s.state]++;
      for (const [state, v] of Object.entries(n)) this.set({ state }, v);
    },
  });
  new Gauge({
    name: 'wolfguard_shard_sessions',
    help: 'Connected sessions by the shard that holds their tunnel',
    labelNames: ['shard'] as const,
    registers: [reg],
    collect() {
      const n = new Array<number>(ctx.pool.size).fill(0);
      for (const s of ctx.service.registry.sessions()) if (s.state === 'connected' && s.shard >= 0 && s.shard < n.length) n[s.shard]!++;
      n.forEach((v, shard) => this.set({ shard: String(shard) }, v));
    },
  });
  const stateUp = ctx.stateUp;
  if (stateUp) {
    new Gauge({
      name: 'wolfguard_state_store_up',
      help: '1 when the state store (Redis with state = redis://...) is reachable, 0 when new logins are refused for want of it',
      registers: [reg],
      collect() {
        this.set(stateUp() ? 1 : 0);
      },
    });
  }
  const mainLag = new Gauge({ name: 'wolfguard_main_event_loop_lag_seconds', help: 'How late the main thread\'s event loop ran a timer, p99 since the last scrape (from the second scrape on)', registers: [reg] });
  const mainBusy = new Gauge({ name: 'wolfguard_main_event_loop_utilization', help: 'Share of the time since the last scrape the main thread was busy, 0..1 (from the second scrape on)', registers: [reg] });
  // Per-shard counters, one stats round-trip per scrape.
  const shardGauge = (name: string, help: string) => new Gauge({ name, help, labelNames: ['shard'] as const, registers: [reg] });
  const g = {
    connections: shardGauge('wolfguard_shard_connections', 'TLS connections a shard holds'),
    tunnels: shardGauge('wolfguard_shard_tunnels', 'CSTP tunnels a shard holds'),
    dtls: shardGauge('wolfguard_shard_dtls_tunnels', 'Tunnels with DTLS up'),
    tunRx: shardGauge('wolfguard_tun_read_bytes_total', 'Bytes read from the TUN queue (towards clients)'),
    tunTx: shardGauge('wolfguard_tun_written_bytes_total', 'Bytes written to the TUN queue (from clients)'),
    tunRxPk: shardGauge('wolfguard_tun_read_packets_total', 'Packets read from the TUN queue'),
    tunTxPk: shardGauge('wolfguard_tun_written_packets_total', 'Packets written to the TUN queue'),
    tunDrops: shardGauge('wolfguard_tun_write_drops_total', 'Packets the TUN queue refused'),
    tunWrites: shardGauge('wolfguard_tun_writes_total', 'write() calls to the TUN queue (a run of UDP datagrams takes one: WOLFGUARD_TUN_USO)'),
    tunCoalesced: shardGauge('wolfguard_tun_written_in_runs_packets_total', 'Packets written to the TUN queue in runs of several (WOLFGUARD_TUN_USO)'),
    noRoute: shardGauge('wolfguard_tun_no_route_total', 'TUN packets for no session'),
    ringOut: shardGauge('wolfguard_ring_out_total', 'Packets handed to another shard'),
    ringDrops: shardGauge('wolfguard_ring_drops_total', 'Packets lost to a full ring'),
    ringIn: shardGauge('wolfguard_ring_in_total', 'Packets taken from other shards'),
    lag: shardGauge('wolfguard_shard_event_loop_lag_seconds', 'How late the shard\'s event loop ran a timer, p99 since the last scrape (from the second scrape on)'),
    busy: shardGauge('wolfguard_shard_event_loop_utilization', 'Share of the time since the last scrape the shard\'s JavaScript thread was busy, 0..1 (from the second scrape on)'),
    planeCpu: shardGauge('wolfguard_shard_data_plane_cpu_seconds_total', 'CPU time of the shard\'s data-plane thread (its rate is that thread\'s load, 0..1)'),
    planeSlice: shardGauge('wolfguard_shard_data_plane_slice_seconds', 'Time slice of the shard\'s data-plane thread as the kernel reports it (WOLFGUARD_PLANE_SLICE_US); 0 = the kernel\'s default'),
    planeKeptOn: shardGauge('wolfguard_shard_data_plane_cpu', 'The CPU the shard\'s data-plane thread is kept on now (WOLFGUARD_PLANE_CPUS); -1 = none, the scheduler places it'),
    planeAssigned: shardGauge('wolfguard_shard_data_plane_cpu_assigned', 'The CPU the shard\'s data-plane thread is kept on whenever it is kept (WOLFGUARD_PLANE_CPUS auto: while two or more shards carry packets); -1 = none'),
  };
  const channelLabels = ['shard', 'channel', 'direction'] as const;
  const channelBytes = new Gauge({ name: 'wolfguard_channel_bytes_total', help: 'Tunnel bytes by channel (tls: CSTP over TLS, dtls: over UDP) and direction (in: from clients)', labelNames: channelLabels, registers: [reg] });
  const channelFrames = new Gauge({ name: 'wolfguard_channel_frames_total', help: 'Tunnel frames (packets, DPD, keepalives) by channel and direction', labelNames: channelLabels, registers: [reg] });
  const decisions = new Gauge({ name: 'wolfguard_admission_decisions_total', help: 'Admission decisions by rule and reason', labelNames: ['rule', 'reason'] as const, registers: [reg] });
  // geofilter.conf: every connect the geofilter looked at, by the rule that decided (none = no rule) and the peer's country.
  new Gauge({
    name: 'wolfguard_geofilter_decisions_total',
    help: 'Geofilter decisions by rule, action (allow, block, pass) and country (unknown when the GeoIP database has none)',
    labelNames: ['rule', 'action', 'country'] as const,
    registers: [reg],
    collect() {
      for (const c of ctx.admission.geoCounters.samples()) this.set({ rule: c.rule, action: c.action, country: c.country }, c.count);
    },
  });
  new Gauge({
    name: 'wolfguard_geoip_lookups_total',
    help: 'GeoIP database lookups by result (cache_hit, database); since the database was last (re)loaded',
    labelNames: ['result'] as const,
    registers: [reg],
    collect() {
      const db = ctx.admission.geo?.db;
      if (db === undefined) return;
      this.set({ result: 'cache_hit' }, db.cacheHits);
      this.set({ result: 'database' }, db.lookups - db.cacheHits);
    },
  });

  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    void (async () => {
      const main = mainLoop.read();
      if (main.lagP99Ms !== undefined) mainLag.set(main.lagP99Ms / 1000);
      if (main.loopUtilization !== undefined) mainBusy.set(main.loopUtilization);
      const shards = await ctx.pool.shardStats({ loop: true });
      for (const s of shards) {
        const l = { shard: String(s.shard) };
        g.connections.set(l, s.connections);
        g.tunnels.set(l, s.tunnels);
        g.dtls.set(l, s.dtls.up);
        if (s.lagP99Ms !== undefined) g.lag.set(l, s.lagP99Ms / 1000);
        if (s.loopUtilization !== undefined) g.busy.set(l, s.loopUtilization);
        for (const channel of ['tls', 'dtls'] as const) {
          const c = s.channels[channel];
          channelBytes.set({ ...l, channel, direction: 'in' }, c.bytesIn);
          channelBytes.set({ ...l, channel, direction: 'out' }, c.bytesOut);
          channelFrames.set({ ...l, channel, direction: 'in' }, c.framesIn);
          channelFrames.set({ ...l, channel, direction: 'out' }, c.framesOut);
        }
        if (!s.pump) continue;
        g.tunRx.set(l, s.pump.tunRxBytes);
        g.tunTx.set(l, s.pump.tunTxBytes);
        g.tunRxPk.set(l, s.pump.tunRxPackets);
        g.tunTxPk.set(l, s.pump.tunTxPackets);
        g.tunDrops.set(l, s.pump.tunTxDrops);
        g.tunWrites.set(l, s.pump.tunTxWrites);
        g.tunCoalesced.set(l, s.pump.tunTxCoalesced);
        g.noRoute.set(l, s.pump.noRoute);
        g.ringOut.set(l, s.pump.ringOut);
        g.ringDrops.set(l, s.pump.ringOutDrops);
        g.ringIn.set(l, s.pump.ringIn);
        g.planeCpu.set(l, s.pump.planeCpuMs / 1000);
        g.planeSlice.set(l, s.pump.planeSliceUs / 1e6);
        g.planeKeptOn.set(l, s.pump.planeCpu);
        g.planeAssigned.set(l, s.pump.planeCpuAssigned);
      }
      for (const c of ctx.admission.engine.counters()) decisions.set({ rule: c.ruleId, reason: c.reason }, c.count);
      const text = await reg.metrics();
      res.writeHead(200, { 'Content-Type': reg.contentType });
      res.end(text);
    })().catch((e: Error) => {
      res.writeHead(500).end(e.message);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as { port: number }).port,
    logins,
    close: () =>
      new Promise<void>((resolve) => {
        mainLoop.stop();
        ctx.pool.onHandshakes = undefined;
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
