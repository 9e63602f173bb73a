// The addon must not clash with the OpenSSL inside Node: wolfSSL is linked
// statically and nothing of it (nor of mimalloc) is exported. Node's crypto
// and tls keep working next to the addon in one process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { addon, sha256 } from '../../native/lib';

test('the addon exports only its N-API entry points', () => {
  addon();
  const file = path.join(__dirname, '..', '..', '..', 'native', 'build', 'Release', 'wolfguard.node');
  const out = execFileSync('nm', ['-D', '--defined-only', file], { encoding: 'utf8' });
  const exported = out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length === 3 && /[TDBR]/.test(f[1]!))
    .map((f) => f[2]!);
  const foreign = exported.filter((s) => /wolfSSL|wolfTLS|wolfDTLS|^wc_|^SSL_|^EVP_|^mi_|^malloc$|^free$/.test(s));
  assert.deepEqual(foreign, [], `exported library symbols: ${foreign.join(', ')}`);
  assert.ok(exported.includes('napi_register_module_v1'));
});

test('node:crypto and the addon agree side by side in one process', () => {
  const data = crypto.randomBytes(4096);
  assert.ok(sha256(data).equals(crypto.createHash('sha256').update(data).digest()));
  // OpenSSL still works after wolfSSL was initialised.
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const sig = crypto.sign('sha256', data, privateKey);
  assert.equal(crypto.verify('sha256', data, publicKey, sig), true);
});
