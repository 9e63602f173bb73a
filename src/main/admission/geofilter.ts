// The geofilter as the admission engine consults it: after the ban list,
// before ban points and the JSON prefix rules (engine.ts checkConnect). Pure:
// the country of an address comes from a CountryLookup the caller made
// (country-db.ts reads a MaxMind database), so tests hand in a table.
//
// Decision for a peer (allow beats block, see geofilter-config.ts):
//   1. an allow subnet contains it           -> pass
//   2. its country is allow-country          -> pass
//   3. a block subnet contains it            -> refuse (geo_blocked)
//   4. its country is block-country          -> refuse (country_blocked)
//   5. otherwise                             -> pass; the JSON rules decide
// "Pass" only means the geofilter does not refuse: rate limits, ban points
// and the JSON rules still apply to the peer. The other way round, a JSON
// "accept" rule does not lift a geofilter block (the geofilter runs first);
// an allow line in geofilter.conf does.
// Note what "allow beats block" means for mixed rules: an allow-country also
// beats a block subnet inside that country (the rule, taken as
// written); to block a range inside an allowed country, leave the country out
// of the allow-country lines.
//
// Subnets sit in a PrefixTrie (the engine's longest-prefix trie). Blocks
// inside an allow were dropped by the parser, so when any allow contains the
// address the longest match is an allow: one lookup answers steps 1 and 3.

import { PrefixTrie } from './prefix-trie';
import type { GeoAction, GeofilterRules } from './geofilter-config';

export type GeoRefusalReason = 'geo_blocked' | 'country_blocked';

export interface GeoRefusal {
  /** The rule's label, e.g. "block:10.0.0.0/8" or "block-country:XX". */
  readonly ruleId: string;
  readonly reason: GeoRefusalReason;
  /** The peer's country when known (for the log line). */
  readonly country?: string;
}

/** What the engine needs: undefined = the geofilter does not refuse this peer. */
export interface GeoGate {
  check(family: number, words: Uint32Array): GeoRefusal | undefined;
}

/** The country of an address (upper-case ISO code), undefined when unknown. Must not throw. */
export interface CountryLookup {
  lookup(family: number, words: Uint32Array): string | undefined;
}

/** Label of decisions no geofilter rule made; of peers whose country is unknown. */
export const GEO_RULE_NONE = 'none';
export const COUNTRY_UNKNOWN = 'unknown';

export interface GeoCounterSample {
  readonly rule: string;
  readonly action: GeoAction | 'pass';
  readonly country: string;
  readonly count: number;
}

/** Decision counts by rule and country; outlives a GeoFilter so a reload keeps them. */
export class GeoCounters {
  private readonly byRule = new Map<string, { action: GeoAction | 'pass'; byCountry: Map<string, number> }>();

  add(rule: string, action: GeoAction | 'pass', country: string): void {
    let r = this.byRule.get(rule);
    if (r === undefined) {
      r = { action, byCountry: new Map() };
      this.byRule.set(rule, r);
    }
    r.byCountry.set(country, (r.byCountry.get(country) ?? 0) + 1);
  }

  samples(): GeoCounterSample[] {
    const out: GeoCounterSample[] = [];
    for (const [rule, r] of this.byRule) for (const [country, count] of r.byCountry) out.push({ rule, action: r.action, country, count });
    return out;
  }
}

interface CompiledPrefix {
  readonly id: string;
  readonly allow: boolean;
  readonly refusal: GeoRefusal;
}

export class GeoFilter implements GeoGate {
  readonly rules: GeofilterRules;
  private readonly trie = new PrefixTrie<CompiledPrefix>();
  private readonly allowCountries = new Map<string, string>();
  private readonly blockCountries = new Map<string, string>();
  private readonly lookupCountry: CountryLookup | undefined;
  readonly counters: GeoCounters;

  /**
   * `countries` is required when the rules name countries (the caller turns
   * a missing database into a startup error; here it is a programming error).
   */
  constructor(rules: GeofilterRules, countries?: CountryLookup, counters = new GeoCounters()) {
    if (rules.countries.length > 0 && countries === undefined) throw new TypeError('GeoFilter: country rules need a CountryLookup');
    this.rules = rules;
    this.lookupCountry = countries;
    this.counters = counters;
    for (const p of rules.prefixes) {
      const allow = p.action === 'allow';
      this.trie.insert(p.prefix.family, p.prefix.words, p.prefix.length, { id: p.id, allow, refusal: Object.freeze({ ruleId: p.id, reason: 'geo_blocked' }) });
    }
    for (const c of rules.countries) (c.action === 'allow' ? this.allowCountries : this.blockCountries).set(c.country, c.id);
  }

  /** True when the filter can refuse nobody and has nothing to count (no rules, no database). */
  get inert(): boolean {
    return this.trie.size === 0 && this.allowCountries.size === 0 && this.blockCountries.size === 0 && this.lookupCountry === undefined;
  }

  check(family: number, words: Uint32Array): GeoRefusal | undefined {
    const hit = this.trie.size === 0 ? undefined : this.trie.lookup(family, words);
    const country = this.lookupCountry?.lookup(family, words);
    const label = country ?? COUNTRY_UNKNOWN;
    if (hit !== undefined && hit.allow) {
      this.counters.add(hit.id, 'allow', label);
      return undefined;
    }
    if (country !== undefined) {
      const allowId = this.allowCountries.get(country);
      if (allowId !== undefined) {
        this.counters.add(allowId, 'allow', label);
        return undefined;
      }
    }
    if (hit !== undefined) {
      this.counters.add(hit.id, 'block', label);
      return country === undefined ? hit.refusal : { ...hit.refusal, country };
    }
    if (country !== undefined) {
      const blockId = this.blockCountries.get(country);
      if (blockId !== undefined) {
        this.counters.add(blockId, 'block', label);
        return { ruleId: blockId, reason: 'country_blocked', country };
      }
    }
    this.counters.add(GEO_RULE_NONE, 'pass', label);
    return undefined;
  }
}
