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
  readonly #rulesFile: string | undefined;
  readonly #timer: NodeJS.Timeout;

  readonly #banScore: GatewayConfig['banScore'];

  constructor(cfg: GatewayConfig) {
    this.#rulesFile = cfg.admissionRules;
    this.#banScore = cfg.banScore;
    this.engine = new AdmissionEngine({
      rules: this.#readRules(),
      sessions: { maxClients: cfg.maxClients, maxSameClients: cfg.maxSameClients, pendingTtlMs: cfg.cookieTimeout * 1000 },
      seed: randomBytes(4).readUInt32LE(0),
    });
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

  /** Re-reads the rules file; a bad file throws and the old rules stay. */
  reload(): AdmissionRules {
    const rules = this.#readRules();
    this.engine.replaceRules(rules);
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
