// FIPS-approved mode: which certificates and cipher lists pass, with the
// reason for each refusal; the defaults it applies; the module's status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FIPS_GROUPS, FIPS_TLS_CIPHERS, certificateSignatureOid, checkCertificate, describeFipsBuild, fipsBuildStatus, planFips, unapprovedCiphers } from '../../src/main/fips';
import { ErrorCodes, WolfguardError, isWolfguardError } from '../../src/common/errors';
import { parseConfig } from '../../src/main/config/load';
import type { GatewayConfig } from '../../src/main/config/types';
import { startGateway, type GatewayOptions } from '../../src/main/gateway';
import * as tls from 'node:tls';
import { TlsContext, type KeyExchangeGroup } from '../../native/lib';
import { startAddonServer } from '../helpers/tls-pair';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-fips-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

/** A self-signed certificate with the given key options and digest; returns its PEM. */
function selfSigned(name: string, keyArgs: string[], digest: string): string {
  const out = path.join(dir, `${name}.pem`);
  execFileSync('openssl', ['req', '-x509', '-newkey', ...keyArgs, '-nodes', '-keyout', path.join(dir, `${name}.key`), '-out', out, '-days', '2', `-${digest}`, '-subj', `/CN=${name}`], { stdio: 'ignore' });
  return fs.readFileSync(out, 'utf8');
}

const certs = {
  ecP256: selfSigned('ec256', ['ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], 'sha256'),
  ecP384: selfSigned('ec384', ['ec', '-pkeyopt', 'ec_paramgen_curve:P-384'], 'sha384'),
  ecP521: selfSigned('ec521', ['ec', '-pkeyopt', 'ec_paramgen_curve:P-521'], 'sha512'),
  secp256k1: selfSigned('k1', ['ec', '-pkeyopt', 'ec_paramgen_curve:secp256k1'], 'sha256'),
  rsa2048: selfSigned('rsa2048', ['rsa:2048'], 'sha256'),
  rsa1024: selfSigned('rsa1024', ['rsa:1024'], 'sha256'),
  rsaSha1: selfSigned('rsasha1', ['rsa:2048'], 'sha1'),
  ed25519: selfSigned('ed25519', ['ed25519'], 'sha256'),
};

test('certificates: approved keys pass, others are refused naming the problem', () => {
  const cases: Array<{ name: keyof typeof certs; ok: boolean; match?: RegExp }> = [
    { name: 'ecP256', ok: true },
    { name: 'ecP384', ok: true },
    { name: 'rsa2048', ok: true },
    { name: 'ecP521', ok: false, match: /EC key on secp521r1/ },
    { name: 'secp256k1', ok: false, match: /EC key on secp256k1/ },
    { name: 'rsa1024', ok: false, match: /RSA key of 1024 bits; at least 2048/ },
    { name: 'rsaSha1', ok: false, match: /signed with sha1WithRSAEncryption/ },
    { name: 'ed25519', ok: false, match: /ed25519 key/ },
  ];
  for (const c of cases) {
    if (c.ok) assert.doesNotThrow(() => checkCertificate(certs[c.name]), c.name);
    else
      assert.throws(
        () => checkCertificate(certs[c.name]),
        (e: unknown) => isWolfguardError(e, ErrorCodes.CONFIG_INVALID) && c.match!.test(e.message) && e.message.startsWith('fips = true:'),
        c.name,
      );
  }
});

test('certificate verdict reports key and signature', () => {
  assert.deepEqual(checkCertificate(certs.ecP384), { keyType: 'ec', curve: 'secp384r1', signature: 'ecdsa-with-SHA384' });
  assert.deepEqual(checkCertificate(certs.rsa2048), { keyType: 'rsa', bits: 2048, signature: 'sha256WithRSAEncryption' });
});

test('signature OID is read from DER; garbage is a WolfguardError', () => {
  const der = Buffer.from(certs.rsaSha1.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  assert.equal(certificateSignatureOid(der), '1.2.840.113549.1.1.5');
  for (const bad of [Buffer.alloc(0), Buffer.from([0x30]), Buffer.from([0x30, 0x85, 1, 1, 1, 1, 1]), Buffer.from([0x02, 0x01, 0x00]), der.subarray(0, 40)]) {
    assert.throws(() => certificateSignatureOid(bad), WolfguardError);
  }
});

test('cipher lists: only AES-GCM with SHA-2 (TLS 1.3, ECDHE, PSK) is approved', () => {
  const cases: Array<[string, string[]]> = [
    [FIPS_TLS_CIPHERS, []],
    ['TLS13-AES128-GCM-SHA256:TLS13-CHACHA20-POLY1305-SHA256', ['TLS13-CHACHA20-POLY1305-SHA256']],
    ['ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305', ['ECDHE-RSA-CHACHA20-POLY1305']],
    ['AES128-SHA:ECDHE-RSA-AES128-SHA', ['AES128-SHA', 'ECDHE-RSA-AES128-SHA']],
    ['DHE-RSA-AES128-GCM-SHA256', ['DHE-RSA-AES128-GCM-SHA256']],
    ['PSK-AES128-GCM-SHA256', []],
  ];
  for (const [list, bad] of cases) assert.deepEqual(unapprovedCiphers(list), bad, list);
});

function baseConfig(extra = ''): GatewayConfig {
  return parseConfig(`auth = "plain[passwd=/x]"\nserver-cert = ${path.join(dir, 'ec256.pem')}\nserver-key = ${path.join(dir, 'ec256.key')}\nipv4-network = 192.168.90.0/24\n${extra}`, { source: '<t>', baseDir: dir }).config;
}

test('fips = true is read from the configuration file', () => {
  assert.equal(baseConfig('fips = true\n').fips, true);
  assert.equal(baseConfig('fips = false\n').fips, false);
  assert.equal(baseConfig().fips, undefined);
  assert.throws(() => baseConfig('fips = maybe\n'), (e: unknown) => isWolfguardError(e, ErrorCodes.CONFIG_INVALID));
});

test('planFips: default ciphers, legacy DTLS off, refuses a bad cipher list or certificate', () => {
  const plan = planFips(baseConfig('fips = true\n'), certs.ecP256);
  assert.equal(plan.config.ciphers, FIPS_TLS_CIPHERS);
  assert.equal((plan.config as { dtlsLegacy?: boolean }).dtlsLegacy, false);
  assert.equal(plan.certificate.curve, 'prime256v1');
  assert.throws(() => planFips(baseConfig('fips = true\nciphers = TLS13-CHACHA20-POLY1305-SHA256\n'), certs.ecP256), /not FIPS-approved: TLS13-CHACHA20-POLY1305-SHA256/);
  assert.throws(() => planFips(baseConfig('fips = true\nciphers = ":"\n'), certs.ecP256), /ciphers is empty/);
  assert.throws(() => planFips(baseConfig('fips = true\n'), certs.rsa1024), /RSA key of 1024 bits/);
  // A chain certificate is checked too.
  assert.throws(() => planFips(baseConfig('fips = true\n'), certs.ecP256 + certs.rsaSha1), /chain certificate 1 is signed with sha1/);
  assert.throws(() => planFips(baseConfig('fips = true\n'), 'no pem here'), (e: unknown) => isWolfguardError(e, ErrorCodes.TLS_BAD_CERT));
  // Explicit approved list is kept as given.
  assert.equal(planFips(baseConfig('fips = true\nciphers = TLS13-AES256-GCM-SHA384\n'), certs.ecP256).config.ciphers, 'TLS13-AES256-GCM-SHA384');
});

test('the linked wolfSSL says plainly that it is not a validated FIPS module', () => {
  const s = fipsBuildStatus();
  assert.equal(s.validated, false);
  assert.match(describeFipsBuild(s), /NOT a FIPS 140-3 validated build/);
  assert.match(describeFipsBuild({ validated: true, version: 5, wolfssl: '5.2.1' }), /is a FIPS 140-3 validated wolfCrypt build \(FIPS version 5\)/);
});

test('startGateway with fips = true refuses a non-compliant certificate before opening anything', async () => {
  const cfg = parseConfig(`auth = "plain[passwd=/x]"\nserver-cert = ${path.join(dir, 'rsa1024.pem')}\nserver-key = ${path.join(dir, 'rsa1024.key')}\nipv4-network = 192.168.90.0/24\nfips = true\n`, { source: '<t>', baseDir: dir }).config;
  const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined } as unknown as NonNullable<GatewayOptions['log']>;
  await assert.rejects(startGateway(cfg, { workers: 1, log: quiet }), (e: unknown) => isWolfguardError(e, ErrorCodes.CONFIG_INVALID) && /fips = true: server-cert has an RSA key of 1024 bits/.test(e.message));
  const chacha = { ...cfg, serverCert: path.join(dir, 'ec256.pem'), serverKey: path.join(dir, 'ec256.key'), ciphers: 'TLS13-CHACHA20-POLY1305-SHA256' };
  await assert.rejects(startGateway(chacha, { workers: 1, log: quiet }), /not FIPS-approved: TLS13-CHACHA20-POLY1305-SHA256/);
});

/**
 * One handshake of Node's TLS client offering `curves` (its preference order)
 * against an addon server restricted to `groups` (or wolfSSL's defaults);
 * the group both ends saw, or the error.
 */
async function negotiatedGroup(groups: readonly KeyExchangeGroup[] | undefined, curves: string, version: tls.SecureVersion): Promise<{ server: string | null; client: string | undefined } | Error> {
  const ctx = new TlsContext({ role: 'server', cert: { file: path.join(dir, 'ec256.pem') }, key: { file: path.join(dir, 'ec256.key') }, ...(groups ? { groups } : {}) });
  let serverSecure!: (group: string | null) => void;
  const serverGroup = new Promise<string | null>((r) => (serverSecure = r));
  const srv = await startAddonServer(ctx, (s) => s.once('secure', () => serverSecure(s.info()?.group ?? null)));
  try {
    return await new Promise((resolve) => {
      const c = tls.connect({ port: srv.port, host: '127.0.0.1', rejectUnauthorized: false, ecdhCurve: curves, minVersion: version, maxVersion: version });
      c.once('secureConnect', () => {
        const info = c.getEphemeralKeyInfo();
        const client = info && 'name' in info ? info.name : undefined;
        // The server finishes after the client (it still reads the client's Finished): close only then.
        void serverGroup.then((server) => {
          c.destroy();
          resolve({ server, client });
        });
      });
      c.once('error', (e) => resolve(e));
    });
  } finally {
    await srv.close();
    ctx.close();
  }
}

test('fips groups: X25519 is never negotiated, P-256 is chosen instead; a client with only X25519 is refused', async () => {
  assert.deepEqual([...FIPS_GROUPS], ['P-256', 'P-384']);
  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    // Without the restriction wolfSSL takes the client's first choice: the check below can fail.
    assert.deepEqual(await negotiatedGroup(undefined, 'X25519:P-256', version), { server: 'X25519', client: 'X25519' }, version);
    assert.deepEqual(await negotiatedGroup(FIPS_GROUPS, 'X25519:P-256', version), { server: 'SECP256R1', client: 'prime256v1' }, version);
    // TLS 1.2 needs the ECDSA certificate's curve (P-256) among the client's groups, so P-384 alone is a 1.3 case.
    if (version === 'TLSv1.3') assert.deepEqual(await negotiatedGroup(FIPS_GROUPS, 'X25519:P-384', version), { server: 'SECP384R1', client: 'secp384r1' }, version);
    const refused = await negotiatedGroup(FIPS_GROUPS, 'X25519', version);
    assert.ok(refused instanceof Error, `${version}: a client offering only X25519 got a handshake`);
  }
});

test('groups: unknown names are refused naming them', () => {
  assert.throws(
    () => new TlsContext({ role: 'server', groups: ['P-256', 'brainpool' as KeyExchangeGroup] }),
    (e: unknown) => isWolfguardError(e, ErrorCodes.INVALID_ARGUMENT) && /unknown key-exchange group\(s\): brainpool/.test(e.message),
  );
  assert.throws(() => new TlsContext({ role: 'server', groups: [] }), /non-empty/);
});
