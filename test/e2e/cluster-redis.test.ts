// Two wolfguard nodes sharing their state in one redis-server (issue 9), with
// the real openconnect client:
//
//   client namespaces ─veth─► gateway namespace ─veth─► lan namespace
//   openconnect               node A :4453 (TUN vpna)    ping target
//                             node B :4454 (TUN vpnb)
//                             redis-server 127.0.0.1:6390 (no persistence)
//
// Both nodes have the same address pool, as every node of a cluster must.
// While both run, their TUN devices carry the same connected route, so
// traffic is only checked through a node that is alone (A is killed before
// the traffic tests). Tests run in file order: max-same-clients, bans, node
// death and reconnect, Redis outage. Needs root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import type { TestPki } from '../helpers/certs';
import { closeScratch, openScratch } from '../helpers/e2e-scratch';
import { createTopology, spawnInNs, type Topology } from '../helpers/netns';
import { startOpenconnect, pinSha256, type OpenconnectClient, type OpenconnectOptions } from '../helpers/openconnect';
import { startWolfguard, type WolfguardHandle } from '../helpers/wolfguard';
import { startRedis, type RedisHandle } from '../helpers/redis';
import { exitOf, stopChild } from '../helpers/reaper';

const PORT_A = 4453;
const PORT_B = 4454;
const REDIS_PORT = 6390;
/** Prometheus listeners of the nodes, on loopback inside the gateway namespace. */
const METRICS_A = 9111;
const METRICS_B = 9112;
const POOL4 = '10.79.0.0/24';
const PASSWORD = 'correct horse battery';
const USERS = ['solo', 'alice', 'bob', 'carol', 'dave', 'erin', 'frank'];
const CLIENTS = 3;
const AUTH_TIMEOUT_MS = 20_000;
/** Node A's sessions are claimable as soon as it is gone; this bounds the wait for log lines. */
const LOG_WAIT_MS = 15_000;

interface SessionView {
  id: string;
  user: string;
  state: string;
  ipv4: string;
}

let pki: TestPki;
let topo: Topology;
let redis: RedisHandle | undefined;
let gwA: WolfguardHandle | undefined;
let gwB: WolfguardHandle | undefined;
let workDir: string;
let pin: string;
let aKilled = false;

function opts(client: number, port: number, user: string, extra: Partial<OpenconnectOptions> = {}): OpenconnectOptions {
  return { ns: topo.clients[client]!.ns, url: `https://${topo.gw.outerIp}:${port}/`, user, password: PASSWORD, servercertPin: pin, noDtls: true, ...extra };
}

/** `openconnect --authenticate`: a login (the session is made) without a tunnel. Exit code and output. */
async function authenticate(o: OpenconnectOptions): Promise<{ code: number | null; out: string; cookie?: string }> {
  const args = ['--authenticate', '--non-inter', '--passwd-on-stdin', '-u', o.user, '--servercert', o.servercertPin, o.url];
  const child = spawnInNs(o.ns, '/usr/sbin/openconnect', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  child.stdin!.on('error', () => undefined);
  child.stdin!.end(`${o.password}\n`);
  const timer = setTimeout(() => void stopChild(child, 'SIGKILL', 0), AUTH_TIMEOUT_MS);
  const st = await exitOf(child);
  clearTimeout(timer);
  const m = /^COOKIE='?([^'\n]+)'?$/m.exec(out);
  return m ? { code: st.code, out, cookie: m[1]! } : { code: st.code, out };
}

async function sessions(gw: WolfguardHandle): Promise<SessionView[]> {
  return (await gw.admin<SessionView[]>('GET', '/sessions')).body;
}

async function ping(ns: string, target: string, count = 3): Promise<void> {
  const r = await topo.tryExec(ns, 'ping', ['-c', String(count), '-W', '2', '-i', '0.2', target]);
  assert.equal(r.code, 0, `ping ${target} from ${ns}: ${r.stdout}${r.stderr}`);
}

async function waitForLog(gw: WolfguardHandle, re: RegExp, from = 0): Promise<void> {
  const end = Date.now() + LOG_WAIT_MS;
  while (!re.test(gw.log().slice(from))) {
    if (Date.now() > end) assert.fail(`no ${re} in the gateway log:\n${gw.log().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** wolfguard_state_store_up of a node, scraped from inside the gateway namespace. */
async function storeUp(metricsPort: number): Promise<number> {
  const r = await topo.exec(topo.gw.ns, 'curl', ['-s', `http://127.0.0.1:${metricsPort}/metrics`]);
  const m = /^wolfguard_state_store_up (\d)$/m.exec(r.stdout);
  assert.ok(m, `no wolfguard_state_store_up in:\n${r.stdout.slice(0, 2000)}`);
  return Number(m[1]);
}

function node(name: string, port: number, device: string, metricsPort: number): Promise<WolfguardHandle> {
  return startWolfguard({
    ns: topo.gw.ns,
    dir: path.join(workDir, name),
    port,
    cert: pki.ecCert,
    key: pki.ecKey,
    users: USERS.map((u) => ({ name: u, password: PASSWORD })),
    ipv4Pool: POOL4,
    routes: [topo.lan.prefix],
    dpd: 20,
    keepalive: 30,
    workers: 1,
    env: { WOLFGUARD_METRICS: `127.0.0.1:${metricsPort}` },
    // Later lines override ocserv's (a warning each): one device per node, limits, the shared state.
    extra: [`device = ${device}`, 'max-same-clients = 1', `state = ${redis!.url}`, `node-id = node-${name}`],
  });
}

before(async () => {
  assert.equal(process.getuid?.(), 0, 'end-to-end tests need root (network namespaces, TUN)');
  ({ pki, workDir } = openScratch('cluster'));
  pin = pinSha256(pki.ecCert);
  topo = await createTopology({ clients: CLIENTS, tag: 'wgr' });
  redis = await startRedis({ ns: topo.gw.ns, port: REDIS_PORT });
  gwA = await node('a', PORT_A, 'vpna', METRICS_A);
  gwB = await node('b', PORT_B, 'vpnb', METRICS_B);
  for (const gw of [gwA, gwB]) assert.match(gw.log(), /cluster state in Redis/);
});

after(async () => {
  // Gateways before Redis, so they leave it cleanly (and do not log an outage on the way out).
  if (gwA && !aKilled) await gwA.stop();
  await gwB?.stop();
  await redis?.close();
  await closeScratch({ gw: gwB, topo, pki, workDir });
});

test('max-same-clients = 1 with logins on both nodes at once: exactly one succeeds', { timeout: 60_000 }, async () => {
  const [ra, rb] = await Promise.all([authenticate(opts(0, PORT_A, 'solo')), authenticate(opts(1, PORT_B, 'solo'))]);
  const ok = [ra, rb].filter((r) => r.code === 0 && r.cookie !== undefined);
  assert.equal(ok.length, 1, `exactly one login: A ${ra.code} B ${rb.code}\n--- A ---\n${ra.out}\n--- B ---\n${rb.out}`);
  const held = [...(await sessions(gwA!)), ...(await sessions(gwB!))].filter((s) => s.user === 'solo');
  assert.equal(held.length, 1, 'one session of "solo" in the whole cluster');
  await waitForLog(ra.code === 0 ? gwB! : gwA!, /too many sessions for this user/);
});

test('a ban issued on node A refuses the address on node B; an unban on B lets it in on A', { timeout: 60_000 }, async () => {
  const banned = topo.clients[2]!;
  const r = await gwA!.admin<{ prefix: string }>('POST', `/bans?prefix=${banned.ip}&seconds=600`);
  assert.equal(r.status, 200);
  await waitForLog(gwB!, /ban from another node applied/);
  const refused = await authenticate(opts(2, PORT_B, 'alice'));
  assert.notEqual(refused.code, 0, `banned address logged in on B:\n${refused.out}`);
  await waitForLog(gwB!, new RegExp(`"peer":"(::ffff:)?${banned.ip.replace(/\./g, '\\.')}".*connection refused|connection refused.*${banned.ip.replace(/\./g, '\\.')}`));
  const bansB = (await gwB!.admin<Array<{ prefix: string }>>('GET', '/bans')).body;
  assert.ok(bansB.some((b) => b.prefix === `${banned.ip}/32`), JSON.stringify(bansB));
  const other = await authenticate(opts(1, PORT_B, 'alice'));
  assert.equal(other.code, 0, `another address still logs in on B:\n${other.out}`);
  const u = await gwB!.admin('POST', `/unban?prefix=${banned.ip}`);
  assert.equal(u.status, 200);
  await waitForLog(gwA!, /unban from another node applied/);
  const back = await authenticate(opts(2, PORT_A, 'bob'));
  assert.equal(back.code, 0, `unbanned address logs in on A:\n${back.out}`);
});

test('a client of node A, A killed: it reconnects to node B with its cookie, keeps its address, traffic flows', { timeout: 90_000 }, async () => {
  const login = await authenticate(opts(0, PORT_A, 'carol'));
  assert.equal(login.code, 0, login.out);
  const cookie = login.cookie!;
  let first: OpenconnectClient | undefined = await startOpenconnect(opts(0, PORT_A, 'carol', { extraArgs: ['-C', cookie] }));
  let second: OpenconnectClient | undefined;
  try {
    const address = first.state.ip4!.address;
    assert.match(address, /^10\.79\.0\.\d+$/);
    const onA = (await sessions(gwA!)).find((s) => s.user === 'carol');
    assert.equal(onA?.state, 'connected');
    assert.equal(onA?.ipv4, address);
    process.kill(gwA!.pid, 'SIGKILL');
    aKilled = true;
    await gwA!.exited;
    // The old client only retries node A: it goes, its TUN with it, and a new one dials B with the cookie.
    await first.stop();
    first = undefined;
    const logFrom = gwB!.log().length;
    second = await startOpenconnect(opts(0, PORT_B, 'carol', { extraArgs: ['-C', cookie] }));
    assert.equal(second.state.ip4?.address, address, 'same address on node B');
    await waitForLog(gwB!, /session adopted from another node/, logFrom);
    const onB = (await sessions(gwB!)).find((s) => s.user === 'carol');
    assert.equal(onB?.id, onA?.id, 'the same session');
    assert.equal(onB?.state, 'connected');
    assert.equal(onB?.ipv4, address);
    await ping(topo.clients[0]!.ns, topo.lan.ip);
    await ping(topo.lan.ns, address);
  } finally {
    await first?.stop();
    await second?.stop();
  }
});

test('Redis stopped during traffic: the tunnel keeps pinging, a new login gets 503; Redis back: logins work', { timeout: 90_000 }, async () => {
  const c = await startOpenconnect(opts(1, PORT_B, 'dave'));
  try {
    await ping(topo.clients[1]!.ns, topo.lan.ip);
    assert.equal(await storeUp(METRICS_B), 1);
    const logFrom = gwB!.log().length;
    await redis!.stop();
    await waitForLog(gwB!, /cluster state unavailable: established tunnels keep running/, logFrom);
    await ping(topo.clients[1]!.ns, topo.lan.ip, 5);
    assert.equal(await storeUp(METRICS_B), 0, 'the metric shows the outage');
    const refused = await authenticate(opts(2, PORT_B, 'erin'));
    assert.notEqual(refused.code, 0, refused.out);
    assert.match(refused.out, /503/, `openconnect saw the 503:\n${refused.out}`);
    await waitForLog(gwB!, /"reason":"cluster state unavailable"/, logFrom);
    const downLines = gwB!.log().slice(logFrom).split('\n').filter((l) => l.includes('cluster state unavailable: established'));
    assert.equal(downLines.length, 1, 'one log line for the outage, not one per login');
    await ping(topo.clients[1]!.ns, topo.lan.ip, 3);
    await redis!.restart();
    await waitForLog(gwB!, /cluster state reachable/, logFrom);
    assert.equal(await storeUp(METRICS_B), 1);
    const ok = await authenticate(opts(2, PORT_B, 'erin'));
    assert.equal(ok.code, 0, ok.out);
    await ping(topo.clients[1]!.ns, topo.lan.ip, 3);
    // dave's session was written back: max-same-clients still counts it cluster-wide.
    const again = await authenticate(opts(2, PORT_B, 'dave'));
    assert.notEqual(again.code, 0, `a second session of dave after the restart:\n${again.out}`);
  } finally {
    await c.stop();
  }
});
