// Country of an address from a MaxMind DB file (GeoLite2-Country,
// GeoIP2-Country or -City, or any .mmdb whose records carry
// country.iso_code), read with the `maxmind` package's Reader. The file is
// read once into memory (synchronously: it happens at start-up and on a
// reload, never per connection); lookups run on the main thread before any
// TLS work, so each address's answer is cached in a bounded table.
import * as fs from 'node:fs';
import { Reader, type Response } from 'maxmind';
import { WolfguardError, ErrorCodes } from '../../common/errors';
import { FAMILY_V4, formatAddress } from '../../common/address';
import type { CountryLookup } from './geofilter';

/** Addresses remembered per family; at ~100 bytes an entry, 65,536 is a few MB at most. */
export const DEFAULT_COUNTRY_CACHE = 65_536;
/** An .mmdb of a gigabyte is not a country database; refuse before reading it into memory. */
const MAX_DB_BYTES = 1 << 30;

interface CountryRecord {
  country?: { iso_code?: unknown };
  registered_country?: { iso_code?: unknown };
}

/** Remembers up to `capacity` answers; when full, the oldest entry goes (insertion order). */
class BoundedCache<K> {
  private readonly map = new Map<K, string | null>();
  constructor(private readonly capacity: number) {}

  get(key: K): string | null | undefined {
    return this.map.get(key);
  }

  set(key: K, value: string | null): void {
    if (this.map.size >= this.capacity) {
      const oldest = this.map.keys().next();
      if (oldest.done !== true) this.map.delete(oldest.value);
    }
    this.map.set(key, value);
  }

  get size(): number {
    return this.map.size;
  }
}

export interface CountryDbInfo {
  path: string;
  databaseType: string;
  ipVersion: number;
  buildEpoch: string;
  nodeCount: number;
}

export class CountryDb implements CountryLookup {
  private readonly reader: Reader<Response>;
  /** IPv4 keyed by the 32-bit address (no string built on a hit), IPv6 by its text. */
  private readonly cache4: BoundedCache<number>;
  private readonly cache6: BoundedCache<string>;
  readonly info: CountryDbInfo;
  lookups = 0;
  cacheHits = 0;
  /** Lookups the reader failed on (a corrupt record); answered "unknown". */
  errors = 0;

  constructor(reader: Reader<Response>, path: string, cacheSize = DEFAULT_COUNTRY_CACHE) {
    this.reader = reader;
    this.cache4 = new BoundedCache(cacheSize);
    this.cache6 = new BoundedCache(cacheSize);
    const m = reader.metadata;
    // A corrupt build_epoch decodes to an invalid Date, whose toISOString() throws a RangeError.
    const epoch = m.buildEpoch instanceof Date ? m.buildEpoch.getTime() : NaN;
    if (!Number.isFinite(epoch)) throw new WolfguardError(ErrorCodes.CONFIG_INVALID, `GeoIP database ${path}: its build_epoch metadata is not a valid time (a damaged file?)`, { file: path });
    this.info = { path, databaseType: m.databaseType, ipVersion: m.ipVersion, buildEpoch: new Date(epoch).toISOString(), nodeCount: m.nodeCount };
  }

  lookup(family: number, words: Uint32Array): string | undefined {
    this.lookups++;
    if (family === FAMILY_V4) {
      const key = words[3]!;
      const hit = this.cache4.get(key);
      if (hit !== undefined) {
        this.cacheHits++;
        return hit ?? undefined;
      }
      const c = this.resolve(formatAddress(words, FAMILY_V4));
      this.cache4.set(key, c ?? null);
      return c;
    }
    const text = formatAddress(words, family);
    const hit = this.cache6.get(text);
    if (hit !== undefined) {
      this.cacheHits++;
      return hit ?? undefined;
    }
    const c = this.resolve(text);
    this.cache6.set(text, c ?? null);
    return c;
  }

  get cacheSize(): number {
    return this.cache4.size + this.cache6.size;
  }

  private resolve(address: string): string | undefined {
    let rec: CountryRecord | null;
    try {
      rec = this.reader.get(address) as CountryRecord | null;
    } catch {
      // An IPv6 address against an IPv4-only database, or a corrupt record:
      // unknown, which country rules never match (allow-country cannot be
      // gained, block-country not escaped by a bad file: see the errors count).
      this.errors++;
      return undefined;
    }
    const code = rec?.country?.iso_code ?? rec?.registered_country?.iso_code;
    return typeof code === 'string' && /^[A-Za-z]{2}$/.test(code) ? code.toUpperCase() : undefined;
  }
}

/**
 * Opens a .mmdb file. Missing, unreadable or not a MaxMind DB → WolfguardError
 * (FILE_NOT_FOUND, FILE_UNREADABLE, CONFIG_INVALID) whose message names the
 * file and says what country rules need.
 */
export function openCountryDb(path: string, cacheSize = DEFAULT_COUNTRY_CACHE): CountryDb {
  let buf: Buffer;
  try {
    const st = fs.statSync(path);
    if (!st.isFile()) throw new WolfguardError(ErrorCodes.FILE_UNREADABLE, `GeoIP database ${path} is not a regular file`, { file: path });
    if (st.size > MAX_DB_BYTES) throw new WolfguardError(ErrorCodes.FILE_UNREADABLE, `GeoIP database ${path} is ${st.size} bytes, more than ${MAX_DB_BYTES}`, { file: path });
    buf = fs.readFileSync(path);
  } catch (e) {
    if (e instanceof WolfguardError) throw e;
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new WolfguardError(ErrorCodes.FILE_NOT_FOUND, `GeoIP database ${path} does not exist (geoip-db; country rules cannot be checked without it)`, { file: path });
    throw new WolfguardError(ErrorCodes.FILE_UNREADABLE, `cannot read GeoIP database ${path}: ${err.message}`, { file: path }, { cause: e });
  }
  let reader: Reader<Response>;
  try {
    reader = new Reader<Response>(buf);
  } catch (e) {
    throw new WolfguardError(ErrorCodes.CONFIG_INVALID, `GeoIP database ${path} is not a MaxMind DB file: ${(e as Error).message}`, { file: path }, { cause: e });
  }
  return new CountryDb(reader, path, cacheSize);
}
