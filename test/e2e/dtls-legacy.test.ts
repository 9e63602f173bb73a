// Cisco's legacy DTLS end to end (protocol.md §4): the gateway is configured
// without PSK-NEGOTIATE (dtls-psk = false), so the real openconnect (Debian's,
// GnuTLS) falls back to the mode Cisco Secure Client uses: it sends its own
// X-DTLS-Master-Secret, gets X-DTLS-Session-ID and an X-DTLS12-CipherSuite,
// and "resumes" that session in an abbreviated DTLS 1.2 handshake. openconnect
// itself refuses a full handshake ("possible MITM attack"), so "Established
// DTLS connection" proves the resumption; the shard counters prove the pings
// went over UDP.
//
//   client namespace ─veth─► gateway namespace ─veth─► lan namespace
//   openconnect              wolfguard (1 shard)       ping target
//
// Needs root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import type { TestPki } from '../helpers/certs';
import { closeScratch, openScratch } from '../helpers/e2e-scratch';
import { createTopology, type Topology } from '../helpers/netns';
import { startOpenconnect, pinSha256 } from '../helpers/openconnect';
import { startWolfguard, type WolfguardHandle } from '../helpers/wolfguard';
import type { ShardStats } from '../../src/workers/messages';
import { LEGACY_SUITES } from '../../src/workers/dtls-legacy';

const PORT = 4453;
const POOL4 = '10.79.0.0/24';
const USER = 'carol';
const PASSWORD = 'legacy dtls please';
/** openconnect's DTLS handshake runs after CSTP is up; give it this long. */
const DTLS_UP_MS = 20_000;
const PINGS = 5;

let pki: TestPki;
let topo: Topology;
let gw: WolfguardHandle;
let workDir: string;

async function shardStats(): Promise<ShardStats[]> {
  return (await gw.admin<ShardStats[]>('GET', '/shards')).body;
}

function dtlsTotals(list: ShardStats[]): { up: number; dataFramesIn: number; framesOut: number } {
  return list.reduce((a, s) => ({ up: a.up + s.dtls.up, dataFramesIn: a.dataFramesIn + s.dtls.dataFramesIn, framesOut: a.framesOut + s.dtls.framesOut }), { up: 0, dataFramesIn: 0, framesOut: 0 });
}

before(async () => {
  assert.equal(process.getuid?.(), 0, 'end-to-end tests need root (network namespaces, TUN)');
  ({ pki, workDir } = openScratch('legacy'));
  topo = await createTopology({ clients: 1, tag: 'wgleg' });
  gw = await startWolfguard({
    ns: topo.gw.ns,
    dir: path.join(workDir, 'gw'),
    port: PORT,
    cert: pki.ecCert,
    key: pki.ecKey,
    users: [{ name: USER, password: PASSWORD }],
    ipv4Pool: POOL4,
    routes: [topo.lan.prefix],
    dpd: 20,
    keepalive: 30,
    workers: 1,
    extra: ['dtls-psk = false', 'dtls-legacy = true'],
  });
});

after(async () => {
  await closeScratch({ gw, topo, pki, workDir });
});

test('openconnect, refused PSK-NEGOTIATE, resumes the legacy DTLS 1.2 session and its pings go over UDP', { timeout: 90_000 }, async (t) => {
  const ns = topo.clients[0]!.ns;
  const c = await startOpenconnect({ ns, url: `https://${topo.gw.outerIp}:${PORT}/`, user: USER, password: PASSWORD, servercertPin: pinSha256(pki.ecCert) });
  try {
    // What the gateway answered (openconnect -v prints the CONNECT reply's headers).
    const reply = await c.waitForOutput(/X-DTLS12-CipherSuite: (\S+)/, DTLS_UP_MS);
    const offered = reply[1]!;
    assert.ok(LEGACY_SUITES.some((s) => s.dtls12 && s.name === offered), `offered suite ${offered}`);
    assert.doesNotMatch(c.stdout(), /X-DTLS-CipherSuite: PSK-NEGOTIATE/, 'dtls-psk = false: no PSK mode');
    assert.match(c.stdout(), /X-DTLS-Session-ID: [0-9a-fA-F]{64}/);
    const est = await c.waitForOutput(/Established DTLS connection \(using GnuTLS\)\. Ciphersuite ([^\n]+)\./, DTLS_UP_MS);
    assert.match(est[1]!, /^\(DTLS1\.2\)/, `DTLS 1.2, got ${est[1]}`);
    assert.doesNotMatch(est[1]!, /PSK/, `a legacy (non-PSK) suite, got ${est[1]}`);
    assert.doesNotMatch(c.stdout() + c.stderr(), /possible MITM attack/);
    t.diagnostic(`offered ${offered}; ${est[0]}`);

    const before = dtlsTotals(await shardStats());
    assert.equal(before.up, 1, 'one DTLS session up on the gateway');
    const r = await topo.tryExec(ns, 'ping', ['-c', String(PINGS), '-W', '2', '-i', '0.2', topo.lan.ip]);
    assert.equal(r.code, 0, `ping over the tunnel: ${r.stdout}${r.stderr}`);
    const after = dtlsTotals(await shardStats());
    assert.ok(after.dataFramesIn - before.dataFramesIn >= PINGS, `echo requests came over DTLS: ${after.dataFramesIn - before.dataFramesIn} data frames`);
    assert.ok(after.framesOut - before.framesOut >= PINGS, `echo replies went out over DTLS: ${after.framesOut - before.framesOut} frames`);
    t.diagnostic(`DTLS data frames in ${after.dataFramesIn - before.dataFramesIn}, frames out ${after.framesOut - before.framesOut}`);
  } finally {
    await c.stop();
  }
});
