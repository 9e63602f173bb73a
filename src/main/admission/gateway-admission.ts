// The admission engine as the gateway uses it: one engine in the main thread
// deciding on accepted TCP peers (before any TLS byte is read), scoring failed
// logins (ocserv's ban points), holding the per-user session slots, and
// reloading its rules without forgetting who is banned or connected.
import * as fs from 'node:fs';
import { AdmissionEngine, type AdmissionDecision } from './engine';
import { defaultAdmissionRules, parseAdmissionRules, validateAdmissionRules, type AdmissionRules } from './rules-config';
import type { SessionSlots } from '../sessions/registry';
import type { GatewayConfig } from '../config/types';
import { randomBytes } from '../../../native/lib';
import { emptyGeofilter, parseGeofilter, type GeofilterRules } from './geofilter-config';
import { GeoCounters, GeoFilter } from './geofilter';
import { openCountryDb, type CountryDb } from './country-db';
import { WolfguardError, ErrorCodes } from '../../common/errors';

/** What geofilter-file and geoip-db gave at the last (re)load. */
export interface GeoState {
  readonly rules: GeofilterRules;
  readonly db: CountryDb | undefined;
  readonly filter: GeoFilter;
}

/** How often expired rate-limit entries, bans and reservations are swept. */
export const SWEEP_INTERVAL_MS = 5000;

export interface LoginGuard {
  /** A reason to refuse before the password is even checked, or undefined. */
  before(user: string, peer: string, now: number): string | undefined;
  failed(user: string, peer: string, now: number): void;
  succeeded(user: string): void;
}

export class GatewayAdmission {
  readonly engine: AdmissionEngine;
  #rulesFile: string | undefined;
  readonly #timer: NodeJS.Timeout;

  #banScore: GatewayConfig['banScore'];
  #geofilterFile: string | undefined;
  #geoipDb: string | undefined;
  /** Kept across reloads so the metrics stay monotonic. */
  readonly geoCounters = new GeoCounters();
  #geo: GeoState | undefined;
  /** Operator's reasons for manual bans (admin block_ip), by canonical prefix. */
  readonly banNotes = new Map<string, string>();

  readonly #warn: (message: string) => void;

  /** `warn` hears what the operator should know about the files in force, at start and after each reload. */
  constructor(cfg: GatewayConfig, events: { warn?: (message: string) => void } = {}) {
    this.#warn = events.warn ?? (() => {});
    this.#rulesFile = cfg.admissionRules;
    this.#banScore = cfg.banScore;
    this.#geofilterFile = cfg.geofilterFile;
    this.#geoipDb = cfg.geoipDb;
    // Geofilter first: a missing GeoIP database is a start-up error before anything else is built.
    const geo = this.#readGeo();
    this.engine = new AdmissionEngine({
      rules: this.#readRules(),
      sessions: { maxClients: cfg.maxClients, maxSameClients: cfg.maxSameClients, pendingTtlMs: cfg.cookieTimeout * 1000 },
      seed: randomBytes(4).readUInt32LE(0),
    });
    this.#applyGeo(geo);
    this.#timer = setInterval(() => this.engine.sweep(Date.now()), SWEEP_INTERVAL_MS);
    this.#timer.unref();
  }

  #readRules(): AdmissionRules {
    if (this.#rulesFile === undefined) {
      const b = this.#banScore;
      if (!b) return defaultAdmissionRules();
      // ocserv's ban keys from the configuration file, in the rules' terms.
      const ban: Record<string, number> = {};
      if (b.maxBanScore !== undefined) ban.max_ban_score = b.maxBanScore;
      if (b.banResetTime !== undefined) ban.ban_reset_time_sec = b.banResetTime;
      if (b.minReauthTime !== undefined) ban.ban_time_sec = b.minReauthTime;
      if (b.pointsWrongPassword !== undefined) ban.points_wrong_password = b.pointsWrongPassword;
      if (b.pointsConnection !== undefined) ban.points_connection = b.pointsConnection;
      if (b.pointsKkdcp !== undefined) ban.points_kkdcp = b.pointsKkdcp;
      return validateAdmissionRules({ default_action: 'accept', ban_score: ban }, 'the configuration file (ban keys)');
    }
    return parseAdmissionRules(fs.readFileSync(this.#rulesFile, 'utf8'), this.#rulesFile);
  }

  /**
   * Reads geofilter-file and opens geoip-db. Country rules without a
   * database, or a database that cannot be read, throw: never a silent
   * allow-all.
   */
  #readGeo(): GeoState | undefined {
    if (this.#geofilterFile === undefined && this.#geoipDb === undefined) return undefined;
    let rules: GeofilterRules = emptyGeofilter();
    if (this.#geofilterFile !== undefined) {
      let text: string;
      try {
        text = fs.readFileSync(this.#geofilterFile, 'utf8');
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        const code = err.code === 'ENOENT' ? ErrorCodes.FILE_NOT_FOUND : ErrorCodes.FILE_UNREADABLE;
        throw new WolfguardError(code, `cannot read geofilter-file ${this.#geofilterFile}: ${err.message}`, { file: this.#geofilterFile }, { cause: e });
      }
      rules = parseGeofilter(text, this.#geofilterFile);
    }
    if (rules.countries.length > 0 && this.#geoipDb === undefined) {
      const first = rules.countries[0]!;
      throw new WolfguardError(
        ErrorCodes.CONFIG_INVALID,
        `${rules.source}:${first.line}: ${first.id.split(':')[0]} ${first.country} needs a GeoIP database: set geoip-db to a MaxMind .mmdb file`,
        { file: rules.source, line: first.line },
      );
    }
    const db = this.#geoipDb === undefined ? undefined : openCountryDb(this.#geoipDb);
    return { rules, db, filter: new GeoFilter(rules, db, this.geoCounters) };
  }

  #applyGeo(geo: GeoState | undefined): void {
    this.#geo = geo;
    for (const w of geo?.rules.warnings ?? []) this.#warn(w);
    this.engine.setGeofilter(geo === undefined || geo.filter.inert ? undefined : geo.filter);
  }

  /** What the operator should hear about the files in force (geofilter lines that can never match). */
  get warnings(): readonly string[] {
    return this.#geo?.rules.warnings ?? [];
  }

  /** The geofilter in force (undefined: neither geofilter-file nor geoip-db is set). */
  get geo(): GeoState | undefined {
    return this.#geo;
  }

  /**
   * Re-reads the rules file, geofilter-file and geoip-db — those named by
   * `next` when given (a reloaded configuration may point elsewhere).
   * Anything bad throws, and the old rules, files and paths all stay.
   */
  reload(next?: Pick<GatewayConfig, 'admissionRules' | 'banScore' | 'geofilterFile' | 'geoipDb'>): AdmissionRules {
    const old = { rulesFile: this.#rulesFile, banScore: this.#banScore, geofilterFile: this.#geofilterFile, geoipDb: this.#geoipDb };
    if (next !== undefined) {
      this.#rulesFile = next.admissionRules;
      this.#banScore = next.banScore;
      this.#geofilterFile = next.geofilterFile;
      this.#geoipDb = next.geoipDb;
    }
    let rules: AdmissionRules;
    let geo: GeoState | undefined;
    try {
      rules = this.#readRules();
      geo = this.#readGeo();
    } catch (e) {
      this.#rulesFile = old.rulesFile;
      this.#banScore = old.banScore;
      this.#geofilterFile = old.geofilterFile;
      this.#geoipDb = old.geoipDb;
      throw e;
    }
    this.engine.replaceRules(rules);
    this.#applyGeo(geo);
    return rules;
  }

  checkConnect(ip: string): AdmissionDecision {
    return this.engine.checkConnect(ip, Date.now());
  }

  slots(): SessionSlots {
    const e = this.engine;
    return {
      reserve: (user, id, now) => {
        const d = e.checkUserSession(user, id, now);
        return { ok: d.allow, outcome: d.reason };
      },
      commit: (id, now) => e.commitSession(id, now),
      release: (id) => e.releaseSession(id),
    };
  }

  loginGuard(): LoginGuard {
    const e = this.engine;
    return {
      before: (user, peer, now) => {
        if (e.isBanned(peer, now)) return 'address banned';
        const d = e.checkUserAuth(user, now);
        return d.allow ? undefined : 'user locked out by failed logins';
      },
      failed: (user, peer, now) => void e.recordAuthFailure(peer, user, now),
      succeeded: (user) => e.recordAuthSuccess(user),
    };
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
