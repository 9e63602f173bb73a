// wolfCrypt helpers for the control plane: HMAC (TOTP), SHA-256, random
// bytes, and crypt(3) password hashes verified off the event loop.
import { timingSafeEqual } from 'node:crypto';
import { ErrorCodes, WolfguardError, invalidArgument } from '../../src/common/errors';
import { addon } from './addon';

export type HashName = 'sha1' | 'sha256' | 'sha384' | 'sha512';

export function hmac(hash: HashName, key: Uint8Array, data: Uint8Array): Buffer {
  const t = addon().hashTypes[hash];
  if (t === undefined) throw invalidArgument(`unknown hash ${String(hash)}`);
  return addon().hmac(t, key, data);
}

export function sha256(data: Uint8Array): Buffer {
  return addon().sha256(data);
}

export function randomBytes(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 65536) throw invalidArgument('randomBytes: n must be an integer in 0..65536');
  return addon().randomBytes(n);
}

/** The hash of wolfSSL's random generator (Hash_DRBG) in this process: SHA-256 (native/src/alloc.cc says why). */
export function drbgHash(): 'SHA-256' | 'SHA-512' {
  return addon().drbg;
}

/** crypt(3) on the libuv threadpool; rejects when the hash method is unknown to this system. */
export function cryptHash(password: string, setting: string): Promise<string> {
  return new Promise((resolve, reject) => {
    addon().crypt(password, setting, (err, hash) => {
      if (err) reject(err);
      else if (hash === null) reject(new WolfguardError(ErrorCodes.CRYPTO, `unsupported or malformed password hash setting`));
      else resolve(hash);
    });
  });
}

/** Verifies a password against a stored crypt(3) hash in constant time. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  let computed: string;
  try {
    computed = await cryptHash(password, stored);
  } catch {
    return false;
  }
  const a = Buffer.from(computed);
  const b = Buffer.from(stored);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Hash method prefixes as crypt(3) names them. */
export const HashMethods = { sha256: '$5$', sha512: '$6$', yescrypt: '$y$', bcrypt: '$2b$' } as const;

/** Hashes a new password with a fresh salt (default SHA-512 crypt, as ocpasswd does). */
export function hashPassword(password: string, method: keyof typeof HashMethods = 'sha512', rounds = 0): Promise<string> {
  const setting = addon().gensalt(HashMethods[method], rounds);
  if (setting === null) {
    return Promise.reject(new WolfguardError(ErrorCodes.CRYPTO, `password hash method ${method} is not supported by this system's libcrypt`));
  }
  return cryptHash(password, setting);
}
