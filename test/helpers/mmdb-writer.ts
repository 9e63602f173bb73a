// A small test-only writer of MaxMind DB files (format 2.0, the spec at
// maxmind.github.io/MaxMind-DB), because npm has no well-kept writer (the
// maintained writers are Perl, Go and Python). Enough for the tests: an IPv6
// tree (IPv4 networks at ::a.b.c.d/96+len, where MaxMind's readers look
// them up), 32-bit records, and the data types a country record and the
// metadata need (map, array, UTF-8 string, uint16/32/64, boolean, double).
// Output is checked against the `maxmind` reader in test/unit/geo-mmdb.test.ts.
import { FAMILY_V4, parsePrefix } from '../../src/common/address';

export type MmdbValue = string | number | bigint | boolean | MmdbValue[] | { [key: string]: MmdbValue };

export interface MmdbNetwork {
  /** "10.0.0.0/8", "2001:db8::/32", "192.0.2.1" */
  prefix: string;
  value: MmdbValue;
}

export interface MmdbOptions {
  databaseType?: string;
  description?: string;
  /** Build time in seconds since the epoch (default: now). */
  buildEpoch?: number;
}

const METADATA_MARKER = Buffer.from([0xab, 0xcd, 0xef, ...Buffer.from('MaxMind.com', 'latin1')]);
const DATA_SEPARATOR = 16;
const RECORD_BYTES = 4;
/** IPv4 space sits after 96 zero bits in an IPv6 tree. */
const V4_OFFSET = 96;

// Data section type numbers (spec "Output Data Section").
const T_UTF8 = 2;
const T_DOUBLE = 3;
const T_UINT16 = 5;
const T_UINT32 = 6;
const T_MAP = 7;
const T_UINT64 = 9;
const T_ARRAY = 11;
const T_BOOLEAN = 14;
/** Types above 7 are written as type 0 plus a byte holding type - 7. */
const EXTENDED_BASE = 7;

function controlBytes(type: number, size: number): Buffer {
  const head: number[] = [];
  let sizeBits: number;
  const ext: number[] = [];
  if (size < 29) sizeBits = size;
  else if (size < 29 + 256) {
    sizeBits = 29;
    ext.push(size - 29);
  } else if (size < 285 + 65_536) {
    sizeBits = 30;
    const v = size - 285;
    ext.push(v >> 8, v & 0xff);
  } else {
    sizeBits = 31;
    const v = size - 65_821;
    ext.push((v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff);
  }
  if (type > EXTENDED_BASE) head.push(sizeBits, type - EXTENDED_BASE);
  else head.push((type << 5) | sizeBits);
  return Buffer.from([...head, ...ext]);
}

function uintBytes(v: bigint): Buffer {
  const out: number[] = [];
  while (v > 0n) {
    out.unshift(Number(v & 0xffn));
    v >>= 8n;
  }
  return Buffer.from(out);
}

export function encodeValue(v: MmdbValue): Buffer {
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    return Buffer.concat([controlBytes(T_UTF8, b.length), b]);
  }
  if (typeof v === 'boolean') return controlBytes(T_BOOLEAN, v ? 1 : 0);
  if (typeof v === 'number' && !Number.isInteger(v)) {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(v);
    return Buffer.concat([controlBytes(T_DOUBLE, 8), b]);
  }
  if (typeof v === 'number' || typeof v === 'bigint') {
    const n = BigInt(v);
    if (n < 0n) throw new RangeError('mmdb-writer: negative integers are not supported');
    const type = n < 1n << 16n ? T_UINT16 : n < 1n << 32n ? T_UINT32 : T_UINT64;
    const b = uintBytes(n);
    return Buffer.concat([controlBytes(type, b.length), b]);
  }
  if (Array.isArray(v)) return Buffer.concat([controlBytes(T_ARRAY, v.length), ...v.map(encodeValue)]);
  const entries = Object.entries(v);
  return Buffer.concat([controlBytes(T_MAP, entries.length), ...entries.flatMap(([k, x]) => [encodeValue(k), encodeValue(x)])]);
}

interface Node {
  children: [Node | undefined, Node | undefined];
  /** Data offset of a network ending here. */
  data?: number;
  id?: number;
}

function bitAt(bytes: Uint8Array, i: number): number {
  return (bytes[i >> 3]! >> (7 - (i & 7))) & 1;
}

/** The MaxMind DB file for these networks; a longer prefix overrides the shorter one it lies in. */
export function buildMmdb(networks: MmdbNetwork[], opts: MmdbOptions = {}): Buffer {
  // Data section: one encoding per distinct value.
  const dataParts: Buffer[] = [];
  const offsets = new Map<string, number>();
  let dataLen = 0;
  const root: Node = { children: [undefined, undefined] };
  // Shorter prefixes first, so a longer one inserted later overrides inside them.
  const sorted = networks.map((n) => ({ n, p: parsePrefix(n.prefix) })).sort((a, b) => (a.p.family === FAMILY_V4 ? V4_OFFSET : 0) + a.p.length - ((b.p.family === FAMILY_V4 ? V4_OFFSET : 0) + b.p.length));
  for (const { n, p } of sorted) {
    const key = JSON.stringify(n.value, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x));
    let off = offsets.get(key);
    if (off === undefined) {
      const enc = encodeValue(n.value);
      off = dataLen;
      offsets.set(key, off);
      dataParts.push(enc);
      dataLen += enc.length;
    }
    const bytes = new Uint8Array(16);
    for (let w = 0; w < 4; w++) {
      const v = p.family === FAMILY_V4 ? (w === 3 ? p.words[3]! : 0) : p.words[w]!;
      bytes[w * 4] = v >>> 24;
      bytes[w * 4 + 1] = (v >>> 16) & 0xff;
      bytes[w * 4 + 2] = (v >>> 8) & 0xff;
      bytes[w * 4 + 3] = v & 0xff;
    }
    const depth = (p.family === FAMILY_V4 ? V4_OFFSET : 0) + p.length;
    let node = root;
    for (let i = 0; i < depth; i++) {
      const b = bitAt(bytes, i);
      node = node.children[b] ??= { children: [undefined, undefined] };
    }
    node.data = off;
    // A longer prefix replaces whatever was under this one.
    node.children = [undefined, undefined];
  }
  if (root.data !== undefined) throw new RangeError('mmdb-writer: a /0 network is not supported');
  // Number the internal nodes breadth first; leaves become data records.
  const internal: Node[] = [];
  const queue: Node[] = [root];
  while (queue.length > 0) {
    const n = queue.shift()!;
    n.id = internal.length;
    internal.push(n);
    for (const c of n.children) if (c !== undefined && (c.children[0] !== undefined || c.children[1] !== undefined)) queue.push(c);
  }
  const nodeCount = internal.length;
  const record = (c: Node | undefined, inherited: number | undefined): number => {
    if (c !== undefined && c.id !== undefined) return c.id;
    const d = c?.data ?? inherited;
    return d === undefined ? nodeCount : nodeCount + DATA_SEPARATOR + d;
  };
  const tree = Buffer.alloc(nodeCount * 2 * RECORD_BYTES);
  // Data of a network that has longer networks inside it is inherited by its empty branches.
  const inheritedOf = new Map<Node, number | undefined>([[root, undefined]]);
  for (const n of internal) {
    const inh = n.data ?? inheritedOf.get(n);
    for (const c of n.children) if (c !== undefined && c.id !== undefined) inheritedOf.set(c, c.data ?? inh);
    tree.writeUInt32BE(record(n.children[0], inh), n.id! * 2 * RECORD_BYTES);
    tree.writeUInt32BE(record(n.children[1], inh), n.id! * 2 * RECORD_BYTES + RECORD_BYTES);
  }
  const metadata = encodeValue({
    node_count: nodeCount,
    record_size: RECORD_BYTES * 8,
    ip_version: 6,
    database_type: opts.databaseType ?? 'wolfguard-test-country',
    languages: ['en'],
    binary_format_major_version: 2,
    binary_format_minor_version: 0,
    build_epoch: BigInt(opts.buildEpoch ?? Math.floor(Date.now() / 1000)),
    description: { en: opts.description ?? 'wolfguard test database' },
  });
  return Buffer.concat([tree, Buffer.alloc(DATA_SEPARATOR), ...dataParts, METADATA_MARKER, metadata]);
}

/** A GeoLite2-Country-shaped record. */
export function countryRecord(isoCode: string): MmdbValue {
  return { country: { iso_code: isoCode, names: { en: `Test country ${isoCode}` } } };
}
