// Floods against the real gateway in namespaces: 2,000 idle TCP connections
// that never send (slowloris), a TLS handshake flood, a login flood with
// wrong passwords, a UDP flood of garbage and ClientHellos at the DTLS port. During each, a real openconnect client in another
// namespace logs in and pings the lan with bounded loss; the gateway's RSS
// stays bounded; afterwards its fd count is back near where it started and
// it holds no session. Ban points are off (max-ban-score = 0) so the floods
// reach the limits under test instead of being banned at accept. Needs root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TestPki } from '../helpers/certs';
import { closeScratch, openScratch } from '../helpers/e2e-scratch';
import { createTopology, type Topology } from '../helpers/netns';
import { startOpenconnect, pinSha256 } from '../helpers/openconnect';
import { startWolfguard, type WolfguardHandle } from '../helpers/wolfguard';
import type { ShardStats } from '../../src/workers/messages';

const PORT = 4463;
const POOL4 = '10.84.0.0/24';
const USER = 'alice';
const PASSWORD = 'flood-proof';
const IDLE_CONNECTIONS = 2000;
/** Handshake timeout given to the gateway: idle connections are cut after this. */
const HANDSHAKE_TIMEOUT_S = 4;
/** Idle connections are held this long: longer than the handshake timeout, so the gateway must cut them. */
const IDLE_HOLD_MS = (HANDSHAKE_TIMEOUT_S + 3) * 1000;
const FLOOD_MS = 8000;
const TLS_FLOOD_CONCURRENCY = 32;
const LOGIN_FLOOD_CONCURRENCY = 16;
const PINGS = 20;
/** Loss allowed to the legitimate client's pings during a flood. */
const MAX_PING_LOSS = 0.1;
/** RSS growth allowed during a flood over the idle gateway's. */
const MAX_RSS_GROWTH_BYTES = 256 * 1024 * 1024;
/** fds the gateway may hold above its idle count once a flood is over (timers, epoll, a lingering socket). */
const FD_SLACK = 8;
const SETTLE_TIMEOUT_MS = 20_000;
/** Datagrams of the UDP flood (garbage, and ClientHellos naming no session). */
const UDP_DATAGRAMS = 100_000;
/** auth-timeout given to the gateway: long enough for a login under a flood, short for the test. */
const AUTH_TIMEOUT_S = 8;
/** Header size limit given to the gateway. */
const MAX_HEADER_BYTES = 8192;

let pki: TestPki;
let topo: Topology;
let gw: WolfguardHandle;
let workDir: string;
let pin: string;
let baseFds = 0;
let baseRss = 0;
const measured: Record<string, unknown> = {};

const fdCount = (): number => fs.readdirSync(`/proc/${gw.pid}/fd`).length;
const rssBytes = (): number => Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${gw.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;

function floodClient(ns: string, args: string[], timeoutMs: number) {
  return topo.tryExec(ns, process.execPath, [path.join(__dirname, '..', 'helpers', 'flood-client.js'), ...args], { timeoutMs });
}

/** Samples RSS every 200 ms until stopped; returns the peak. */
function rssSampler(): { stop(): number } {
  let peak = rssBytes();
  const t = setInterval(() => {
    try {
      peak = Math.max(peak, rssBytes());
    } catch {
      /* the gateway died: the test's other checks say so */
    }
  }, 200);
  return {
    stop: () => {
      clearInterval(t);
      return peak;
    },
  };
}

/** The legitimate client: log in during the flood, ping the lan, log out. Returns the ping loss ratio. */
async function legitimateClient(): Promise<{ loss: number; connectMs: number }> {
  const c = await startOpenconnect({ ns: topo.clients[0]!.ns, url: `https://${topo.gw.outerIp}:${PORT}/`, user: USER, password: PASSWORD, servercertPin: pin, noDtls: true, connectTimeoutMs: 30_000 });
  try {
    const r = await topo.tryExec(topo.clients[0]!.ns, 'ping', ['-c', String(PINGS), '-W', '2', '-i', '0.2', topo.lan.ip], { timeoutMs: 30_000 });
    const received = Number(/(\d+) received/.exec(r.stdout)?.[1] ?? 0);
    return { loss: 1 - received / PINGS, connectMs: c.connectMs };
  } finally {
    await c.stop();
  }
}

async function settled(label: string): Promise<void> {
  const end = Date.now() + SETTLE_TIMEOUT_MS;
  let fds = fdCount();
  let sessions: unknown[] = [];
  while (Date.now() < end) {
    fds = fdCount();
    sessions = (await gw.admin<unknown[]>('GET', '/sessions')).body;
    const conns = (await gw.admin<ShardStats[]>('GET', '/shards')).body.reduce((a, s) => a + s.connections, 0);
    if (fds <= baseFds + FD_SLACK && sessions.length === 0 && conns === 0) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  measured[`${label}.fdsAfter`] = fds;
  assert.ok(fds <= baseFds + FD_SLACK, `${label}: ${fds} fds after the flood, ${baseFds} before`);
  assert.deepEqual(sessions, [], `${label}: no session left`);
  const conns = (await gw.admin<ShardStats[]>('GET', '/shards')).body.reduce((a, s) => a + s.connections, 0);
  assert.equal(conns, 0, `${label}: shards hold no connection`);
}

before(async () => {
  assert.equal(process.getuid?.(), 0, 'end-to-end tests need root (network namespaces, TUN)');
  ({ pki, workDir } = openScratch('flood'));
  pin = pinSha256(pki.ecCert);
  topo = await createTopology({ clients: 3, tag: 'wgflood' });
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
    extra: ['max-ban-score = 0', `handshake-timeout = ${HANDSHAKE_TIMEOUT_S}`, `auth-timeout = ${AUTH_TIMEOUT_S}`, `max-header-size = ${MAX_HEADER_BYTES}`],
  });
  // One login first, so lazily made things (thread pool, password cache) are in the baseline.
  try {
    await legitimateClient();
  } catch (e) {
    throw new Error(`first login failed: ${String(e).slice(0, 400)}\n--- gateway log ---\n${gw.log().slice(-3000)}`);
  }
  await new Promise((r) => setTimeout(r, 500));
  baseFds = fdCount();
  baseRss = rssBytes();
  measured.baseFds = baseFds;
  measured.baseRssMiB = Math.round(baseRss / 2 ** 20);
});

after(async () => {
  if (Object.keys(measured).length > 0) console.log(`floods measured: ${JSON.stringify(measured)}`);
  await closeScratch({ gw, topo, pki, workDir });
});

test(`${IDLE_CONNECTIONS} idle TCP connections that never send: a real client still logs in and pings; the gateway cuts them and releases everything`, { timeout: 120_000 }, async () => {
  const rss = rssSampler();
  const flood = floodClient(topo.clients[1]!.ns, ['idle', topo.gw.outerIp, String(PORT), String(IDLE_CONNECTIONS), String(IDLE_HOLD_MS)], 90_000);
  // Let the flood fill the pending-handshake slots first.
  await new Promise((r) => setTimeout(r, 1500));
  const legit = await legitimateClient();
  const r = await flood;
  const peak = rss.stop();
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim()) as { connected: number; closedByPeer: number };
  const shards = (await gw.admin<ShardStats[]>('GET', '/shards')).body;
  Object.assign(measured, { 'idle.connected': out.connected, 'idle.closedByGateway': out.closedByPeer, 'idle.evicted': shards.reduce((a, s) => a + (s.handshakes?.evicted ?? 0), 0), 'idle.pingLoss': legit.loss, 'idle.connectMs': legit.connectMs, 'idle.peakRssMiB': Math.round(peak / 2 ** 20) });
  assert.ok(out.connected >= IDLE_CONNECTIONS * 0.95, `only ${out.connected} of ${IDLE_CONNECTIONS} connected`);
  // Every idle connection was cut by the handshake timeout or evicted for newer ones before the client let go.
  assert.ok(out.closedByPeer >= out.connected * 0.95, `the gateway cut ${out.closedByPeer} of ${out.connected} idle connections`);
  assert.ok(legit.loss <= MAX_PING_LOSS, `ping loss ${legit.loss} during the idle flood`);
  assert.ok(peak - baseRss <= MAX_RSS_GROWTH_BYTES, `RSS grew ${peak - baseRss} bytes`);
  await settled('idle');
});

test('TLS handshake flood: a real client still logs in and pings; memory bounded; everything released after', { timeout: 120_000 }, async () => {
  const rss = rssSampler();
  const flood = floodClient(topo.clients[1]!.ns, ['tls', topo.gw.outerIp, String(PORT), String(TLS_FLOOD_CONCURRENCY), String(FLOOD_MS)], 90_000);
  await new Promise((r) => setTimeout(r, 1000));
  const legit = await legitimateClient();
  const r = await flood;
  const peak = rss.stop();
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim()) as { handshakes: number; errors: number };
  Object.assign(measured, { 'tls.handshakes': out.handshakes, 'tls.errors': out.errors, 'tls.pingLoss': legit.loss, 'tls.connectMs': legit.connectMs, 'tls.peakRssMiB': Math.round(peak / 2 ** 20) });
  assert.ok(out.handshakes > 100, `the flood made only ${out.handshakes} handshakes: it did not load the gateway`);
  assert.ok(legit.loss <= MAX_PING_LOSS, `ping loss ${legit.loss} during the handshake flood`);
  assert.ok(peak - baseRss <= MAX_RSS_GROWTH_BYTES, `RSS grew ${peak - baseRss} bytes`);
  await settled('tls');
});

test('login flood with wrong passwords: every attempt gets 401, a real client still logs in and pings; everything released after', { timeout: 120_000 }, async () => {
  const rss = rssSampler();
  const flood = floodClient(topo.clients[2]!.ns, ['login', topo.gw.outerIp, String(PORT), String(LOGIN_FLOOD_CONCURRENCY), String(FLOOD_MS)], 90_000);
  await new Promise((r) => setTimeout(r, 1000));
  const legit = await legitimateClient();
  const r = await flood;
  const peak = rss.stop();
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim()) as { refused401: number; otherAnswers: number; errors: number };
  Object.assign(measured, { 'login.refused401': out.refused401, 'login.otherAnswers': out.otherAnswers, 'login.errors': out.errors, 'login.pingLoss': legit.loss, 'login.connectMs': legit.connectMs, 'login.peakRssMiB': Math.round(peak / 2 ** 20) });
  assert.ok(out.refused401 > 20, `only ${out.refused401} wrong-password attempts answered 401`);
  assert.equal(out.otherAnswers, 0, 'a wrong password never gets anything but 401');
  assert.ok(legit.loss <= MAX_PING_LOSS, `ping loss ${legit.loss} during the login flood`);
  assert.ok(peak - baseRss <= MAX_RSS_GROWTH_BYTES, `RSS grew ${peak - baseRss} bytes`);
  await settled('login');
});

test('a connection that keeps asking for the login page but never logs in is cut at auth-timeout', { timeout: 60_000 }, async () => {
  const r = await floodClient(topo.clients[1]!.ns, ['slowauth', topo.gw.outerIp, String(PORT), '1000', String((AUTH_TIMEOUT_S + 10) * 1000)], 60_000);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim()) as { answers: number; closedAfterMs: number | null };
  measured['slowauth.closedAfterMs'] = out.closedAfterMs;
  assert.ok(out.answers >= AUTH_TIMEOUT_S - 3, `the login page was served (${out.answers} answers)`);
  assert.ok(out.closedAfterMs !== null, 'the gateway never closed it');
  assert.ok(out.closedAfterMs >= (AUTH_TIMEOUT_S - 1) * 1000 && out.closedAfterMs <= (AUTH_TIMEOUT_S + 3) * 1000, `closed after ${out.closedAfterMs} ms`);
  await settled('slowauth');
});

test('a request head over max-header-size is refused and closed; one under it is served', { timeout: 30_000 }, async () => {
  const big = await floodClient(topo.clients[1]!.ns, ['bigheader', topo.gw.outerIp, String(PORT), String(MAX_HEADER_BYTES * 2), '0'], 20_000);
  assert.equal(big.code, 0, big.stderr);
  assert.match((JSON.parse(big.stdout.trim()) as { status: string }).status, /^(400|431)$/);
  const small = await floodClient(topo.clients[1]!.ns, ['bigheader', topo.gw.outerIp, String(PORT), String(MAX_HEADER_BYTES / 4), '0'], 20_000);
  assert.equal(small.code, 0, small.stderr);
  // Served (200), then the gateway closes the idle keep-alive connection at auth-timeout.
  assert.equal((JSON.parse(small.stdout.trim()) as { status: string }).status, '200');
  await settled('bigheader');
});

test(`UDP flood of ${UDP_DATAGRAMS} datagrams (garbage and ClientHellos for no session) at the DTLS port: no reply, a real client still logs in and pings`, { timeout: 120_000 }, async () => {
  const rss = rssSampler();
  const flood = topo.tryExec(topo.clients[1]!.ns, process.execPath, [path.join(__dirname, '..', 'helpers', 'udp-flood.js'), topo.gw.outerIp, String(PORT), String(UDP_DATAGRAMS)], { timeoutMs: 90_000 });
  await new Promise((r) => setTimeout(r, 300));
  const legit = await legitimateClient();
  const r = await flood;
  const peak = rss.stop();
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim()) as { sent: number; replies: number };
  Object.assign(measured, { 'udp.sent': out.sent, 'udp.replies': out.replies, 'udp.pingLoss': legit.loss, 'udp.connectMs': legit.connectMs, 'udp.peakRssMiB': Math.round(peak / 2 ** 20) });
  assert.deepEqual(out, { sent: UDP_DATAGRAMS, replies: 0 });
  assert.ok(legit.loss <= MAX_PING_LOSS, `ping loss ${legit.loss} during the UDP flood`);
  assert.ok(peak - baseRss <= MAX_RSS_GROWTH_BYTES, `RSS grew ${peak - baseRss} bytes`);
  await settled('udp');
});
