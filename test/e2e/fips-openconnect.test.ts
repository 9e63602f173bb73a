// FIPS-approved mode end to end: the real openconnect client against a
// gateway started with `fips = true` (layout in test/helpers/netns.ts):
//
//   client namespace ─veth─► gateway namespace ─veth─► lan namespace
//   openconnect, openssl     wolfguard, fips = true    ping target
//
// openconnect must get a NIST curve, an AES-GCM suite and a PSK-AES-GCM DTLS
// channel; a client offering X25519 alone or ChaCha20 alone is refused (the
// unit test in hardening-fips shows wolfSSL would otherwise take X25519).
// Needs root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import type { TestPki } from '../helpers/certs';
import { closeScratch, openScratch } from '../helpers/e2e-scratch';
import { createTopology, type Topology } from '../helpers/netns';
import { startOpenconnect, pinSha256 } from '../helpers/openconnect';
import { startWolfguard, type WolfguardHandle } from '../helpers/wolfguard';

const PORT = 4447;
const POOL4 = '10.79.0.0/24';
const USER = 'fips';
const PASSWORD = 'approved algorithms only';

let pki: TestPki;
let topo: Topology;
let gw: WolfguardHandle;
let workDir: string;

before(async () => {
  assert.equal(process.getuid?.(), 0, 'end-to-end tests need root (network namespaces, TUN)');
  ({ pki, workDir } = openScratch('fips'));
  topo = await createTopology({ clients: 1, tag: 'wgf' });
  gw = await startWolfguard({
    ns: topo.gw.ns,
    dir: path.join(workDir, 'gw'),
    port: PORT,
    cert: pki.ecCert,
    key: pki.ecKey,
    users: [{ name: USER, password: PASSWORD }],
    ipv4Pool: POOL4,
    routes: [topo.lan.prefix],
    workers: 1,
    extra: ['fips = true'],
  });
});

after(async () => {
  await closeScratch({ gw, topo, pki, workDir });
});

test('fips = true: openconnect gets a NIST-curve AES-GCM TLS session and a PSK AES-GCM DTLS channel, pings over it; status says fips', { timeout: 90_000 }, async () => {
  const c = await startOpenconnect({ ns: topo.clients[0]!.ns, url: `https://${topo.gw.outerIp}:${PORT}/`, user: USER, password: PASSWORD, servercertPin: pinSha256(pki.ecCert) });
  try {
    assert.match(c.tlsCiphersuite ?? '', /-\(ECDHE-SECP(256|384)R1\)-.*-\(AES-(128|256)-GCM\)$/, `TLS: ${c.tlsCiphersuite}`);
    const dtls = await c.waitForOutput(/Established DTLS connection .*Ciphersuite (\S+)\./, 20_000);
    assert.match(dtls[1]!, /^\(DTLS1\.2\)-\(PSK\)-\(AES-(128|256)-GCM\)$/, `DTLS: ${dtls[1]}`);
    const r = await topo.tryExec(topo.clients[0]!.ns, 'ping', ['-c', '3', '-W', '2', '-i', '0.2', topo.lan.ip]);
    assert.equal(r.code, 0, `ping: ${r.stdout}${r.stderr}`);
  } finally {
    await c.stop();
  }
  const status = await gw.admin<{ fips: { enabled: boolean; validatedModule: boolean; module: string } }>('GET', '/status');
  assert.equal(status.body.fips.enabled, true);
  assert.equal(status.body.fips.validatedModule, false, 'the bundled wolfSSL is not a validated module and must not claim to be');
  assert.match(gw.log(), /key exchange limited to P-256, P-384/);
});

test('fips = true: a TLS client offering only X25519 (or only ChaCha20) gets no session; P-256 does', { timeout: 60_000 }, async () => {
  const sClient = (...args: string[]) =>
    topo.tryExec(topo.clients[0]!.ns, 'openssl', ['s_client', '-connect', `${topo.gw.outerIp}:${PORT}`, '-brief', ...args], { input: '', timeoutMs: 15_000 });
  const x25519 = await sClient('-tls1_3', '-groups', 'X25519');
  assert.notEqual(x25519.code, 0, `X25519 only got a session:\n${x25519.stderr}`);
  const chacha = await sClient('-tls1_3', '-ciphersuites', 'TLS_CHACHA20_POLY1305_SHA256');
  assert.notEqual(chacha.code, 0, `ChaCha20 only got a session:\n${chacha.stderr}`);
  const p256 = await sClient('-tls1_3', '-groups', 'X25519:P-256');
  assert.equal(p256.code, 0, `X25519:P-256 was refused:\n${p256.stderr}`);
  assert.match(p256.stderr, /Negotiated TLS1\.3 group: (prime256v1|P-256)|Server Temp Key: ECDH, (prime256v1|P-256)/, p256.stderr);
});
