// Address parsing and longest-prefix matching: the trie must agree with the
// obvious definition (scan every prefix, keep the longest containing one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  FAMILY_NONE,
  FAMILY_V4,
  FAMILY_V6,
  formatAddress,
  formatPrefix,
  parseAddressInto,
  parsePrefix,
  type Prefix,
} from '../../src/common/address';
import { PrefixTrie } from '../../src/main/admission/prefix-trie';
import { isWolfguardError } from '../../src/common/errors';

function parse(text: string): { family: number; words: Uint32Array } {
  const words = new Uint32Array(4);
  const family = parseAddressInto(text, words);
  return { family, words };
}

test('address parsing: valid forms and their canonical text', () => {
  const cases: [string, number, string][] = [
    ['0.0.0.0', FAMILY_V4, '0.0.0.0'],
    ['192.168.1.1', FAMILY_V4, '192.168.1.1'],
    ['255.255.255.255', FAMILY_V4, '255.255.255.255'],
    ['::ffff:10.1.2.3', FAMILY_V4, '10.1.2.3'],
    ['::FFFF:0a01:0203', FAMILY_V4, '10.1.2.3'],
    ['::', FAMILY_V6, '::'],
    ['::1', FAMILY_V6, '::1'],
    ['1::', FAMILY_V6, '1::'],
    ['2001:db8::1', FAMILY_V6, '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', FAMILY_V6, '2001:db8::1'],
    ['2001:db8:0:1:0:0:0:1', FAMILY_V6, '2001:db8:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', FAMILY_V6, '2001:db8::1:0:0:1'],
    ['1:2:3:4:5:6:7:8', FAMILY_V6, '1:2:3:4:5:6:7:8'],
    ['1:0:3:4:5:6:7:8', FAMILY_V6, '1:0:3:4:5:6:7:8'],
    ['fe80::1%eth0', FAMILY_V6, 'fe80::1'],
    ['::1.2.3.4', FAMILY_V6, '::102:304'],
    ['64:ff9b::192.0.2.33', FAMILY_V6, '64:ff9b::c000:221'],
  ];
  for (const [text, family, canonical] of cases) {
    const p = parse(text);
    assert.equal(p.family, family, text);
    assert.equal(formatAddress(p.words, p.family), canonical, text);
  }
});

test('address parsing: malformed text is FAMILY_NONE, never an exception', () => {
  const bad = [
    '', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.4 ', ' 1.2.3.4', '1..2.3', '1.2.3.4%eth0',
    ':', ':::', '1:2', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7:8::', '::1::', '12345::', 'g::1', '1:',
    '::ffff:1.2.3', '::ffff:1.2.3.256', '1:2:3:4:5:6:7:1.2.3.4', 'x'.repeat(200), '[::1]',
  ];
  for (const text of bad) assert.equal(parse(text).family, FAMILY_NONE, JSON.stringify(text));
});

test('address parsing agrees with node:net on random addresses and never throws on junk', async () => {
  const net = await import('node:net');
  fc.assert(
    fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (ip) => {
      const p = parse(ip);
      assert.notEqual(p.family, FAMILY_NONE, ip);
      // Round trip through our formatter must parse to the same words.
      const again = parse(formatAddress(p.words, p.family));
      assert.deepEqual(again.words, p.words);
      assert.equal(net.isIP(formatAddress(p.words, p.family)) !== 0, true);
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 60 }), (s) => {
      const p = parse(s);
      if (p.family !== FAMILY_NONE) assert.notEqual(net.isIP(s.split('%')[0]), 0, s);
    }),
    { numRuns: 5000 },
  );
});

test('prefix parsing: mapped prefixes become IPv4, host bits and bad lengths are refused', () => {
  const ok: [string, string][] = [
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['10.1.2.3', '10.1.2.3/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['::/0', '::/0'],
    ['2001:db8::/32', '2001:db8::/32'],
    ['::ffff:10.0.0.0/104', '10.0.0.0/8'],
    ['::ffff:0:0/96', '0.0.0.0/0'],
    ['2001:db8::1', '2001:db8::1/128'],
  ];
  for (const [text, canonical] of ok) assert.equal(formatPrefix(parsePrefix(text)), canonical, text);
  const bad: [string, RegExp][] = [
    ['10.0.0.1/8', /host bits set.*10\.0\.0\.0\/8/],
    ['10.0.0.0/33', /exceeds 32/],
    ['2001:db8::/129', /exceeds 128/],
    ['10.0.0.0/', /decimal/],
    ['10.0.0.0/08', /decimal/],
    ['10.0.0.0/-1', /decimal/],
    ['nonsense/8', /not an IPv4 or IPv6/],
    ['fe80::1%eth0/64', /not an IPv4 or IPv6/],
  ];
  for (const [text, re] of bad) {
    assert.throws(() => parsePrefix(text), (e: unknown) => isWolfguardError(e) && re.test(e.message), text);
  }
  fc.assert(
    fc.property(fc.string({ maxLength: 60 }), (s) => {
      try {
        parsePrefix(s);
      } catch (e) {
        assert.ok(isWolfguardError(e), String(e));
      }
    }),
    { numRuns: 3000 },
  );
});

function trieWith(entries: [string, string][]): PrefixTrie<string> {
  const t = new PrefixTrie<string>();
  for (const [prefix, value] of entries) {
    const p = parsePrefix(prefix);
    t.insert(p.family, p.words, p.length, value);
  }
  return t;
}

function look(t: PrefixTrie<string>, ip: string): string | undefined {
  const p = parse(ip);
  return t.lookup(p.family, p.words);
}

test('longest prefix wins, per family, with /0, /32 and /128', () => {
  const t = trieWith([
    ['0.0.0.0/0', 'v4-any'],
    ['10.0.0.0/8', 'ten'],
    ['10.1.0.0/16', 'ten-one'],
    ['10.1.2.0/24', 'ten-one-two'],
    ['10.1.2.3/32', 'host'],
    ['::/0', 'v6-any'],
    ['2001:db8::/32', 'doc'],
    ['2001:db8:0:1::/64', 'doc-1'],
    ['2001:db8:0:1::5/128', 'doc-host'],
  ]);
  const cases: [string, string | undefined][] = [
    ['10.1.2.3', 'host'],
    ['10.1.2.4', 'ten-one-two'],
    ['10.1.3.1', 'ten-one'],
    ['10.200.0.1', 'ten'],
    ['11.0.0.1', 'v4-any'],
    ['::ffff:10.1.2.3', 'host'],
    ['::ffff:11.0.0.1', 'v4-any'],
    ['2001:db8:0:1::5', 'doc-host'],
    ['2001:db8:0:1::6', 'doc-1'],
    ['2001:db8:ffff::1', 'doc'],
    ['2002::1', 'v6-any'],
  ];
  for (const [ip, want] of cases) assert.equal(look(t, ip), want, ip);
  assert.equal(t.size, 9);
});

test('an IPv6 ::/0 does not cover IPv4 peers, and IPv4 rules do not cover IPv6', () => {
  const t = trieWith([['::/0', 'v6-any'], ['10.0.0.0/8', 'ten']]);
  assert.equal(look(t, '192.0.2.1'), undefined);
  assert.equal(look(t, '::ffff:192.0.2.1'), undefined);
  assert.equal(look(t, '::a00:1'), 'v6-any'); // ::10.0.0.1 (IPv4-compatible) is IPv6
});

test('insert replaces, remove prunes and lookups fall back to the shorter prefix', () => {
  const t = trieWith([['10.0.0.0/8', 'a'], ['10.1.0.0/16', 'b'], ['10.1.2.3/32', 'c']]);
  const before = t.nodes;
  const p = parsePrefix('10.1.0.0/16');
  assert.equal(t.insert(p.family, p.words, p.length, 'b2'), 'b');
  assert.equal(look(t, '10.1.9.9'), 'b2');
  assert.equal(t.remove(p.family, p.words, p.length), 'b2');
  assert.equal(t.remove(p.family, p.words, p.length), undefined);
  assert.equal(look(t, '10.1.9.9'), 'a');
  assert.equal(look(t, '10.1.2.3'), 'c');
  const h = parsePrefix('10.1.2.3');
  assert.equal(t.remove(h.family, h.words, h.length), 'c');
  assert.equal(look(t, '10.1.2.3'), 'a');
  assert.ok(t.nodes < before, 'nodes of removed prefixes are freed');
  const z = parsePrefix('10.0.0.0/8');
  t.remove(z.family, z.words, z.length);
  assert.equal(t.size, 0);
  assert.equal(t.nodes, 2, 'only the two roots remain');
  assert.equal(look(t, '10.1.2.3'), undefined);
  // /0 removal and re-insert
  const any = parsePrefix('0.0.0.0/0');
  t.insert(any.family, any.words, any.length, 'any');
  assert.equal(look(t, '1.2.3.4'), 'any');
  t.remove(any.family, any.words, any.length);
  assert.equal(look(t, '1.2.3.4'), undefined);
});

interface RandomPrefix {
  family: number;
  words: number[];
  length: number;
}

function maskWords(family: number, words: number[], length: number): Uint32Array {
  const w = Uint32Array.from(words);
  if (family === FAMILY_V4) {
    w[0] = 0;
    w[1] = 0;
    w[2] = 0xffff;
    w[3] = length === 0 ? 0 : w[3] & (~0 << (32 - length));
    return w;
  }
  if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) w[2] = 0xfffe; // keep IPv6 samples out of the mapped range
  for (let i = 0; i < 4; i++) {
    const keep = length - i * 32;
    w[i] = keep >= 32 ? w[i] : keep <= 0 ? 0 : w[i] & (~0 << (32 - keep));
  }
  return w;
}

function naiveContains(p: Prefix, family: number, addr: Uint32Array): boolean {
  if (p.family !== family) return false;
  const copy = Uint32Array.from(addr);
  const m = maskWords(family, Array.from(copy), p.length);
  return m.every((v, i) => v === p.words[i]);
}

// Addresses near the prefixes are more interesting than uniform ones: derive
// some from the prefixes by flipping low bits.
const word = fc.integer({ min: 0, max: 0xffffffff });
const prefixArb: fc.Arbitrary<RandomPrefix> = fc.oneof(
  fc.record({ family: fc.constant(FAMILY_V4), words: fc.tuple(word, word, word, word), length: fc.integer({ min: 0, max: 32 }) }),
  fc.record({ family: fc.constant(FAMILY_V6), words: fc.tuple(word, word, word, word), length: fc.integer({ min: 0, max: 128 }) }),
) as fc.Arbitrary<RandomPrefix>;

test('property: trie lookup equals a naive longest-prefix scan, through inserts and removes', () => {
  fc.assert(
    fc.property(
      fc.array(prefixArb, { maxLength: 60 }),
      fc.array(fc.nat(), { maxLength: 20 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 127 }), fc.boolean(), prefixArb), { minLength: 1, maxLength: 40 }),
      (raw, removals, probes) => {
        const trie = new PrefixTrie<number>();
        const live = new Map<string, { p: Prefix; v: number }>();
        raw.forEach((r, i) => {
          const p: Prefix = { family: r.family as 4 | 6, words: maskWords(r.family, r.words, r.length), length: r.length };
          trie.insert(p.family, p.words, p.length, i);
          live.set(formatPrefix(p), { p, v: i });
        });
        const keys = [...live.keys()];
        for (const r of removals) {
          if (keys.length === 0) break;
          const k = keys[r % keys.length];
          const e = live.get(k);
          if (e === undefined) continue;
          assert.equal(trie.remove(e.p.family, e.p.words, e.p.length), e.v);
          live.delete(k);
        }
        assert.equal(trie.size, live.size);
        for (const [pick, bit, derive, rnd] of probes) {
          let family: number;
          let addr: Uint32Array;
          const all = [...live.values()];
          if (derive && all.length > 0) {
            const base = all[pick % all.length].p;
            family = base.family;
            addr = Uint32Array.from(base.words);
            const b = family === FAMILY_V4 ? 96 + (bit % 32) : bit;
            addr[b >>> 5] ^= 1 << (31 - (b & 31));
          } else {
            family = rnd.family;
            addr = maskWords(rnd.family, rnd.words, family === FAMILY_V4 ? 32 : 128);
          }
          let best: { p: Prefix; v: number } | undefined;
          for (const e of all) if (naiveContains(e.p, family, addr) && (best === undefined || e.p.length > best.p.length)) best = e;
          assert.equal(trie.lookup(family, addr), best?.v);
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('a trie emptied by removals has released its nodes and answers nothing', () => {
  const t = new PrefixTrie<number>();
  const prefixes: Prefix[] = [];
  for (let i = 0; i < 2000; i++) {
    const p = parsePrefix(`${(i * 7919) & 255}.${(i * 104729) & 255}.${i & 255}.0/24`);
    if (t.get(p.family, p.words, p.length) === undefined) {
      t.insert(p.family, p.words, p.length, i);
      prefixes.push(p);
    }
  }
  for (const p of prefixes) t.remove(p.family, p.words, p.length);
  assert.equal(t.size, 0);
  assert.equal(t.nodes, 2);
  for (const p of prefixes.slice(0, 50)) assert.equal(t.lookup(p.family, p.words), undefined);
});
