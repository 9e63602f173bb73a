// Operating the gateway (issue 7), end to end with real openconnect clients:
// wolfguard-ctl found from the configuration file (-c) with every command's
// --json checked against docs/wolfguard-ctl.md, `reload` of a changed route
// list, every metrics family of docs/metrics.md with counters against iperf3
// both ways, no secret in the log of a login + tunnel + logout, and `stop`.
// Layout of test/helpers/netns.ts; needs root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { TestPki } from '../helpers/certs';
import { closeScratch, openScratch } from '../helpers/e2e-scratch';
import { createTopology, type Topology } from '../helpers/netns';
import { startOpenconnect, pinSha256, OPENCONNECT, type OpenconnectOptions } from '../helpers/openconnect';
import { runIperf } from '../helpers/iperf';
import { startWolfguard, type WolfguardHandle } from '../helpers/wolfguard';

const PORT = 4443;
const USER = 'alice';
const PASSWORD = 'ops-Pa55word-7f3e';
const OTHER = 'bob';
const OTHER_PASSWORD = 'bob-Pa55word-91c2';
/** A wrong password tried once: it must not reach the log either. */
const WRONG_PASSWORD = 'wrong-Pa55word-c0de';
const CLIENTS = 8;
const METRICS_PORT = 9102;
const IPERF_SECONDS = 2;
/** TUN bytes carry IP and TCP headers on top of iperf3's payload: at most this much more. */
const HEADER_SLACK = 1.1;
/** Extra bytes a counter may have seen besides iperf3 (pings, DPD, TCP control of other tests). */
const OTHER_TRAFFIC = 1_000_000;
const EXTRA_ROUTE = '192.0.2.0/24';

let pki: TestPki;
let topo: Topology;
let gw: WolfguardHandle;
let workDir: string;
let pin: string;

function clientOpts(i: number, extra: Partial<OpenconnectOptions> = {}): OpenconnectOptions {
  return { ns: topo.clients[i]!.ns, url: `https://${topo.gw.outerIp}:${PORT}/`, user: USER, password: PASSWORD, servercertPin: pin, noDtls: true, ...extra };
}

async function ping(ns: string, target: string, count = 3): Promise<void> {
  const r = await topo.tryExec(ns, 'ping', ['-c', String(count), '-W', '2', '-i', '0.2', target]);
  assert.equal(r.code, 0, `ping ${target} from ${ns}: ${r.stdout}${r.stderr}`);
}

/** wolfguard-ctl of this build, finding the socket from the gateway's configuration file as an operator would. */
function ctl(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(__dirname, '..', '..', 'src', 'main', 'ctl.js'), '-c', gw.confPath, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ctlJson<T>(...args: string[]): T {
  const r = ctl('--json', ...args);
  assert.equal(r.code, 0, `wolfguard-ctl --json ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** A file of the repository, found upwards from this build (dist/ or a private .build-*). */
function repoFile(...p: string[]): string {
  let d = __dirname;
  while (!fs.existsSync(path.join(d, 'package.json')) && path.dirname(d) !== d) d = path.dirname(d);
  return path.join(d, ...p);
}

/** docs/wolfguard-ctl.md: the field paths listed on the "JSON:" line of each "### command" section. */
function documentedFields(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const section of fs.readFileSync(repoFile('docs', 'wolfguard-ctl.md'), 'utf8').split(/^### /m).slice(1)) {
    const title = section.split('\n')[0]!;
    const line = /^JSON: (.*)$/m.exec(section)?.[1];
    if (line === undefined) continue;
    const fields = [...line.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    for (const h of title.split(' / ')) out.set(h.trim(), fields);
  }
  return out;
}

/** Whether `value` has the field path `p` ("a.b", "a[].b", "[].b"; every element of an empty array has it). */
function hasPath(value: unknown, p: string): boolean {
  const [head, ...rest] = p.split('.');
  const tail = rest.join('.');
  if (head!.endsWith('[]')) {
    const arr = head === '[]' ? value : (value as Record<string, unknown>)[head!.slice(0, -2)];
    if (!Array.isArray(arr)) return false;
    return arr.every((x) => (tail === '' ? true : hasPath(x, tail)));
  }
  if (value === null || typeof value !== 'object' || !(head! in (value as object))) return false;
  return tail === '' ? true : hasPath((value as Record<string, unknown>)[head!], tail);
}

function assertDocumented(command: string, body: unknown): void {
  const fields = documentedFields().get(command);
  assert.ok(fields && fields.length > 0, `docs/wolfguard-ctl.md lists the JSON of ${command}`);
  for (const f of fields) assert.ok(hasPath(body, f), `${command} --json has ${f}: ${JSON.stringify(body).slice(0, 400)}`);
}

/** The readable form: not JSON, nothing printed as [object Object]. */
function assertReadable(...args: string[]): string {
  const r = ctl(...args);
  assert.equal(r.code, 0, `wolfguard-ctl ${args.join(' ')}: ${r.stderr}`);
  assert.doesNotMatch(r.stdout, /\[object Object\]/);
  assert.throws(() => JSON.parse(r.stdout) as unknown, SyntaxError, `${args.join(' ')} prints a table, not JSON`);
  return r.stdout;
}

interface SessionView {
  id: string;
  user: string;
  state: string;
  ipv4: string;
  shard: number;
  tunnels: number;
}

before(async () => {
  assert.equal(process.getuid?.(), 0, 'end-to-end tests need root (network namespaces, TUN)');
  ({ pki, workDir } = openScratch('ops'));
  pin = pinSha256(pki.ecCert);
  topo = await createTopology({ clients: CLIENTS, tag: 'wgops' });
  gw = await startWolfguard({
    ns: topo.gw.ns,
    dir: path.join(workDir, 'gw'),
    port: PORT,
    cert: pki.ecCert,
    key: pki.ecKey,
    users: [
      { name: USER, password: PASSWORD },
      { name: OTHER, password: OTHER_PASSWORD },
    ],
    ipv4Pool: '10.79.0.0/24',
    ipv6Pool: 'fd00:79::/64',
    routes: [topo.lan.prefix, topo.lan.prefix6],
    dns: ['10.79.0.1'],
    dpd: 20,
    keepalive: 30,
    workers: 2,
    // The most verbose level: a secret that reached any log call would show.
    env: { WOLFGUARD_METRICS: `127.0.0.1:${METRICS_PORT}`, WOLFGUARD_LOG_LEVEL: 'trace', WOLFGUARD_LOG_FORMAT: 'json' },
  });
});

after(async () => {
  await closeScratch({ gw, topo, pki, workDir });
});

test('no secret in the log of a wrong password, a login, a DTLS tunnel with traffic and a logout; every session line names user, peer and session', { timeout: 90_000 }, async () => {
  const ns = topo.clients[0]!.ns;
  const from = gw.log().length;
  const wrong = await topo.tryExec(ns, OPENCONNECT, ['--authenticate', '--non-inter', '--passwd-on-stdin', '-u', USER, '--servercert', pin, `https://${topo.gw.outerIp}:${PORT}/`], { input: `${WRONG_PASSWORD}\n`, timeoutMs: 30_000 });
  assert.notEqual(wrong.code, 0, 'the wrong password is refused');
  // Log in alone first, to learn the cookie openconnect was given, then open the tunnel with it.
  const cookie = await cookieFor(0);
  const c = await startOpenconnect(clientOpts(0, { noDtls: false, extraArgs: ['--cookie', cookie] }));
  try {
    await c.waitForOutput(/Established DTLS connection/, 15_000);
    await ping(ns, topo.lan.ip);
    await ping(ns, topo.lan.ip6);
  } finally {
    await c.stop();
  }
  // openconnect's SIGINT logs out: the session goes.
  for (let i = 0; i < 50 && ctlJson<SessionView[]>('show', 'users').length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(ctlJson<SessionView[]>('show', 'users'), []);
  await new Promise((r) => setTimeout(r, 300));
  const log = gw.log().slice(from);
  const keyBody = fs.readFileSync(pki.ecKey, 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('-----'));
  for (const [what, secret] of [['password', PASSWORD], ['wrong password', WRONG_PASSWORD], ['cookie', cookie], ['cookie, URL-encoded', encodeURIComponent(cookie)], ...keyBody.map((l) => ['server key line', l])] as Array<[string, string]>) {
    assert.ok(!log.includes(secret), `the ${what} is in the gateway log`);
  }
  // The lines were written (the grep above looked at something) and each session line says who, from where, which session.
  const lines = log.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  const sessionLines = lines.filter((l) => ['login', 'tunnel open', 'session ended'].includes(l.msg as string) || (l.msg as string).startsWith('tunnel closed'));
  for (const msg of ['login', 'tunnel open', 'session ended']) assert.ok(sessionLines.some((l) => l.msg === msg), `a "${msg}" line in\n${log}`);
  for (const l of sessionLines) {
    assert.equal(l.user, USER, JSON.stringify(l));
    // The dual-stack listener reports IPv4 peers IPv4-mapped.
    assert.ok(l.peer === topo.clients[0]!.ip || l.peer === `::ffff:${topo.clients[0]!.ip}`, JSON.stringify(l));
    assert.match(String(l.session), /^[0-9a-f]{8,}$/, JSON.stringify(l));
  }
  assert.ok(lines.some((l) => l.msg === 'login refused' && l.user === USER && String(l.peer).endsWith(topo.clients[0]!.ip)), 'the wrong password is logged, without it');
});

/** Every cookie the tests learnt: none may ever reach the gateway log. */
const seenCookies: string[] = [];

/** Logs in with openconnect --authenticate and returns the webvpn cookie it was given. */
async function cookieFor(i: number): Promise<string> {
  const auth = await topo.tryExec(topo.clients[i]!.ns, OPENCONNECT, ['--authenticate', '--non-inter', '--passwd-on-stdin', '-u', USER, '--servercert', pin, `https://${topo.gw.outerIp}:${PORT}/`], { input: `${PASSWORD}\n`, timeoutMs: 30_000 });
  assert.equal(auth.code, 0, auth.stderr);
  const cookie = /^COOKIE='([^']+)'$/m.exec(auth.stdout)?.[1];
  assert.ok(cookie !== undefined && cookie.length >= 20, `a cookie in ${auth.stdout}`);
  seenCookies.push(cookie);
  return cookie;
}

test('disconnect keeps the cookie valid, terminate invalidates it: the same cookie opens a tunnel again only after disconnect', { timeout: 90_000 }, async () => {
  const cookie = await cookieFor(1);
  const c1 = await startOpenconnect(clientOpts(1, { extraArgs: ['--cookie', cookie] }));
  try {
    const id = ctlJson<SessionView[]>('show', 'user', USER)[0]!.id;
    ctlJson('disconnect', 'id', id);
    await c1.waitForOutput(/Got CONNECT response: HTTP\/1\.1 200 CONNECTED[\s\S]*Got CONNECT response: HTTP\/1\.1 200 CONNECTED/, 40_000);
    await ping(topo.clients[1]!.ns, topo.lan.ip);
    ctlJson('terminate', 'id', id);
    await c1.exited;
  } finally {
    await c1.stop();
  }
  // A new openconnect process with the terminated session's cookie is refused.
  await assert.rejects(startOpenconnect(clientOpts(1, { extraArgs: ['--cookie', cookie], connectTimeoutMs: 20_000 })));
  assert.deepEqual(ctlJson<SessionView[]>('show', 'users'), []);
});

test('wolfguard-ctl -c CONFIG with live clients: every command, --json with the documented fields, readable tables', { timeout: 150_000 }, async () => {
  const a = await startOpenconnect(clientOpts(1));
  const b = await startOpenconnect(clientOpts(2, { user: OTHER, password: OTHER_PASSWORD }));
  try {
    const users = ctlJson<SessionView[]>('show', 'users');
    assert.deepEqual(users.map((u) => u.user).sort(), [USER, OTHER].sort());
    assertDocumented('show users', users);
    assert.match(assertReadable('show', 'users'), /^id\s+user\s+state\s+ipv4/);
    const mine = ctlJson<SessionView[]>('show', 'user', OTHER);
    assert.deepEqual(mine.map((u) => u.ipv4), [b.state.ip4!.address], 'show user lists that user alone');
    assertDocumented('show user', mine);
    assertReadable('show', 'user', OTHER);
    const sa = users.find((u) => u.user === USER)!;
    assertDocumented('show session', ctlJson('show', 'session', sa.id));
    assertReadable('show', 'session', sa.id);

    const st = ctlJson<Record<string, unknown>>('status');
    assertDocumented('status', st);
    assert.equal(st.connected, 2);
    assert.equal(st.tunSteering, 'on', 'two shards: the steering program is attached');
    assert.ok((st.handshakes as number) >= 2, 'both clients\' handshakes counted');
    assert.match(assertReadable('status'), /^handshakesPerSecond\s+\d/m);

    // disconnect user: the cookie stays valid and openconnect comes back into the same session.
    const d = ctlJson<{ disconnected: string[] }>('disconnect', 'user', USER);
    assertDocumented('disconnect', d);
    assert.deepEqual(d.disconnected, [sa.id]);
    await a.waitForOutput(/Got CONNECT response: HTTP\/1\.1 200 CONNECTED[\s\S]*Got CONNECT response: HTTP\/1\.1 200 CONNECTED/, 40_000);
    let again = sa;
    for (let i = 0; i < 50 && again.tunnels < 2; i++) {
      again = ctlJson<SessionView>('show', 'session', sa.id);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(again.tunnels, 2);
    await ping(topo.clients[1]!.ns, topo.lan.ip);
    assert.match(assertReadable('disconnect', 'id', sa.id), /^disconnected\s+[0-9a-f]+$/m);
    await a.waitForOutput(/(Got CONNECT response: HTTP\/1\.1 200 CONNECTED[\s\S]*){3}/, 40_000);

    // terminate id: that session ends for good, the other user's stays.
    const sb = users.find((u) => u.user === OTHER)!;
    const t = ctlJson<{ terminated: string[] }>('terminate', 'id', sb.id);
    assertDocumented('terminate', t);
    assert.deepEqual(t.terminated, [sb.id]);
    await b.exited;
    assert.match(b.stdout() + b.stderr(), /Received server disconnect/);
    assert.deepEqual(ctlJson<SessionView[]>('show', 'users').map((u) => u.user), [USER]);
    await ping(topo.clients[1]!.ns, topo.lan.ip);

    // block_ip refuses the next connect from that address; unban lets it in.
    const blocked = topo.clients[3]!.ip;
    const bl = ctlJson('block_ip', blocked, '--seconds', '600');
    assertDocumented('block_ip', bl);
    const bans = ctlJson<Array<{ prefix: string; until: string | null }>>('show', 'bans');
    assertDocumented('show bans', bans);
    assert.ok(bans.some((x) => x.prefix === `${blocked}/32` && x.until !== null));
    assert.match(assertReadable('show', 'bans'), new RegExp(`^${blocked.replace(/\./g, '\\.')}/32\\s`, 'm'));
    await assert.rejects(startOpenconnect(clientOpts(3, { connectTimeoutMs: 15_000 })));
    assertDocumented('unban', ctlJson('unban', blocked));
    assert.equal(ctl('unban', blocked).code, 1, 'unbanning again: not banned');
    assertDocumented('ban', ctlJson('ban', blocked));
    assertReadable('unban', blocked);
    const c = await startOpenconnect(clientOpts(3));
    await c.stop();

    assertDocumented('show rules', ctlJson('show', 'rules'));
    assertReadable('show', 'rules');
    assertDocumented('reload_rules', ctlJson('reload_rules'));
    assertReadable('reload_rules');
    assertDocumented('reload', ctlJson('reload'));
    assert.match(assertReadable('reload'), /^needRestart\s+\(none\)$/m);
  } finally {
    await a.stop();
    await b.stop();
  }
});

test('wolfguard-ctl reload with a changed route list: a new session gets it, the open one keeps working; a broken file is refused and the old configuration stays', { timeout: 90_000 }, async () => {
  const old = await startOpenconnect(clientOpts(4));
  const conf = fs.readFileSync(gw.confPath, 'utf8');
  try {
    assert.deepEqual(old.state.splitInclude, [topo.lan.prefix]);
    fs.writeFileSync(gw.confPath, `${conf}route = ${EXTRA_ROUTE}\n`);
    const r = ctlJson<{ needRestart: string[] }>('reload');
    assert.deepEqual(r.needRestart, []);
    const fresh = await startOpenconnect(clientOpts(5));
    try {
      assert.deepEqual([...fresh.state.splitInclude].sort(), [topo.lan.prefix, EXTRA_ROUTE].sort());
      await ping(topo.clients[4]!.ns, topo.lan.ip);
      await ping(topo.clients[5]!.ns, topo.lan.ip);
    } finally {
      await fresh.stop();
    }
    // A file that no longer loads: exit 1 with the reason; sessions and the last good configuration stay.
    fs.writeFileSync(gw.confPath, `${conf}route = not-a-route\n`);
    // --socket: with -c, wolfguard-ctl itself would stop at the broken file before asking the gateway.
    const bad = ctl('--socket', gw.adminSocket, 'reload');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /not reloaded.*route/);
    fs.writeFileSync(gw.confPath, conf);
    const third = await startOpenconnect(clientOpts(5));
    try {
      assert.deepEqual([...third.state.splitInclude].sort(), [topo.lan.prefix, EXTRA_ROUTE].sort(), 'the last configuration that loaded is still in force');
    } finally {
      await third.stop();
    }
    await ping(topo.clients[4]!.ns, topo.lan.ip);
  } finally {
    fs.writeFileSync(gw.confPath, conf);
    ctl('reload');
    await old.stop();
  }
});

async function scrape(): Promise<{ text: string; values: Map<string, number> }> {
  const js = `require('http').get('http://127.0.0.1:${METRICS_PORT}/metrics', (r) => { let t = ''; r.on('data', (d) => (t += d)); r.on('end', () => process.stdout.write(t)); })`;
  const r = await topo.tryExec(topo.gw.ns, process.execPath, ['-e', js]);
  assert.equal(r.code, 0, r.stderr);
  const values = new Map<string, number>();
  for (const line of r.stdout.split('\n')) {
    const m = /^([a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$/.exec(line);
    if (m) values.set(m[1]!, Number(m[2]));
  }
  return { text: r.stdout, values };
}

/** Sum of a metric over the series whose labels include every `key="value"` given. */
function sumWhere(m: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let s = 0;
  for (const [k, v] of m) {
    if (k !== name && !k.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([lk, lv]) => k.includes(`${lk}="${lv}"`))) s += v;
  }
  return s;
}

test('metrics: every documented family is served; TUN and TLS-channel bytes follow iperf3 both ways; sessions by shard, failed logins and status rates move', { timeout: 120_000 }, async () => {
  const documented = [...fs.readFileSync(repoFile('docs', 'metrics.md'), 'utf8').matchAll(/^\| `(wolfguard_[a-z_]+)`/gm)].map((m) => m[1]!);
  assert.ok(documented.length >= 20, 'docs/metrics.md lists the families');
  const c = await startOpenconnect(clientOpts(6));
  const ns = topo.clients[6]!.ns;
  try {
    const first = await scrape();
    for (const f of documented) assert.match(first.text, new RegExp(`^# TYPE ${f} `, 'm'), `${f} is served`);
    const shards = ctlJson<SessionView[]>('show', 'users').find((u) => u.ipv4 === c.state.ip4!.address)!.shard;
    assert.equal(first.values.get(`wolfguard_shard_sessions{shard="${shards}"}`), 1);
    assert.equal(sumWhere(first.values, 'wolfguard_shard_sessions'), sumWhere(first.values, 'wolfguard_sessions', { state: 'connected' }));

    const failedBefore = first.values.get('wolfguard_logins_total{result="failed"}') ?? 0;
    await assert.rejects(startOpenconnect(clientOpts(7, { password: WRONG_PASSWORD, connectTimeoutMs: 20_000 })));

    for (const reverse of [false, true]) {
      const before = (await scrape()).values;
      const r = await runIperf({ serverNs: topo.lan.ns, serverIp: topo.lan.ip, clientNs: ns, seconds: IPERF_SECONDS, reverse });
      const after = (await scrape()).values;
      const d = (name: string, labels: Record<string, string> = {}) => sumWhere(after, name, labels) - sumWhere(before, name, labels);
      const within = (what: string, v: number) => assert.ok(v >= r.receivedBytes && v <= r.sentBytes * HEADER_SLACK + OTHER_TRAFFIC, `${what}: ${v} bytes for iperf3's ${r.receivedBytes} received / ${r.sentBytes} sent`);
      if (!reverse) {
        within('TUN written (from clients)', d('wolfguard_tun_written_bytes_total'));
        within('TLS channel in', d('wolfguard_channel_bytes_total', { channel: 'tls', direction: 'in' }));
      } else {
        within('TUN read (towards clients)', d('wolfguard_tun_read_bytes_total'));
        within('TLS channel out', d('wolfguard_channel_bytes_total', { channel: 'tls', direction: 'out' }));
        // What reaches the client went through the TUN first: the channel carries at least the TUN bytes (plus CSTP headers).
        assert.ok(d('wolfguard_channel_bytes_total', { channel: 'tls', direction: 'out' }) >= d('wolfguard_tun_read_bytes_total') * 0.99);
      }
      assert.equal(d('wolfguard_channel_bytes_total', { channel: 'dtls' }), 0, 'a --no-dtls client moves nothing over DTLS');
      assert.ok(d('wolfguard_tun_write_drops_total') >= 0 && d('wolfguard_ring_drops_total') >= 0);
      const st = ctlJson<{ bytesPerSecondFromClients: number; bytesPerSecondToClients: number; windowSeconds: number }>('status');
      const rate = reverse ? st.bytesPerSecondToClients : st.bytesPerSecondFromClients;
      assert.ok(rate * st.windowSeconds >= r.receivedBytes * 0.5, `status rate ${rate} B/s over ${st.windowSeconds} s reflects iperf3's ${r.receivedBytes} bytes`);
    }
    const last = (await scrape()).values;
    assert.ok((last.get('wolfguard_logins_total{result="failed"}') ?? 0) >= failedBefore + 1, 'the wrong password counted as a failed login');
    assert.ok((last.get('wolfguard_logins_total{result="ok"}') ?? 0) >= 1);
    assert.ok(sumWhere(last, 'wolfguard_admission_decisions_total') > 0);
    assert.ok((last.get('wolfguard_tls_handshake_seconds_count') ?? 0) >= 1);
    for (const s of ['0', '1']) assert.ok(last.has(`wolfguard_shard_event_loop_lag_seconds{shard="${s}"}`), `lag of shard ${s}`);
    assert.ok(last.has('wolfguard_main_event_loop_lag_seconds'));
  } finally {
    await c.stop();
  }
});

// Keep this test last: it stops the gateway.
test('wolfguard-ctl stop: the connected client is told, the gateway exits 0 and the socket goes', { timeout: 60_000 }, async () => {
  const c = await startOpenconnect(clientOpts(7));
  try {
    const r = ctlJson<{ stopping: boolean }>('stop');
    assertDocumented('stop', r);
    assert.equal(r.stopping, true);
    const st = await gw.exited;
    assert.equal(st.code, 0, gw.log().slice(-2000));
    await c.waitForOutput(/Received server disconnect/, 10_000);
    const after = ctl('status');
    assert.equal(after.code, 1);
    assert.match(after.stderr, /no gateway listening/);
    // The whole run's log, refused cookies and operator commands included: no password, no cookie.
    const log = gw.log();
    assert.match(log, /"msg":"tunnel refused"/, 'the refused cookie of the terminate test was logged (without it)');
    for (const secret of [PASSWORD, OTHER_PASSWORD, WRONG_PASSWORD, ...seenCookies]) assert.ok(!log.includes(secret), 'a secret in the gateway log');
  } finally {
    await c.stop();
  }
});
