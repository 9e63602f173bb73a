// JSON shapes the admin socket answers with, shared by its HTTP routes and
// its line protocol so `wolfguard-ctl show users` and `show_users` agree.
import type { SessionRecord } from '../sessions/registry';
import type { AdmissionEngine, BanListing } from '../admission/engine';
import type { GatewayAdmission } from '../admission/gateway-admission';

export function sessionView(s: SessionRecord) {
  return {
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
  };
}

/** Infinity (until unbanned) as null: JSON has no Infinity. */
export function isoOrNull(ms: number): string | null {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

export function banView(b: BanListing, notes?: ReadonlyMap<string, string>) {
  const note = notes?.get(b.prefix);
  return { ...b, until: isoOrNull(b.until), ...(note !== undefined ? { note } : {}) };
}

/** The admission policy in force: JSON rules, geofilter, bans. */
export function rulesView(adm: GatewayAdmission, now: number) {
  const engine: AdmissionEngine = adm.engine;
  const r = engine.activeRules;
  const geo = adm.geo;
  return {
    rules: {
      default_action: r.defaultAction,
      ...(r.defaultAction === 'rate_limit' ? { default_rate_limit: { max_connections_per_minute: r.defaultMaxConnectionsPerMinute, penalty_duration_sec: r.defaultPenaltyMs / 1000 } } : {}),
      rules: r.rules.map((x) => ({
        id: x.id,
        remote_addr: x.remoteAddr,
        action: x.action,
        ...(x.action === 'rate_limit' ? { max_connections_per_minute: x.maxConnectionsPerMinute, penalty_duration_sec: x.penaltyMs / 1000 } : {}),
      })),
      dtls_handshakes_per_second: r.dtlsHandshakesPerSecond,
    },
    geofilter:
      geo === undefined
        ? null
        : {
            file: geo.rules.source,
            prefixes: geo.rules.prefixes.map((p) => ({ action: p.action, prefix: p.target, description: p.description, line: p.line })),
            countries: geo.rules.countries.map((c) => ({ action: c.action, country: c.country, description: c.description, line: c.line })),
            warnings: geo.rules.warnings,
            geoip_db: geo.db === undefined ? null : { ...geo.db.info, cached: geo.db.cacheSize, lookups: geo.db.lookups, cache_hits: geo.db.cacheHits, errors: geo.db.errors },
          },
    bans: engine.listBans(now).map((b) => banView(b, adm.banNotes)),
  };
}
