// geofilter.conf: subnet and country rules, one a line, for operators who
// think in "block this country, except that office range". Pure: text in,
// rules out (or a WolfguardError naming file, line and token).
//
//   # comment (also after a rule)
//   block 203.0.113.0/24 "scanner range"
//   allow 203.0.113.8/29 "our monitoring"
//   block-country XX "no customers there"
//   allow-country DE "head office"
//   block 2001:db8:bad::/48 "IPv6 works the same"
//
// The description (double quotes, \" and \\ escape) is optional. Country codes
// are two letters (ISO 3166-1 alpha-2, as a MaxMind database stores them),
// any case. Precedence: an allow line beats a block line for the same
// address, whether either is a subnet or a country, however specific the
// block is; so a block whose subnet lies inside an allowed subnet can never
// match and is reported as shadowed (a warning, not an error). Repeating a
// line's target with the same action is an error: one of the two is a typo.

import { WolfguardError, ErrorCodes, isWolfguardError } from '../../common/errors';
import { FAMILY_V4, formatPrefix, parsePrefix, type Prefix } from '../../common/address';

export type GeoAction = 'allow' | 'block';

export interface GeoPrefixRule {
  readonly action: GeoAction;
  readonly prefix: Prefix;
  /** Canonical prefix text. */
  readonly target: string;
  readonly description: string;
  readonly line: number;
  /** Stable label for logs and metrics, e.g. "block:10.0.0.0/8". */
  readonly id: string;
}

export interface GeoCountryRule {
  readonly action: GeoAction;
  /** Upper-case two-letter code. */
  readonly country: string;
  readonly description: string;
  readonly line: number;
  /** e.g. "block-country:XX". */
  readonly id: string;
}

export interface GeofilterRules {
  /** The file it came from (for messages), or "geofilter". */
  readonly source: string;
  /** Allow rules and the block rules that can still match (shadowed ones are dropped). */
  readonly prefixes: readonly GeoPrefixRule[];
  readonly countries: readonly GeoCountryRule[];
  /** Lines that parse but can never decide anything. */
  readonly warnings: readonly string[];
}

export interface GeofilterProblem {
  line: number;
  token: string;
  message: string;
}

/** A generated file of a few hundred thousand lines is plausible; millions are a runaway generator. */
export const MAX_GEOFILTER_RULES = 1_000_000;
/** Longer lines are junk (a binary file, a missing newline); refused rather than scanned. */
export const MAX_GEOFILTER_LINE = 4096;
/** Problems listed in one error; the rest are counted. */
const MAX_REPORTED_PROBLEMS = 20;
/** Tokens shown in messages are cut to this many characters. */
const MAX_SHOWN_TOKEN = 60;
const COUNTRY_PATTERN = /^[A-Za-z]{2}$/;

const DIRECTIVES: Readonly<Record<string, { action: GeoAction; country: boolean }>> = {
  block: { action: 'block', country: false },
  allow: { action: 'allow', country: false },
  'block-country': { action: 'block', country: true },
  'allow-country': { action: 'allow', country: true },
};

interface Token {
  text: string;
  quoted: boolean;
}

function show(token: string): string {
  const cut = token.length > MAX_SHOWN_TOKEN ? `${token.slice(0, MAX_SHOWN_TOKEN)}…` : token;
  return JSON.stringify(cut);
}

/** Splits one line into words and quoted strings; `#` outside quotes ends the line. */
function tokenize(line: string): Token[] | { error: string; token: string } {
  const out: Token[] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    const c = line[i]!;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c === '#') break;
    if (c === '"') {
      let s = '';
      let j = i + 1;
      let closed = false;
      while (j < n) {
        const d = line[j]!;
        if (d === '\\' && j + 1 < n && (line[j + 1] === '"' || line[j + 1] === '\\')) {
          s += line[j + 1];
          j += 2;
          continue;
        }
        if (d === '"') {
          closed = true;
          j++;
          break;
        }
        s += d;
        j++;
      }
      if (!closed) return { error: 'unterminated quoted description', token: line.slice(i) };
      if (j < n && line[j] !== ' ' && line[j] !== '\t' && line[j] !== '#') return { error: 'text right after a closing quote', token: line.slice(i) };
      out.push({ text: s, quoted: true });
      i = j;
      continue;
    }
    let j = i;
    while (j < n && line[j] !== ' ' && line[j] !== '\t' && line[j] !== '#' && line[j] !== '"') j++;
    out.push({ text: line.slice(i, j), quoted: false });
    i = j;
  }
  return out;
}

// Control characters other than tab have no business in a rules file; most
// likely it is not a text file at all.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/;

/**
 * Parses geofilter.conf text. `source` (a path) goes into every message.
 * Throws WolfguardError CONFIG_INVALID listing every problem with its line
 * and token (details.problems).
 */
export function parseGeofilter(text: string, source = 'geofilter'): GeofilterRules {
  if (typeof text !== 'string') throw new WolfguardError(ErrorCodes.CONFIG_INVALID, `${source}: not text`, { source });
  const problems: GeofilterProblem[] = [];
  const fail = (line: number, token: string, message: string) => problems.push({ line, token, message });
  const prefixRules: GeoPrefixRule[] = [];
  const countryRules: GeoCountryRule[] = [];
  /** "action target" → line, for duplicate detection. */
  const seen = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  let count = 0;
  for (let idx = 0; idx < lines.length; idx++) {
    const lineNo = idx + 1;
    const raw = lines[idx]!;
    if (raw.length > MAX_GEOFILTER_LINE) {
      fail(lineNo, raw.slice(0, MAX_SHOWN_TOKEN), `line longer than ${MAX_GEOFILTER_LINE} characters`);
      continue;
    }
    const ctl = CONTROL.exec(raw);
    if (ctl !== null) {
      fail(lineNo, ctl[0], `control character U+${ctl[0].charCodeAt(0).toString(16).padStart(4, '0')} (is this a text file?)`);
      continue;
    }
    const toks = tokenize(raw);
    if (!Array.isArray(toks)) {
      fail(lineNo, toks.token, toks.error);
      continue;
    }
    if (toks.length === 0) continue;
    const [head, target, desc, ...rest] = toks as [Token, Token | undefined, Token | undefined, ...Token[]];
    const dir = head.quoted ? undefined : DIRECTIVES[head.text];
    if (dir === undefined) {
      fail(lineNo, head.text, `unknown directive (expected ${Object.keys(DIRECTIVES).join(', ')})`);
      continue;
    }
    const what = dir.country ? 'a two-letter country code' : 'an address or prefix';
    if (target === undefined) {
      fail(lineNo, head.text, `${head.text} needs ${what}`);
      continue;
    }
    if (target.quoted) {
      fail(lineNo, target.text, `expected ${what}, got a quoted string`);
      continue;
    }
    if (desc !== undefined && !desc.quoted) {
      fail(lineNo, desc.text, 'the description must be in double quotes');
      continue;
    }
    if (rest.length > 0) {
      fail(lineNo, rest[0]!.text, 'unexpected text after the description');
      continue;
    }
    const description = desc?.text ?? '';
    if (++count > MAX_GEOFILTER_RULES) {
      fail(lineNo, head.text, `more than ${MAX_GEOFILTER_RULES} rules`);
      break;
    }
    if (dir.country) {
      if (!COUNTRY_PATTERN.test(target.text)) {
        fail(lineNo, target.text, 'not a two-letter country code (ISO 3166-1 alpha-2, e.g. DE)');
        continue;
      }
      const country = target.text.toUpperCase();
      const key = `${dir.action} country ${country}`;
      const dup = seen.get(key);
      if (dup !== undefined) {
        fail(lineNo, target.text, `${head.text} ${country} is already on line ${dup}`);
        continue;
      }
      seen.set(key, lineNo);
      countryRules.push({ action: dir.action, country, description, line: lineNo, id: `${head.text}:${country}` });
      continue;
    }
    let prefix: Prefix;
    try {
      prefix = parsePrefix(target.text);
    } catch (e) {
      if (!isWolfguardError(e)) throw e;
      fail(lineNo, target.text, e.message);
      continue;
    }
    const canonical = formatPrefix(prefix);
    const key = `${dir.action} ${canonical}`;
    const dup = seen.get(key);
    if (dup !== undefined) {
      fail(lineNo, target.text, `${head.text} ${canonical} is already on line ${dup}`);
      continue;
    }
    seen.set(key, lineNo);
    prefixRules.push({ action: dir.action, prefix, target: canonical, description, line: lineNo, id: `${dir.action}:${canonical}` });
  }
  if (problems.length > 0) throw geofilterError(problems, source);

  const warnings: string[] = [];
  const allowCountries = new Set(countryRules.filter((r) => r.action === 'allow').map((r) => r.country));
  for (const r of countryRules) {
    if (r.action === 'block' && allowCountries.has(r.country)) warnings.push(`${source}:${r.line}: block-country ${r.country} never matches: allow-country ${r.country} wins`);
  }
  const allows = prefixRules.filter((r) => r.action === 'allow');
  const prefixes: GeoPrefixRule[] = [];
  for (const r of prefixRules) {
    if (r.action === 'block') {
      const cover = allows.find((a) => contains(a.prefix, r.prefix));
      if (cover !== undefined) {
        warnings.push(`${source}:${r.line}: block ${r.target} never matches: allow ${cover.target} (line ${cover.line}) covers it`);
        continue;
      }
    }
    prefixes.push(r);
  }
  return { source, prefixes, countries: countryRules, warnings };
}

/** Does prefix `outer` contain every address of `inner`? (Same family only.) */
export function contains(outer: Prefix, inner: Prefix): boolean {
  if (outer.family !== inner.family || outer.length > inner.length) return false;
  const first = outer.family === FAMILY_V4 ? 3 : 0;
  let left = outer.length;
  for (let w = first; w < 4 && left > 0; w++) {
    const bits = Math.min(32, left);
    const mask = bits === 32 ? 0xffffffff : ~(0xffffffff >>> bits) >>> 0;
    if (((outer.words[w]! & mask) >>> 0) !== ((inner.words[w]! & mask) >>> 0)) return false;
    left -= bits;
  }
  return true;
}

function geofilterError(problems: GeofilterProblem[], source: string): WolfguardError {
  const shown = problems.slice(0, MAX_REPORTED_PROBLEMS).map((p) => `${source}:${p.line}: ${p.message} (at ${show(p.token)})`);
  if (problems.length > MAX_REPORTED_PROBLEMS) shown.push(`… and ${problems.length - MAX_REPORTED_PROBLEMS} more`);
  const first = problems[0]!;
  return new WolfguardError(ErrorCodes.CONFIG_INVALID, shown.join('\n'), { source, line: first.line, token: first.token, problems });
}

/** The file with no lines: nothing filtered. */
export function emptyGeofilter(source = 'geofilter'): GeofilterRules {
  return { source, prefixes: [], countries: [], warnings: [] };
}
