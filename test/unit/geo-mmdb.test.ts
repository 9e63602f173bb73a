// The test-only .mmdb writer against the `maxmind` reader, and CountryDb:
// longest network wins, IPv4 inside the IPv6 tree, unknown addresses, the
// per-address cache (hits, bound), and corrupt or foreign files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { Reader } from 'maxmind';
import { buildMmdb, countryRecord, type MmdbNetwork } from '../helpers/mmdb-writer';
import { CountryDb, openCountryDb } from '../../src/main/admission/country-db';
import { parseAddressInto } from '../../src/common/address';
import { ErrorCodes, isWolfguardError } from '../../src/common/errors';

const runs = Number(process.env.FUZZ_RUNS ?? 100);

const NETWORKS: MmdbNetwork[] = [
  { prefix: '10.0.0.0/8', value: countryRecord('XA') },
  { prefix: '10.1.0.0/16', value: countryRecord('XB') },
  { prefix: '10.1.2.3', value: countryRecord('XC') },
  { prefix: '192.0.2.0/24', value: { registered_country: { iso_code: 'XD' } } },
  { prefix: '2001:db8::/32', value: countryRecord('XE') },
  { prefix: '2001:db8:1::/48', value: countryRecord('XF') },
  { prefix: '198.51.100.0/24', value: { country: { iso_code: 'not-a-code' } } },
];

function lookupText(db: CountryDb, ip: string): string | undefined {
  const w = new Uint32Array(4);
  return db.lookup(parseAddressInto(ip, w), w);
}

test('the writer produces what the maxmind reader reads: values, metadata, prefix lengths', () => {
  const buf = buildMmdb([...NETWORKS, { prefix: '203.0.113.0/24', value: { n: 70000, big: 5_000_000_000n, f: 1.5, t: true, list: ['a', 'b'], s: 'x'.repeat(300) } }], { databaseType: 'Test-Country', buildEpoch: 1_700_000_000 });
  const r = new Reader(buf);
  assert.equal(r.metadata.databaseType, 'Test-Country');
  assert.equal(r.metadata.ipVersion, 6);
  assert.equal(r.metadata.recordSize, 32);
  assert.equal(r.metadata.buildEpoch.getTime(), 1_700_000_000_000);
  assert.deepEqual(r.get('10.9.9.9'), countryRecord('XA'));
  assert.deepEqual(r.get('10.1.9.9'), countryRecord('XB'));
  assert.deepEqual(r.get('10.1.2.3'), countryRecord('XC'));
  assert.deepEqual(r.get('10.1.2.4'), countryRecord('XB'));
  assert.equal(r.get('11.0.0.1'), null);
  assert.deepEqual(r.getWithPrefixLength('10.1.2.3')[1], 32);
  assert.deepEqual(r.getWithPrefixLength('192.0.2.77')[1], 24);
  // Outside the /16 the /8's data sits at the split: the reader reports that depth.
  assert.deepEqual(r.getWithPrefixLength('10.200.0.1'), [countryRecord('XA'), 9]);
  assert.deepEqual(r.get('2001:db8:1::5'), countryRecord('XF'));
  assert.deepEqual(r.get('2001:db8:2::5'), countryRecord('XE'));
  assert.equal(r.get('2001:db9::1'), null);
  assert.deepEqual(r.get('203.0.113.5'), { n: 70000, big: 5_000_000_000n, f: 1.5, t: true, list: ['a', 'b'], s: 'x'.repeat(300) });
});

test('CountryDb: country or registered country, upper case, unknown for strange codes and misses', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-mmdb-'));
  try {
    const file = path.join(dir, 'c.mmdb');
    fs.writeFileSync(file, buildMmdb(NETWORKS));
    const db = openCountryDb(file);
    const cases: [string, string | undefined][] = [
      ['10.9.9.9', 'XA'],
      ['10.1.2.3', 'XC'],
      ['::ffff:10.1.2.3', 'XC'],
      ['192.0.2.77', 'XD'],
      ['198.51.100.1', undefined],
      ['172.16.0.1', undefined],
      ['2001:db8:1::1', 'XF'],
      ['2001:db8:ffff::1', 'XE'],
      ['fd00::1', undefined],
    ];
    for (const [ip, want] of cases) assert.equal(lookupText(db, ip), want, ip);
    assert.equal(db.info.ipVersion, 6);
    assert.equal(db.info.path, file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('CountryDb caches each address and stays within its bound', () => {
  const r = new Reader(buildMmdb(NETWORKS));
  const db = new CountryDb(r, 'mem', 4);
  for (let round = 0; round < 3; round++) for (const ip of ['10.0.0.1', '10.0.0.2', '2001:db8::1']) lookupText(db, ip);
  assert.equal(db.lookups, 9);
  assert.equal(db.cacheHits, 6);
  for (let i = 0; i < 50; i++) lookupText(db, `10.0.1.${i}`);
  for (let i = 0; i < 50; i++) lookupText(db, `2001:db8::${i.toString(16)}`);
  assert.ok(db.cacheSize <= 8, `cache holds ${db.cacheSize}`);
  // Answers stay right after eviction.
  assert.equal(lookupText(db, '10.1.2.3'), 'XC');
});

test('openCountryDb errors: missing, a directory, not an mmdb, truncated', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-mmdb-'));
  try {
    const isErr = (code: string, re: RegExp) => (e: unknown) => isWolfguardError(e) && e.code === code && re.test(e.message);
    assert.throws(() => openCountryDb(path.join(dir, 'none.mmdb')), isErr(ErrorCodes.FILE_NOT_FOUND, /none\.mmdb does not exist/));
    assert.throws(() => openCountryDb(dir), isErr(ErrorCodes.FILE_UNREADABLE, /not a regular file/));
    const junk = path.join(dir, 'junk.mmdb');
    fs.writeFileSync(junk, Buffer.alloc(1000, 7));
    assert.throws(() => openCountryDb(junk), isErr(ErrorCodes.CONFIG_INVALID, /junk\.mmdb is not a MaxMind DB file/));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('fuzz: corrupted databases either fail to open with CONFIG_INVALID or answer lookups without throwing', () => {
  const good = buildMmdb(NETWORKS);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-mmdb-'));
  const file = path.join(dir, 'f.mmdb');
  try {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), fc.nat(good.length), (edits, cut) => {
        const b = Buffer.from(good.subarray(0, Math.max(cut, good.length - 64)));
        for (const [at, v] of edits) if (at < b.length) b[at] = v;
        fs.writeFileSync(file, b);
        let db: CountryDb;
        try {
          db = openCountryDb(file);
        } catch (e) {
          assert.ok(isWolfguardError(e, ErrorCodes.CONFIG_INVALID), String(e));
          return;
        }
        for (const ip of ['10.1.2.3', '10.9.9.9', '192.0.2.1', '2001:db8:1::1', 'fd00::1']) {
          const c = lookupText(db, ip);
          assert.ok(c === undefined || /^[A-Z]{2}$/.test(c));
        }
      }),
      { numRuns: runs },
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a database whose build_epoch is damaged is CONFIG_INVALID naming it, not a RangeError (found by the fuzz test above)', () => {
  const b = Buffer.from(buildMmdb(NETWORKS));
  // The fuzz counterexample: one byte of the metadata's build_epoch changed, the tail cut.
  b[2166] = 1;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-mmdb-'));
  const file = path.join(dir, 'epoch.mmdb');
  try {
    fs.writeFileSync(file, b.subarray(0, Math.max(2231, b.length - 64)));
    assert.throws(() => openCountryDb(file), (e: unknown) => isWolfguardError(e, ErrorCodes.CONFIG_INVALID) && /build_epoch/.test(e.message));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
