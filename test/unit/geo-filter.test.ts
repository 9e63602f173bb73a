// The geofilter in the admission engine: allow beats block (subnets and
// countries), IPv4 and IPv6, bans still first, JSON rules still apply to
// peers the geofilter lets through, counters by rule and country, and a
// reload after editing the file (through GatewayAdmission, with a real
// .mmdb written by test/helpers/mmdb-writer.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { parseGeofilter } from '../../src/main/admission/geofilter-config';
import { GeoFilter, GeoCounters, type CountryLookup } from '../../src/main/admission/geofilter';
import { AdmissionEngine } from '../../src/main/admission/engine';
import { defaultAdmissionRules, validateAdmissionRules } from '../../src/main/admission/rules-config';
import { GatewayAdmission } from '../../src/main/admission/gateway-admission';
import { FAMILY_NONE, parseAddressInto, parsePrefix } from '../../src/common/address';
import { ErrorCodes, isWolfguardError } from '../../src/common/errors';
import type { GatewayConfig } from '../../src/main/config/types';
import { parseConfig } from '../../src/main/config/load';
import { buildMmdb, countryRecord } from '../helpers/mmdb-writer';

const runs = Number(process.env.FUZZ_RUNS ?? 300);

/** Countries by prefix, longest match, like a GeoIP database. */
function table(entries: [string, string][]): CountryLookup & { calls: number } {
  const parsed = entries.map(([p, c]) => ({ p: parsePrefix(p), c }));
  const t = {
    calls: 0,
    lookup(family: number, words: Uint32Array): string | undefined {
      t.calls++;
      let best: { len: number; c: string } | undefined;
      for (const { p, c } of parsed) {
        if (p.family !== family) continue;
        if (coveredBy(p, words) && (best === undefined || p.length > best.len)) best = { len: p.length, c };
      }
      return best?.c;
    },
  };
  return t;
}

function coveredBy(p: ReturnType<typeof parsePrefix>, words: Uint32Array): boolean {
  const first = p.family === 4 ? 3 : 0;
  let left = p.length;
  for (let w = first; w < 4 && left > 0; w++) {
    const bits = Math.min(32, left);
    const mask = bits === 32 ? 0xffffffff : ~(0xffffffff >>> bits) >>> 0;
    if (((p.words[w]! & mask) >>> 0) !== ((words[w]! & mask) >>> 0)) return false;
    left -= bits;
  }
  return true;
}

const COUNTRIES = table([
  ['198.51.100.0/24', 'XB'],
  ['198.51.100.128/25', 'XA'],
  ['203.0.113.0/24', 'XA'],
  ['2001:db8:b::/48', 'XB'],
  ['2001:db8:a::/48', 'XA'],
]);

const FILTER = [
  'block-country XB "blocked country"',
  'allow-country XA',
  'block 203.0.113.64/26 "block inside an allowed country"',
  'allow 198.51.100.7 "office in a blocked country"',
  'block 192.0.2.0/24',
  'allow 192.0.2.128/25',
  'block 2001:db8:c::/48',
  'allow 2001:db8:c:1::/64',
  'block 2001:db8:b:5::/64',
].join('\n');

function check(f: GeoFilter, ip: string) {
  const w = new Uint32Array(4);
  const fam = parseAddressInto(ip, w);
  assert.notEqual(fam, FAMILY_NONE, ip);
  return f.check(fam, w);
}

test('precedence: allow subnet > allow-country > block subnet > block-country > no opinion; IPv4 and IPv6', () => {
  const f = new GeoFilter(parseGeofilter(FILTER, 'geo.conf'), COUNTRIES);
  const cases: [string, string | undefined, string?][] = [
    ['198.51.100.9', 'block-country:XB', 'country_blocked'],
    ['198.51.100.7', undefined], // allow subnet beats its blocked country
    ['198.51.100.200', undefined], // the /25 is in XA: allowed country
    ['203.0.113.70', undefined], // allow-country XA beats a block subnet inside it
    ['192.0.2.1', 'block:192.0.2.0/24', 'geo_blocked'],
    ['192.0.2.200', undefined], // allow /25 inside the blocked /24
    ['10.9.9.9', undefined], // no rule, unknown country
    ['2001:db8:b::1', 'block-country:XB', 'country_blocked'],
    ['2001:db8:a::1', undefined],
    ['2001:db8:c::1', 'block:2001:db8:c::/48', 'geo_blocked'],
    ['2001:db8:c:1::99', undefined],
    ['2001:db8:b:5::1', 'block:2001:db8:b:5::/64', 'geo_blocked'], // block subnet and block-country: the subnet names it
    ['::ffff:198.51.100.9', 'block-country:XB', 'country_blocked'], // mapped IPv4 is IPv4
    ['::ffff:192.0.2.200', undefined],
  ];
  for (const [ip, rule, reason] of cases) {
    const r = check(f, ip);
    assert.equal(r?.ruleId, rule, ip);
    if (reason !== undefined) assert.equal(r?.reason, reason, ip);
  }
  assert.equal(check(f, '198.51.100.9')?.country, 'XB');
});

test('counters by rule and country survive a new filter built on the same GeoCounters', () => {
  const counters = new GeoCounters();
  let f = new GeoFilter(parseGeofilter(FILTER), COUNTRIES, counters);
  check(f, '198.51.100.9');
  check(f, '198.51.100.10');
  check(f, '198.51.100.7');
  check(f, '10.0.0.1');
  f = new GeoFilter(parseGeofilter('block-country XB'), COUNTRIES, counters);
  check(f, '198.51.100.11');
  const s = counters.samples().sort((a, b) => `${a.rule}${a.country}`.localeCompare(`${b.rule}${b.country}`));
  assert.deepEqual(s, [
    { rule: 'allow:198.51.100.7/32', action: 'allow', country: 'XB', count: 1 },
    { rule: 'block-country:XB', action: 'block', country: 'XB', count: 3 },
    { rule: 'none', action: 'pass', country: 'unknown', count: 1 },
  ]);
});

test('country rules without a lookup are a programming error; no rules and no db is inert', () => {
  assert.throws(() => new GeoFilter(parseGeofilter('allow-country DE')), TypeError);
  assert.equal(new GeoFilter(parseGeofilter('# nothing')).inert, true);
  assert.equal(new GeoFilter(parseGeofilter('# nothing'), COUNTRIES).inert, false);
});

test('in the engine: bans first, then the geofilter (before TLS), then the JSON rules', () => {
  const rules = validateAdmissionRules({ default_action: 'accept', rules: [{ id: 'lab', type: 'prefix', remote_addr: '198.51.100.0/28', action: 'reject' }] });
  const e = new AdmissionEngine({ rules, sessions: { maxClients: 0, maxSameClients: 0, pendingTtlMs: 1000 } });
  e.setGeofilter(new GeoFilter(parseGeofilter(FILTER), COUNTRIES));
  const now = 1_000_000;
  const d = e.checkConnect('198.51.100.9', now);
  assert.deepEqual({ ...d }, { allow: false, reason: 'country_blocked', ruleId: 'block-country:XB', ip: '198.51.100.9', country: 'XB' });
  // Allowed by the geofilter, refused by the JSON rule: "allow" is not "accept".
  assert.equal(e.checkConnect('198.51.100.7', now).reason, 'rule_reject');
  assert.equal(e.checkConnect('198.51.100.200', now).allow, true);
  assert.equal(e.checkConnect('192.0.2.1', now).reason, 'geo_blocked');
  e.ban('198.51.100.200', now);
  assert.equal(e.checkConnect('198.51.100.200', now).reason, 'banned');
  const c = e.counters().find((x) => x.ruleId === 'block-country:XB');
  assert.deepEqual(c, { ruleId: 'block-country:XB', reason: 'country_blocked', count: 1 });
  e.setGeofilter(undefined);
  assert.equal(e.checkConnect('192.0.2.1', now).allow, true);
});

test('DTLS ClientHellos: the geofilter refuses them too (a peer that roamed into a blocked range gets no reply)', () => {
  const e = new AdmissionEngine({ rules: defaultAdmissionRules(), sessions: { maxClients: 0, maxSameClients: 0, pendingTtlMs: 1000 } });
  const now = 1_000_000;
  assert.equal(e.checkDtlsHandshake('198.51.100.9', now).allow, true, 'no geofilter yet');
  e.setGeofilter(new GeoFilter(parseGeofilter(FILTER), COUNTRIES));
  const d = e.checkDtlsHandshake('198.51.100.9', now);
  assert.deepEqual({ ...d }, { allow: false, reason: 'country_blocked', ruleId: 'block-country:XB', ip: '198.51.100.9', country: 'XB' });
  assert.equal(e.checkDtlsHandshake('192.0.2.1', now).reason, 'geo_blocked');
  assert.equal(e.checkDtlsHandshake('198.51.100.7', now).allow, true, 'allow subnet');
  assert.equal(e.checkDtlsHandshake('2001:db8:a::1', now).allow, true, 'allowed country');
});

test('property: a peer is refused iff no allow applies and some block applies', () => {
  // Rules over a small space (10.0.x.y) so random rules and addresses meet.
  const prefix = fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 16, max: 32 })).map(([a, len]) => {
    const v = ((0x0a000000 | a) & (len === 0 ? 0 : ~0 << (32 - len))) >>> 0;
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}/${len}`;
  });
  fc.assert(
    fc.property(fc.uniqueArray(fc.tuple(fc.constantFrom('allow', 'block'), prefix), { maxLength: 12, selector: ([a, p]) => `${a} ${p}` }), fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 20 }), (lines, hosts) => {
      const f = new GeoFilter(parseGeofilter(lines.map(([a, p]) => `${a} ${p}`).join('\n')));
      for (const h of hosts) {
        const ip = `10.0.${h >>> 8}.${h & 255}`;
        const w = new Uint32Array(4);
        const fam = parseAddressInto(ip, w);
        const matching = lines.filter(([, p]) => coveredBy(parsePrefix(p), w));
        const want = !matching.some(([a]) => a === 'allow') && matching.some(([a]) => a === 'block');
        assert.equal(f.check(fam, w) !== undefined, want, `${ip} with ${JSON.stringify(lines)}`);
      }
    }),
    { numRuns: runs },
  );
});

function gatewayConfig(over: Partial<GatewayConfig>): GatewayConfig {
  return { maxClients: 0, maxSameClients: 0, cookieTimeout: 300, ...over } as GatewayConfig;
}

test('GatewayAdmission: country rules need geoip-db; a missing or broken database is a start-up error', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-geo-'));
  try {
    const conf = path.join(dir, 'geofilter.conf');
    fs.writeFileSync(conf, '# test\nblock-country XB "x"\n');
    assert.throws(
      () => new GatewayAdmission(gatewayConfig({ geofilterFile: conf })),
      (e: unknown) => isWolfguardError(e, ErrorCodes.CONFIG_INVALID) && /geofilter\.conf:2: block-country XB needs a GeoIP database: set geoip-db/.test(e.message),
    );
    assert.throws(
      () => new GatewayAdmission(gatewayConfig({ geofilterFile: conf, geoipDb: path.join(dir, 'absent.mmdb') })),
      (e: unknown) => isWolfguardError(e, ErrorCodes.FILE_NOT_FOUND) && /absent\.mmdb does not exist/.test(e.message),
    );
    const junk = path.join(dir, 'junk.mmdb');
    fs.writeFileSync(junk, 'not a database');
    assert.throws(
      () => new GatewayAdmission(gatewayConfig({ geofilterFile: conf, geoipDb: junk })),
      (e: unknown) => isWolfguardError(e, ErrorCodes.CONFIG_INVALID) && /junk\.mmdb is not a MaxMind DB file/.test(e.message),
    );
    assert.throws(
      () => new GatewayAdmission(gatewayConfig({ geofilterFile: path.join(dir, 'nope.conf') })),
      (e: unknown) => isWolfguardError(e, ErrorCodes.FILE_NOT_FOUND) && /geofilter-file/.test(e.message),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('GatewayAdmission: reload after editing the file; a bad edit keeps the old rules', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-geo-'));
  let adm: GatewayAdmission | undefined;
  try {
    const conf = path.join(dir, 'geofilter.conf');
    const db = path.join(dir, 'countries.mmdb');
    fs.writeFileSync(db, buildMmdb([{ prefix: '198.51.100.0/24', value: countryRecord('XB') }, { prefix: '2001:db8:b::/48', value: countryRecord('XB') }]));
    fs.writeFileSync(conf, 'block-country XB\n');
    adm = new GatewayAdmission(gatewayConfig({ geofilterFile: conf, geoipDb: db }));
    assert.equal(adm.checkConnect('198.51.100.9').reason, 'country_blocked');
    assert.equal(adm.checkConnect('2001:db8:b::9').reason, 'country_blocked');
    assert.equal(adm.checkConnect('192.0.2.1').allow, true);

    fs.writeFileSync(conf, 'allow 198.51.100.9\nblock-country XB\nblock 192.0.2.0/24\n');
    adm.reload();
    assert.equal(adm.checkConnect('198.51.100.9').allow, true);
    assert.equal(adm.checkConnect('198.51.100.10').reason, 'country_blocked');
    assert.equal(adm.checkConnect('192.0.2.1').reason, 'geo_blocked');

    assert.deepEqual(adm.warnings, []);

    fs.writeFileSync(conf, 'allow 192.0.2.0/24\nblock 192.0.2.128/25\n');
    adm.reload();
    assert.equal(adm.warnings.length, 1);
    assert.match(adm.warnings[0]!, /geofilter\.conf:2: block 192\.0\.2\.128\/25 never matches: allow 192\.0\.2\.0\/24 \(line 1\) covers it/);

    fs.writeFileSync(conf, 'block 192.0.2.0/33\n');
    assert.throws(() => adm!.reload(), (e: unknown) => isWolfguardError(e, ErrorCodes.CONFIG_INVALID) && /geofilter\.conf:1: .*\(at "192\.0\.2\.0\/33"\)/.test(e.message));
    assert.equal(adm.checkConnect('192.0.2.200').allow, true, 'old rules stay');
    assert.equal(adm.warnings.length, 1, 'and their warnings');

    fs.writeFileSync(conf, '# nothing blocked\n');
    adm.reload();
    assert.equal(adm.checkConnect('198.51.100.10').allow, true);
    assert.ok(adm.geoCounters.samples().some((s) => s.rule === 'block-country:XB' && s.country === 'XB' && s.count === 3));
  } finally {
    adm?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('GatewayAdmission without geofilter-file or geoip-db installs no geofilter', () => {
  const adm = new GatewayAdmission(gatewayConfig({}));
  try {
    assert.equal(adm.geo, undefined);
    assert.equal(adm.checkConnect('198.51.100.9').allow, true);
    assert.deepEqual(adm.engine.activeRules.rules, defaultAdmissionRules().rules);
  } finally {
    adm.close();
  }
});

test('config keys geofilter-file and geoip-db: paths relative to the configuration file', () => {
  const base = ['server-cert = /c.pem', 'server-key = /k.pem', 'auth = "plain[passwd=/etc/ocserv/ocpasswd]"', 'ipv4-network = 10.1.0.0/16'];
  const { config } = parseConfig([...base, 'geofilter-file = geofilter.conf', 'geoip-db = /var/lib/GeoIP/GeoLite2-Country.mmdb'].join('\n') + '\n', { source: '/etc/wolfguard/wolfguard.conf', baseDir: '/etc/wolfguard' });
  assert.equal(config.geofilterFile, '/etc/wolfguard/geofilter.conf');
  assert.equal(config.geoipDb, '/var/lib/GeoIP/GeoLite2-Country.mmdb');
  const none = parseConfig(base.join('\n') + '\n', { source: '/etc/wolfguard/wolfguard.conf', baseDir: '/etc/wolfguard' }).config;
  assert.equal(none.geofilterFile, undefined);
  assert.equal(none.geoipDb, undefined);
});

test('GatewayAdmission tells its warn callback about shadowed lines, at start and after a reload', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-geo-'));
  let adm: GatewayAdmission | undefined;
  try {
    const conf = path.join(dir, 'geofilter.conf');
    fs.writeFileSync(conf, 'allow 192.0.2.0/24\nblock 192.0.2.7\n');
    const heard: string[] = [];
    adm = new GatewayAdmission(gatewayConfig({ geofilterFile: conf }), { warn: (m) => heard.push(m) });
    assert.equal(heard.length, 1);
    assert.match(heard[0]!, /geofilter\.conf:2: block 192\.0\.2\.7\/32 never matches/);
    fs.writeFileSync(conf, 'block 198.51.100.0/24\n');
    adm.reload();
    assert.equal(heard.length, 1, 'a clean file adds nothing');
  } finally {
    adm?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('GatewayAdmission.reload(next): a reloaded configuration may name other rule files; a bad one keeps the old paths', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-geo-'));
  let adm: GatewayAdmission | undefined;
  try {
    const a = path.join(dir, 'a.conf');
    const b = path.join(dir, 'b.conf');
    const rules = path.join(dir, 'rules.json');
    fs.writeFileSync(a, 'block 192.0.2.0/24\n');
    fs.writeFileSync(b, 'block 198.51.100.0/24\n');
    fs.writeFileSync(rules, JSON.stringify({ default_action: 'accept', rules: [{ id: 'lab', type: 'prefix', remote_addr: '203.0.113.0/24', action: 'reject' }] }));
    adm = new GatewayAdmission(gatewayConfig({ geofilterFile: a }));
    assert.equal(adm.checkConnect('192.0.2.1').reason, 'geo_blocked');
    adm.reload(gatewayConfig({ geofilterFile: b, admissionRules: rules }));
    assert.equal(adm.checkConnect('192.0.2.1').allow, true, 'a.conf no longer in force');
    assert.equal(adm.checkConnect('198.51.100.1').reason, 'geo_blocked');
    assert.equal(adm.checkConnect('203.0.113.1').reason, 'rule_reject');
    assert.throws(() => adm!.reload(gatewayConfig({ geofilterFile: path.join(dir, 'missing.conf') })), (e: unknown) => isWolfguardError(e, ErrorCodes.FILE_NOT_FOUND));
    // The failed reload kept b.conf and rules.json, also for a later reload without arguments.
    fs.writeFileSync(b, 'block 198.51.100.0/25\n');
    adm.reload();
    assert.equal(adm.checkConnect('198.51.100.200').allow, true);
    assert.equal(adm.checkConnect('198.51.100.1').reason, 'geo_blocked');
    assert.equal(adm.checkConnect('203.0.113.2').reason, 'rule_reject');
  } finally {
    adm?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
