// geofilter.conf and the JSON admin protocol end to end, with the real
// gateway, the real openconnect and the real socat (layout in
// test/helpers/netns.ts):
//
//   client 0 10.200.0.10  "country" XB (blocked)   ─┐
//   client 1 10.200.0.11  "country" XA (allowed)   ─┼─► gateway ns: wolfguard ─► lan ns
//   client 2 10.200.0.12  "country" XA, blocked     ─┘
//            and unblocked over the admin socket with socat
//
// The .mmdb mapping those addresses to countries is written by the test
// (test/helpers/mmdb-writer.ts). "Refused before TLS" is checked from the
// client side: openssl s_client reads 0 handshake bytes from a refused
// address, and the gateway's own counters name the rule. Needs root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import type { TestPki } from '../helpers/certs';
import { closeScratch, openScratch } from '../helpers/e2e-scratch';
import { createTopology, type Topology } from '../helpers/netns';
import { startOpenconnect, pinSha256, OpenconnectExitError, type OpenconnectOptions } from '../helpers/openconnect';
import { startWolfguard, type WolfguardHandle } from '../helpers/wolfguard';
import { buildMmdb, countryRecord } from '../helpers/mmdb-writer';

const PORT = 4443;
const POOL4 = '10.79.0.0/24';
const USER = 'geo';
const PASSWORD = 'geo test password';
const CLIENTS = 3;
const BLOCKED = 0;
const ALLOWED = 1;
const ADMIN_BLOCKED = 2;
/** openconnect against a refused address gives up well within this. */
const REFUSED_CONNECT_TIMEOUT_MS = 15_000;
const SOCAT_TIMEOUT_MS = 10_000;

let pki: TestPki;
let topo: Topology;
let gw: WolfguardHandle;
let workDir: string;
let geoFile: string;
let pin: string;

function clientOpts(i: number, extra: Partial<OpenconnectOptions> = {}): OpenconnectOptions {
  return { ns: topo.clients[i]!.ns, url: `https://${topo.gw.outerIp}:${PORT}/`, user: USER, password: PASSWORD, servercertPin: pin, noDtls: true, ...extra };
}

async function ping(ns: string, target: string): Promise<void> {
  const r = await topo.tryExec(ns, 'ping', ['-c', '3', '-W', '2', '-i', '0.2', target]);
  assert.equal(r.code, 0, `ping ${target} from ${ns}: ${r.stdout}${r.stderr}`);
}

/** The lines socat printed for `lines` sent to the admin socket, parsed. */
function socat(lines: string[]): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const child = execFile('socat', ['-t', '2', '-', `UNIX-CONNECT:${gw.adminSocket}`], { timeout: SOCAT_TIMEOUT_MS }, (err, stdout) => {
      if (err) return reject(err);
      try {
        resolve(stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>));
      } catch (e) {
        reject(new Error(`socat printed something that is not JSON lines: ${stdout}: ${(e as Error).message}`));
      }
    });
    child.stdin!.end(lines.map((l) => `${l}\n`).join(''));
  });
}

/** Bytes the TLS server sent during a handshake attempt from client i (openssl's own count). */
async function handshakeBytesRead(i: number): Promise<number> {
  const r = await topo.tryExec(topo.clients[i]!.ns, 'openssl', ['s_client', '-connect', `${topo.gw.outerIp}:${PORT}`, '-servername', 'gw.test'], { input: '', timeoutMs: 15_000 });
  const m = /SSL handshake has read (\d+) bytes/.exec(r.stdout + r.stderr);
  assert.ok(m, `openssl s_client printed no byte count:\n${r.stdout}\n${r.stderr}`);
  return Number(m[1]);
}

async function counter(ruleId: string, reason: string): Promise<number> {
  const r = await gw.admin<{ counters: { ruleId: string; reason: string; count: number }[] }>('GET', '/admission');
  return r.body.counters.find((c) => c.ruleId === ruleId && c.reason === reason)?.count ?? 0;
}

before(async () => {
  assert.equal(process.getuid?.(), 0, 'end-to-end tests need root (network namespaces, TUN)');
  ({ pki, workDir } = openScratch('geo'));
  // The gateway may drop to run-as-user: what it re-reads on reload must stay readable.
  fs.chmodSync(workDir, 0o755);
  pin = pinSha256(pki.ecCert);
  topo = await createTopology({ clients: CLIENTS, tag: 'wgeo' });
  const db = path.join(workDir, 'countries.mmdb');
  fs.writeFileSync(
    db,
    buildMmdb([
      { prefix: '10.200.0.0/24', value: countryRecord('XA') },
      { prefix: `${topo.clients[BLOCKED]!.ip}/32`, value: countryRecord('XB') },
      { prefix: `${topo.clients[BLOCKED]!.ip6}/128`, value: countryRecord('XB') },
    ]),
    { mode: 0o644 },
  );
  geoFile = path.join(workDir, 'geofilter.conf');
  fs.writeFileSync(geoFile, '# end-to-end test\nblock-country XB "the blocked test country"\nallow-country XA\n', { mode: 0o644 });
  gw = await startWolfguard({
    ns: topo.gw.ns,
    dir: path.join(workDir, 'gw'),
    port: PORT,
    cert: pki.ecCert,
    key: pki.ecKey,
    users: [{ name: USER, password: PASSWORD }],
    ipv4Pool: POOL4,
    routes: [topo.lan.prefix],
    workers: 2,
    extra: [`geofilter-file = ${geoFile}`, `geoip-db = ${db}`],
  });
});

after(async () => {
  await closeScratch({ gw, topo, pki, workDir });
});

test('a client in a blocked country is refused before TLS; a client in an allowed one logs in and pings', { timeout: 90_000 }, async () => {
  const before = await counter('block-country:XB', 'country_blocked');
  assert.equal(await handshakeBytesRead(BLOCKED), 0, 'the refused peer got not one TLS byte');
  await assert.rejects(startOpenconnect(clientOpts(BLOCKED, { connectTimeoutMs: REFUSED_CONNECT_TIMEOUT_MS })), OpenconnectExitError);
  assert.ok((await counter('block-country:XB', 'country_blocked')) >= before + 2, 'both attempts counted under the country rule');
  assert.match(gw.log(), /connection refused/);
  assert.match(gw.log(), /country_blocked/);

  assert.ok((await handshakeBytesRead(ALLOWED)) > 0, 'an allowed peer gets the server handshake');
  const c = await startOpenconnect(clientOpts(ALLOWED));
  try {
    assert.match(c.state.ip4?.address ?? '', /^10\.79\.0\.\d+$/);
    await ping(topo.clients[ALLOWED]!.ns, topo.lan.ip);
  } finally {
    await c.stop();
  }
});

test('JSON over the admin socket with socat: block_ip refuses the next connect, unblock_ip lets it in, garbage gets error lines', { timeout: 90_000 }, async () => {
  const ip = topo.clients[ADMIN_BLOCKED]!.ip;
  const blocked = await socat([`{"command":"block_ip","ip":"${ip}","reason":"e2e test"}`, 'hello?', '{"command":', '{"command":"format_disk"}', '{"command":"show_rules"}']);
  assert.equal(blocked.length, 5, JSON.stringify(blocked));
  assert.deepEqual(blocked[0], { status: 'ok', command: 'block_ip', ip: `${ip}/32`, until: null, reason: 'e2e test' });
  for (const g of blocked.slice(1, 4)) assert.equal(g.status, 'error', JSON.stringify(g));
  assert.match(blocked[3]!.message as string, /unknown command "format_disk"/);
  const rules = blocked[4] as { status: string; bans: { prefix: string; note?: string }[]; geofilter: { countries: { country: string }[] } };
  assert.equal(rules.status, 'ok');
  assert.deepEqual(rules.bans.map((b) => [b.prefix, b.note]), [[`${ip}/32`, 'e2e test']]);
  assert.deepEqual(rules.geofilter.countries.map((x) => x.country), ['XB', 'XA']);

  await assert.rejects(startOpenconnect(clientOpts(ADMIN_BLOCKED, { connectTimeoutMs: REFUSED_CONNECT_TIMEOUT_MS })), OpenconnectExitError);
  assert.ok((await counter('ban', 'banned')) >= 1);

  const unblocked = await socat([`{"command":"unblock_ip","ip":"${ip}"}`, '{"command":"show_users"}']);
  assert.deepEqual(unblocked[0], { status: 'ok', command: 'unblock_ip', ip: `${ip}/32` });
  assert.equal(unblocked[1]!.status, 'ok');
  const c = await startOpenconnect(clientOpts(ADMIN_BLOCKED));
  try {
    const users = await socat(['{"command":"show_users"}']);
    assert.deepEqual((users[0]!.users as { user: string; peer: string }[]).map((u) => u.user), [USER]);
    await ping(topo.clients[ADMIN_BLOCKED]!.ns, topo.lan.ip);
  } finally {
    await c.stop();
  }
});

test('reload_rules after editing geofilter.conf: an allow line lets the blocked-country client in', { timeout: 60_000 }, async () => {
  fs.writeFileSync(geoFile, `block-country XB\nallow ${topo.clients[BLOCKED]!.ip} "one host let through"\n`);
  const r = await socat(['{"command":"reload_rules"}']);
  assert.deepEqual(r[0], { status: 'ok', command: 'reload_rules', rules: 0, geofilter: { prefixes: 1, countries: 1, warnings: [] } });
  const c = await startOpenconnect(clientOpts(BLOCKED));
  await c.stop();

  // A broken edit is refused with file and line; the rules in force stay.
  fs.writeFileSync(geoFile, 'block-country XBX\n');
  const bad = await socat(['{"command":"reload_rules"}']);
  assert.equal(bad[0]!.status, 'error');
  assert.match(bad[0]!.message as string, /geofilter\.conf:1: not a two-letter country code .*\(at "XBX"\)/);
  const again = await startOpenconnect(clientOpts(BLOCKED));
  await again.stop();
});
