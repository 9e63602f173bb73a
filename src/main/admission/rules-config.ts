// Admission rules from a JSON file, in the spirit of a wolfSentry config:
// prefix rules with an action, per-event rates, a default policy. The file is
// untrusted input in the sense that a typo must come back as an error naming
// the field (JSON path), never as a crash or a silently wider policy.
//
// Format (every key is checked; unknown keys are errors; see
// test/fixtures/admission/rules.json for a full example):
//
// {
//   "version": 1,                          optional; only 1 exists
//   "comment": "free text",                optional, ignored
//   "default_action": "accept",            "accept" | "reject" | "rate_limit"; required
//   "default_rate_limit": {                required iff default_action is "rate_limit", else refused
//     "max_connections_per_minute": 30,    1..1000000
//     "penalty_duration_sec": 60           0..31536000
//   },
//   "blacklist_after_violations": 3,       rate-limit violations (penalties) before the address is
//                                          put on the ban list; 0 = never (default 0)
//   "blacklist_duration_sec": 3600,        how long a blacklisting lasts; 0 = until unbanned (default 0)
//   "violation_memory_sec": 3600,          violations older than this are forgotten (default 3600)
//   "rules": [                             optional, default []
//     { "id": "office",                    1..64 chars of [A-Za-z0-9_.:-], unique
//       "type": "prefix",                  the only type
//       "remote_addr": "10.0.0.0/8",       IPv4 or IPv6, "addr" or "addr/len", no host bits set
//       "action": "rate_limit",            "accept" | "reject" | "rate_limit"
//       "max_connections_per_minute": 5,   required for rate_limit only
//       "penalty_duration_sec": 60,        required for rate_limit only
//       "comment": "free text" }           optional
//   ],
//   "events": [                            optional
//     { "name": "dtls_handshake", "max_rate_per_second": 10 }   ClientHellos per source per second
//   ],
//   "ban_score": {                         optional; ocserv's keys and defaults:
//     "max_ban_score": 80,                 max-ban-score (0 disables)
//     "ban_reset_time_sec": 1200,          ban-reset-time
//     "ban_time_sec": 300,                 min-reauth-time (ocserv bans for that long)
//     "points_wrong_password": 10,         ban-points-wrong-password
//     "points_connection": 1,              ban-points-connection
//     "points_kkdcp": 1,                   ban-points-kkdcp
//     "max_user_ban_score": 0              per-user threshold (not in ocserv; 0 disables)
//   }
// }
//
// Matching: the longest prefix containing the peer's address decides; the
// default applies only when no rule contains it, so an "accept" rule always
// beats a "reject" default (and a narrower reject inside a wider accept wins
// for its narrower range). IPv4-mapped IPv6 peers match IPv4 rules; an IPv6
// rule such as ::/0 does not cover IPv4 peers. Two rules on the same prefix
// are an error, since which one wins would be a guess.

import { WolfguardError, ErrorCodes, isWolfguardError, type ErrorCode } from '../../common/errors';
import { parsePrefix, formatPrefix, type Prefix } from '../../common/address';
import { OCSERV_BAN_DEFAULTS, type BanScoreConfig } from './ban-score';

export type RuleAction = 'accept' | 'reject' | 'rate_limit';
const ACTIONS: readonly RuleAction[] = ['accept', 'reject', 'rate_limit'];
export const EVENT_DTLS_HANDSHAKE = 'dtls_handshake';
const EVENT_NAMES: readonly string[] = [EVENT_DTLS_HANDSHAKE];

const MS_PER_SECOND = 1000;
const MAX_PER_MINUTE = 1_000_000;
const MAX_PER_SECOND = 1_000_000;
/** One year: longer durations are surely a unit mistake (ms for s). */
const MAX_DURATION_SEC = 31_536_000;
const MAX_VIOLATIONS = 1000;
const MAX_POINTS = 1_000_000;
const MAX_SCORE = 1_000_000_000;
/** Far above the 50,000-prefix bench table; a bound so a runaway generator fails loudly. */
const MAX_RULES = 1_000_000;
const DEFAULT_VIOLATION_MEMORY_SEC = 3600;
/** Pseudo rule ids the engine uses for its own decisions (see engine.ts RULE_*). */
const RESERVED_IDS: readonly string[] = ['default', 'ban', 'ban_score', 'address', 'dtls_handshake', 'session'];
const ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
/** Shown in error messages instead of huge or binary values. */
const MAX_SHOWN_VALUE = 60;

export interface AdmissionRule {
  readonly id: string;
  readonly prefix: Prefix;
  /** Canonical text of the prefix, for logs. */
  readonly remoteAddr: string;
  readonly action: RuleAction;
  /** Only for rate_limit; 0 otherwise. */
  readonly maxConnectionsPerMinute: number;
  /** Only for rate_limit; 0 otherwise. */
  readonly penaltyMs: number;
}

export interface AdmissionRules {
  readonly rules: readonly AdmissionRule[];
  readonly defaultAction: RuleAction;
  readonly defaultMaxConnectionsPerMinute: number;
  readonly defaultPenaltyMs: number;
  /** 0 = never. */
  readonly blacklistAfterViolations: number;
  /** Infinity = until unbanned. */
  readonly blacklistDurationMs: number;
  readonly violationMemoryMs: number;
  /** 0 = unlimited. */
  readonly dtlsHandshakesPerSecond: number;
  readonly banScore: BanScoreConfig;
}

export interface ConfigProblem {
  path: string;
  message: string;
  code: ErrorCode;
}

type Obj = Record<string, unknown>;

class Checker {
  readonly problems: ConfigProblem[] = [];

  fail(path: string, message: string, code: ErrorCode = ErrorCodes.CONFIG_INVALID): void {
    this.problems.push({ path, message, code });
  }

  object(v: unknown, path: string): Obj | undefined {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      this.fail(path, `must be an object, got ${describe(v)}`);
      return undefined;
    }
    return v as Obj;
  }

  keys(o: Obj, path: string, allowed: readonly string[]): void {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) this.fail(join(path, k), `unknown key (allowed: ${allowed.join(', ')})`, ErrorCodes.CONFIG_UNKNOWN_KEY);
    }
  }

  int(o: Obj, key: string, path: string, min: number, max: number, def?: number): number {
    const p = join(path, key);
    const v = o[key];
    if (v === undefined) {
      if (def === undefined) {
        this.fail(p, 'is required');
        return min;
      }
      return def;
    }
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      this.fail(p, `must be an integer, got ${describe(v)}`);
      return min;
    }
    if (v < min || v > max) {
      this.fail(p, `must be between ${min} and ${max}, got ${v}`);
      return min;
    }
    return v;
  }

  str(o: Obj, key: string, path: string, required: boolean): string | undefined {
    const v = o[key];
    if (v === undefined) {
      if (required) this.fail(join(path, key), 'is required');
      return undefined;
    }
    if (typeof v !== 'string') {
      this.fail(join(path, key), `must be a string, got ${describe(v)}`);
      return undefined;
    }
    return v;
  }

  action(o: Obj, key: string, path: string): RuleAction | undefined {
    const v = this.str(o, key, path, true);
    if (v === undefined) return undefined;
    if (!(ACTIONS as readonly string[]).includes(v)) {
      this.fail(join(path, key), `must be one of ${ACTIONS.join(', ')}, got ${describe(v)}`);
      return undefined;
    }
    return v as RuleAction;
  }
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > MAX_SHOWN_VALUE ? v.slice(0, MAX_SHOWN_VALUE) + '…' : v);
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

const TOP_KEYS = [
  'version',
  'comment',
  'default_action',
  'default_rate_limit',
  'blacklist_after_violations',
  'blacklist_duration_sec',
  'violation_memory_sec',
  'rules',
  'events',
  'ban_score',
] as const;
const RULE_KEYS = ['id', 'type', 'remote_addr', 'action', 'max_connections_per_minute', 'penalty_duration_sec', 'comment'] as const;
const RATE_KEYS = ['max_connections_per_minute', 'penalty_duration_sec'] as const;
const EVENT_KEYS = ['name', 'max_rate_per_second'] as const;
const BAN_KEYS = [
  'max_ban_score',
  'ban_reset_time_sec',
  'ban_time_sec',
  'points_wrong_password',
  'points_connection',
  'points_kkdcp',
  'max_user_ban_score',
] as const;

function toError(problems: ConfigProblem[], source: string | undefined): WolfguardError {
  const where = source === undefined ? 'admission rules' : `admission rules ${source}`;
  const lines = problems.map((p) => `${p.path === '' ? '(top level)' : p.path}: ${p.message}`);
  return new WolfguardError(
    problems[0].code,
    `${where}: ${problems.length === 1 ? lines[0] : `${problems.length} problems:\n  ${lines.join('\n  ')}`}`,
    { source, path: problems[0].path, problems },
  );
}

/**
 * Check a parsed JSON value and compile it. Throws a WolfguardError
 * (CONFIG_INVALID or CONFIG_UNKNOWN_KEY) listing every problem, each with its
 * JSON path (`rules[2].remote_addr`); details.problems holds them as data.
 */
export function validateAdmissionRules(value: unknown, source?: string): AdmissionRules {
  const c = new Checker();
  const top = c.object(value, '');
  if (top === undefined) throw toError(c.problems, source);
  c.keys(top, '', TOP_KEYS);
  if (top.version !== undefined) c.int(top, 'version', '', 1, 1);
  if (top.comment !== undefined) c.str(top, 'comment', '', false);

  const defaultAction = c.action(top, 'default_action', '') ?? 'accept';
  let defaultPerMinute = 0;
  let defaultPenaltyMs = 0;
  if (defaultAction === 'rate_limit') {
    if (top.default_rate_limit === undefined) c.fail('default_rate_limit', 'is required when default_action is "rate_limit"');
    else {
      const d = c.object(top.default_rate_limit, 'default_rate_limit');
      if (d !== undefined) {
        c.keys(d, 'default_rate_limit', RATE_KEYS);
        defaultPerMinute = c.int(d, 'max_connections_per_minute', 'default_rate_limit', 1, MAX_PER_MINUTE);
        defaultPenaltyMs = c.int(d, 'penalty_duration_sec', 'default_rate_limit', 0, MAX_DURATION_SEC) * MS_PER_SECOND;
      }
    }
  } else if (top.default_rate_limit !== undefined) {
    c.fail('default_rate_limit', 'only allowed when default_action is "rate_limit"');
  }

  const blacklistAfter = c.int(top, 'blacklist_after_violations', '', 0, MAX_VIOLATIONS, 0);
  const blacklistSec = c.int(top, 'blacklist_duration_sec', '', 0, MAX_DURATION_SEC, 0);
  const memorySec = c.int(top, 'violation_memory_sec', '', 1, MAX_DURATION_SEC, DEFAULT_VIOLATION_MEMORY_SEC);

  const rules: AdmissionRule[] = [];
  if (top.rules !== undefined) {
    if (!Array.isArray(top.rules)) c.fail('rules', `must be an array, got ${describe(top.rules)}`);
    else if (top.rules.length > MAX_RULES) c.fail('rules', `at most ${MAX_RULES} rules, got ${top.rules.length}`);
    else {
      const ids = new Map<string, number>();
      const prefixes = new Map<string, number>();
      top.rules.forEach((raw: unknown, i: number) => {
        const path = join('rules', i);
        const r = c.object(raw, path);
        if (r === undefined) return;
        c.keys(r, path, RULE_KEYS);
        const id = c.str(r, 'id', path, true);
        if (id !== undefined) {
          if (!ID_PATTERN.test(id)) c.fail(join(path, 'id'), `must be 1 to 64 characters of A-Z a-z 0-9 _ . : -, got ${describe(id)}`);
          else if (RESERVED_IDS.includes(id)) c.fail(join(path, 'id'), `${JSON.stringify(id)} is reserved (${RESERVED_IDS.join(', ')} label decisions no rule made)`);
          else if (ids.has(id)) c.fail(join(path, 'id'), `duplicate id ${JSON.stringify(id)} (also rules[${ids.get(id)}].id)`);
          else ids.set(id, i);
        }
        const type = c.str(r, 'type', path, true);
        if (type !== undefined && type !== 'prefix') c.fail(join(path, 'type'), `must be "prefix", got ${describe(type)}`);
        if (r.comment !== undefined) c.str(r, 'comment', path, false);
        const addr = c.str(r, 'remote_addr', path, true);
        let prefix: Prefix | undefined;
        if (addr !== undefined) {
          try {
            prefix = parsePrefix(addr);
          } catch (e) {
            if (!isWolfguardError(e)) throw e;
            c.fail(join(path, 'remote_addr'), e.message);
          }
        }
        let canonical = '';
        if (prefix !== undefined) {
          canonical = formatPrefix(prefix);
          const dup = prefixes.get(canonical);
          if (dup !== undefined) c.fail(join(path, 'remote_addr'), `prefix ${canonical} is already used by rules[${dup}]`);
          else prefixes.set(canonical, i);
        }
        const action = c.action(r, 'action', path);
        let perMinute = 0;
        let penaltyMs = 0;
        if (action === 'rate_limit') {
          perMinute = c.int(r, 'max_connections_per_minute', path, 1, MAX_PER_MINUTE);
          penaltyMs = c.int(r, 'penalty_duration_sec', path, 0, MAX_DURATION_SEC) * MS_PER_SECOND;
        } else if (action !== undefined) {
          for (const k of RATE_KEYS) if (r[k] !== undefined) c.fail(join(path, k), `only allowed with action "rate_limit" (action is "${action}")`);
        }
        if (id !== undefined && prefix !== undefined && action !== undefined) {
          rules.push({ id, prefix, remoteAddr: canonical, action, maxConnectionsPerMinute: perMinute, penaltyMs });
        }
      });
    }
  }

  let dtlsPerSecond = 0;
  if (top.events !== undefined) {
    if (!Array.isArray(top.events)) c.fail('events', `must be an array, got ${describe(top.events)}`);
    else {
      const seen = new Map<string, number>();
      top.events.forEach((raw: unknown, i: number) => {
        const path = join('events', i);
        const e = c.object(raw, path);
        if (e === undefined) return;
        c.keys(e, path, EVENT_KEYS);
        const name = c.str(e, 'name', path, true);
        const rate = c.int(e, 'max_rate_per_second', path, 1, MAX_PER_SECOND);
        if (name === undefined) return;
        if (!EVENT_NAMES.includes(name)) c.fail(join(path, 'name'), `unknown event ${describe(name)} (known: ${EVENT_NAMES.join(', ')})`);
        else if (seen.has(name)) c.fail(join(path, 'name'), `duplicate event ${JSON.stringify(name)} (also events[${seen.get(name)}])`);
        else {
          seen.set(name, i);
          if (name === EVENT_DTLS_HANDSHAKE) dtlsPerSecond = rate;
        }
      });
    }
  }

  let banScore: BanScoreConfig = { ...OCSERV_BAN_DEFAULTS };
  if (top.ban_score !== undefined) {
    const b = c.object(top.ban_score, 'ban_score');
    if (b !== undefined) {
      c.keys(b, 'ban_score', BAN_KEYS);
      const d = OCSERV_BAN_DEFAULTS;
      banScore = {
        maxBanScore: c.int(b, 'max_ban_score', 'ban_score', 0, MAX_SCORE, d.maxBanScore),
        banResetTimeMs: c.int(b, 'ban_reset_time_sec', 'ban_score', 0, MAX_DURATION_SEC, d.banResetTimeMs / MS_PER_SECOND) * MS_PER_SECOND,
        banTimeMs: c.int(b, 'ban_time_sec', 'ban_score', 0, MAX_DURATION_SEC, d.banTimeMs / MS_PER_SECOND) * MS_PER_SECOND,
        pointsWrongPassword: c.int(b, 'points_wrong_password', 'ban_score', 0, MAX_POINTS, d.pointsWrongPassword),
        pointsConnection: c.int(b, 'points_connection', 'ban_score', 0, MAX_POINTS, d.pointsConnection),
        pointsKkdcp: c.int(b, 'points_kkdcp', 'ban_score', 0, MAX_POINTS, d.pointsKkdcp),
        maxUserBanScore: c.int(b, 'max_user_ban_score', 'ban_score', 0, MAX_SCORE, d.maxUserBanScore),
      };
    }
  }

  if (c.problems.length > 0) throw toError(c.problems, source);
  return {
    rules,
    defaultAction,
    defaultMaxConnectionsPerMinute: defaultPerMinute,
    defaultPenaltyMs,
    blacklistAfterViolations: blacklistAfter,
    blacklistDurationMs: blacklistSec === 0 ? Infinity : blacklistSec * MS_PER_SECOND,
    violationMemoryMs: memorySec * MS_PER_SECOND,
    dtlsHandshakesPerSecond: dtlsPerSecond,
    banScore,
  };
}

/** Parse JSON text (a file's contents) and validate it; `source` (a path) goes into error messages. */
export function parseAdmissionRules(text: string, source?: string): AdmissionRules {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new WolfguardError(
      ErrorCodes.CONFIG_INVALID,
      `admission rules${source === undefined ? '' : ` ${source}`}: not valid JSON: ${(e as Error).message}`,
      { source, path: '' },
      { cause: e },
    );
  }
  return validateAdmissionRules(value, source);
}

/** The policy with no rules: accept everyone, ocserv's ban defaults, no DTLS limit. */
export function defaultAdmissionRules(): AdmissionRules {
  return validateAdmissionRules({ default_action: 'accept' });
}
