// The e2e harness proven against the reference gateway: real openconnect in
// client namespaces, Debian's ocserv in the gateway namespace, a lan host
// behind it (layout in test/helpers/netns.ts). When wolfguard replaces ocserv
// in the middle, these same assertions must hold. Needs root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makePki, type TestPki } from '../helpers/certs';
import { createTopology, type Topology } from '../helpers/netns';
import { startOcserv, type OcservHandle } from '../helpers/ocserv';
import fc from 'fast-check';
import { startOpenconnect, pinSha256, OpenconnectExitError, readVpncStates, decodeVpncState, VPNC_SCRIPT, type OpenconnectClient, type OpenconnectOptions } from '../helpers/openconnect';
import { runIperf, parseIperfJson } from '../helpers/iperf';
import { WolfguardError } from '../../src/common/errors';
import { registered, trackPath, untrackPath, isAlive, type ProcessRef, refOf } from '../helpers/reaper';
import { parsePrefix, parseAddressInto, maskInPlace, formatAddress } from '../../src/common/address';

const PORT = 4443;
const POOL4 = '10.77.0.0/24';
const POOL6 = 'fd00:77::/64';
const DNS = '10.77.0.1';
const DOMAIN = 'corp.test';
const USER = 'alice';
const PASSWORD = 'correct horse battery';
const IPERF_SECONDS = 2;
/** iperf3 sender and receiver totals may differ by what was in flight when the sender stopped. */
const IPERF_AGREEMENT = 0.9;
const IPV6_MIN_MTU = 1280;
const OUTER_MTU = 1500;
const SCALE_CLIENTS = 20;

let pki: TestPki;
let topo: Topology;
let ocserv: OcservHandle;
let workDir: string;
let pin: string;
const leaked: ProcessRef[] = [];

function inPrefix(addr: string, prefix: string): boolean {
  const p = parsePrefix(prefix);
  const w = new Uint32Array(4);
  const fam = parseAddressInto(addr, w);
  if (fam !== p.family) return false;
  maskInPlace(w, fam, p.length);
  return formatAddress(w, fam) === formatAddress(p.words, p.family);
}

function clientOpts(ns: string, extra: Partial<OpenconnectOptions> = {}): OpenconnectOptions {
  return { ns, url: `https://${topo.gw.outerIp}:${PORT}/`, user: USER, password: PASSWORD, servercertPin: pin, noDtls: true, ...extra };
}

async function ping(ns: string, target: string, dev?: string): Promise<void> {
  const args = ['-c', '3', '-W', '2', '-i', '0.2', ...(dev === undefined ? [] : ['-I', dev]), target];
  const r = await topo.tryExec(ns, 'ping', args);
  assert.equal(r.code, 0, `ping ${args.join(' ')} from ${ns}: ${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /3 received/);
}

/** Remembers what a client left running so after() can assert it is gone. */
function remember(c: OpenconnectClient): void {
  const r = refOf(c.pid);
  if (r !== undefined) leaked.push(r);
}

before(async () => {
  assert.equal(process.getuid?.(), 0, 'end-to-end tests need root (network namespaces, TUN)');
  pki = makePki('wg-e2e-pki-');
  trackPath(pki.dir);
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-e2e-'));
  trackPath(workDir);
  fs.chmodSync(workDir, 0o755); // ocserv workers (nobody) reach sec-mod's socket below it
  pin = pinSha256(pki.ecCert);
  topo = await createTopology({ clients: 2, tag: 'wgh' });
  ocserv = await startOcserv({
    ns: topo.gw.ns,
    dir: path.join(workDir, 'ocserv'),
    port: PORT,
    cert: pki.ecCert,
    key: pki.ecKey,
    users: [{ name: USER, password: PASSWORD }],
    ipv4Pool: POOL4,
    ipv6Pool: POOL6,
    routes: [topo.lan.prefix, topo.lan.prefix6],
    dns: [DNS],
    defaultDomain: DOMAIN,
    dpd: 20,
    keepalive: 30,
  });
});

after(async () => {
  if (process.env.WG_E2E_KEEP_LOG) fs.copyFileSync(ocserv.logPath, process.env.WG_E2E_KEEP_LOG);
  const names = topo?.namespaces ?? [];
  await ocserv?.stop();
  await topo?.destroy();
  pki?.cleanup();
  if (pki !== undefined) untrackPath(pki.dir);
  if (workDir !== undefined) {
    fs.rmSync(workDir, { recursive: true, force: true });
    untrackPath(workDir);
  }
  const listed = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  for (const ns of names) assert.ok(!listed.split('\n').some((l) => l.split(' ')[0] === ns), `namespace ${ns} left behind`);
  for (const r of leaked) assert.equal(isAlive(r), false, `openconnect ${r.pid} left running`);
  assert.deepEqual(registered(), { processes: [], namespaces: [], paths: [] }, 'every tracked resource released');
});

test('pin-sha256 matches openssl (SPKI DER, SHA-256, base64)', () => {
  const der = execFileSync('sh', ['-c', `openssl x509 -in '${pki.ecCert}' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`], { encoding: 'utf8' }).trim();
  assert.equal(pin, `pin-sha256:${der}`);
});

/** Runs the vpnc-script with only `vars` (plus PATH) in its environment and returns what it recorded. */
function runScript(vars: Record<string, string>): ReturnType<typeof readVpncStates> {
  const file = path.join(workDir, 'script-test.jsonl');
  fs.writeFileSync(file, '');
  execFileSync('/bin/sh', [VPNC_SCRIPT], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', WG_VPNC_STATE: file, ...vars }, stdio: 'ignore' });
  return readVpncStates(file);
}

/** What the script promises about a value: byte-exact but for control characters other than \n \r \t. */
function scriptVisible(v: string): string {
  return v.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, ' ');
}

test('vpnc-script records the variables it is given as JSON, and only openconnect\'s', () => {
  const cases: { vars: Record<string, string>; expect: Record<string, string> }[] = [
    { vars: { reason: 'pre-init', TUNDEV: 'oc9', HOME: '/root' }, expect: { reason: 'pre-init', TUNDEV: 'oc9' } },
    { vars: { reason: 'disconnect', CISCO_BANNER: 'say "hi"\\ \n\tnext' }, expect: { reason: 'disconnect', CISCO_BANNER: 'say "hi"\\ \n\tnext' } },
    { vars: { reason: 'attempt-reconnect', INTERNAL_IP4_DNS: '10.0.0.1 10.0.0.2', CISCO_DEF_DOMAIN: 'café.test' }, expect: { reason: 'attempt-reconnect', INTERNAL_IP4_DNS: '10.0.0.1 10.0.0.2', CISCO_DEF_DOMAIN: 'café.test' } },
  ];
  for (const c of cases) {
    const [st, ...rest] = runScript(c.vars);
    assert.equal(rest.length, 0);
    const { WG_SCRIPT_TIME, WG_SCRIPT_ERRORS, WG_SCRIPT_ROUTES, ...got } = st!.raw;
    assert.match(WG_SCRIPT_TIME ?? '', /^\d+\.\d+$/);
    assert.equal(WG_SCRIPT_ERRORS, '');
    assert.equal(WG_SCRIPT_ROUTES, '');
    assert.deepEqual(got, c.expect);
  }
});

test('vpnc-script JSON survives any value (property)', () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.oneof(fc.constantFrom('\\', '"', '\n', '\r', '\t', '\x01', '\x1f', '\x7f', 'é', '😀', '$(x)', '`'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 40 }).filter((v) => !v.includes('\0')), (v) => {
      const [st] = runScript({ reason: 'pre-init', CISCO_BANNER: v });
      assert.equal(st!.raw.CISCO_BANNER, scriptVisible(v));
    }),
    { numRuns: 60 },
  );
});

test('decodeVpncState turns openconnect\'s variables into fields', () => {
  const s = decodeVpncState({
    reason: 'connect',
    TUNDEV: 'oc0',
    VPNGATEWAY: '10.200.0.1',
    INTERNAL_IP4_ADDRESS: '10.77.0.50',
    INTERNAL_IP4_NETMASK: '255.255.255.0',
    INTERNAL_IP4_NETADDR: '10.77.0.0',
    INTERNAL_IP4_NETMASKLEN: '24',
    INTERNAL_IP4_MTU: '1472',
    INTERNAL_IP4_DNS: '10.77.0.1 10.77.0.2',
    INTERNAL_IP6_NETMASK: 'fd00:77::5/128',
    CISCO_DEF_DOMAIN: 'corp.test',
    CISCO_SPLIT_INC: '2',
    CISCO_SPLIT_INC_0_ADDR: '10.201.0.0',
    CISCO_SPLIT_INC_0_MASKLEN: '24',
    CISCO_SPLIT_INC_1_ADDR: '192.0.2.0',
    CISCO_SPLIT_INC_1_MASKLEN: '25',
    CISCO_SPLIT_EXC: '1',
    CISCO_SPLIT_EXC_0_ADDR: '192.0.2.128',
    CISCO_SPLIT_EXC_0_MASKLEN: '25',
    CISCO_IPV6_SPLIT_INC: '1',
    CISCO_IPV6_SPLIT_INC_0_ADDR: 'fd00:201::',
    CISCO_IPV6_SPLIT_INC_0_MASKLEN: '64',
    WG_SCRIPT_ROUTES: '10.77.0.0/24;10.201.0.0/24',
    WG_SCRIPT_ERRORS: '',
  });
  assert.deepEqual(
    { ...s, raw: undefined },
    {
      reason: 'connect',
      tundev: 'oc0',
      gateway: '10.200.0.1',
      ip4: { address: '10.77.0.50', netmask: '255.255.255.0', netaddr: '10.77.0.0', masklen: 24 },
      ip6: { address: 'fd00:77::5', netmask: 'fd00:77::5/128' },
      mtu: 1472,
      dns4: ['10.77.0.1', '10.77.0.2'],
      dns6: [],
      domain: 'corp.test',
      splitInclude: ['10.201.0.0/24', '192.0.2.0/25'],
      splitExclude: ['192.0.2.128/25'],
      splitInclude6: ['fd00:201::/64'],
      splitExclude6: [],
      routes: ['10.77.0.0/24', '10.201.0.0/24'],
      errors: '',
      raw: undefined,
    },
  );
});

test('parseIperfJson reads both totals and refuses what is not an iperf3 report', () => {
  const ok = JSON.stringify({ end: { sum_sent: { bytes: 1000, bits_per_second: 8000, seconds: 1, retransmits: 2 }, sum_received: { bytes: 990, bits_per_second: 7920, seconds: 1 } } });
  const r = parseIperfJson(ok);
  assert.deepEqual([r.sentBytes, r.receivedBytes, r.sentBitsPerSecond, r.receivedBitsPerSecond, r.seconds, r.retransmits], [1000, 990, 8000, 7920, 1, 2]);
  for (const [text, why] of [
    ['', /not JSON/],
    ['{"error":"unable to connect to server: Connection refused"}', /Connection refused/],
    ['{"end":{}}', /sum_sent\.bytes/],
    ['{"end":{"sum_sent":{"bytes":1,"bits_per_second":8},"sum_received":{"bytes":"x"}}}', /sum_received\.bytes/],
    ['null', /sum_sent/],
  ] as const) {
    assert.throws(() => parseIperfJson(text), (e: unknown) => e instanceof WolfguardError && why.test(e.message), text);
  }
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
      try {
        parseIperfJson(text);
      } catch (e) {
        assert.ok(e instanceof WolfguardError, String(e));
      }
    }),
  );
});

test('CSTP: login, pushed settings, IPv4/IPv6 through the tunnel, iperf3 both ways, clean disconnect', { timeout: 90_000 }, async (t) => {
  t.diagnostic(`topology with 2 clients created in ${topo.createdMs.toFixed(0)} ms; ocserv ready in ${ocserv.readyMs.toFixed(0)} ms`);
  const ns = topo.clients[0]!.ns;
  const oc = await startOpenconnect(clientOpts(ns));
  remember(oc);
  try {
    t.diagnostic(`openconnect connected in ${oc.connectMs.toFixed(0)} ms, TLS ${oc.tlsCiphersuite}`);
    t.diagnostic(`argv: ${oc.argv.join(' ')}`);
    await t.test('vpnc state carries what ocserv pushed', async () => {
      const s = oc.state;
      assert.equal(s.reason, 'connect');
      assert.equal(s.tundev, oc.interfaceName);
      assert.equal(s.gateway, topo.gw.outerIp);
      assert.ok(s.ip4 !== undefined && inPrefix(s.ip4.address, POOL4), `IPv4 ${s.ip4?.address} in ${POOL4}`);
      assert.equal(s.ip4.netmask, '255.255.255.0');
      assert.ok(s.ip6 !== undefined && inPrefix(s.ip6.address, POOL6), `IPv6 ${s.ip6?.address} in ${POOL6}`);
      assert.deepEqual(s.dns4, [DNS]);
      assert.equal(s.domain, DOMAIN);
      assert.deepEqual(s.splitInclude, [topo.lan.prefix]);
      assert.deepEqual(s.splitInclude6, [topo.lan.prefix6]);
      // IPv6 needs 1280; the outer link is 1500.
      assert.ok(s.mtu !== undefined && s.mtu >= IPV6_MIN_MTU && s.mtu < OUTER_MTU, `MTU ${s.mtu}`);
      assert.deepEqual(s.routes, [POOL4, topo.lan.prefix, topo.lan.prefix6]);
      assert.equal(s.errors, '');
      assert.deepEqual(oc.events().map((e) => e.reason), ['pre-init', 'connect']);
    });
    await t.test('the TUN in the client namespace is configured as pushed', async () => {
      const link = JSON.parse((await topo.exec(ns, 'ip', ['-j', 'addr', 'show', 'dev', oc.interfaceName])).stdout) as { mtu: number; operstate: string; addr_info: { local: string }[] }[];
      assert.equal(link[0]!.mtu, oc.state.mtu);
      const locals = link[0]!.addr_info.map((a) => a.local);
      assert.ok(locals.includes(oc.state.ip4!.address));
      assert.ok(locals.includes(oc.state.ip6!.address));
    });
    await t.test('ping the lan host over IPv4 and IPv6', async () => {
      await ping(ns, topo.lan.ip);
      await ping(ns, topo.lan.ip6);
    });
    await t.test('the lan is not reachable from the client namespace except through the tunnel', async () => {
      const other = topo.clients[1]!.ns;
      const r = await topo.tryExec(other, 'ping', ['-c', '1', '-W', '1', topo.lan.ip]);
      assert.notEqual(r.code, 0);
    });
    for (const reverse of [false, true]) {
      await t.test(`iperf3 ${reverse ? 'lan → client (-R)' : 'client → lan'} for ${IPERF_SECONDS} s`, async (tt) => {
        const r = await runIperf({ serverNs: topo.lan.ns, serverIp: topo.lan.ip, clientNs: ns, seconds: IPERF_SECONDS, reverse });
        tt.diagnostic(`${(r.receivedBitsPerSecond / 1e6).toFixed(0)} Mbit/s, sent ${r.sentBytes} B, received ${r.receivedBytes} B, retransmits ${r.retransmits}`);
        assert.ok(r.sentBytes > 0 && r.receivedBytes > 0);
        assert.ok(r.receivedBytes <= r.sentBytes, 'nothing received that was not sent');
        assert.ok(r.receivedBytes >= r.sentBytes * IPERF_AGREEMENT, `sender ${r.sentBytes} and receiver ${r.receivedBytes} agree`);
      });
    }
  } finally {
    const st = await oc.stop();
    assert.equal(st.code, 0, `openconnect exit after SIGINT: ${oc.stderr()}`);
  }
  assert.deepEqual(oc.events().map((e) => e.reason), ['pre-init', 'connect', 'disconnect']);
  const links = await topo.tryExec(ns, 'ip', ['link', 'show', 'dev', oc.interfaceName]);
  assert.notEqual(links.code, 0, 'TUN removed on disconnect');
});

test('wrong password: openconnect exits non-zero before any tunnel', { timeout: 30_000 }, async (t) => {
  const err = await startOpenconnect(clientOpts(topo.clients[0]!.ns, { password: 'wrong' })).then(
    (c) => {
      remember(c);
      return c.stop().then(() => assert.fail('logged in with a wrong password'));
    },
    (e: unknown) => e,
  );
  assert.ok(err instanceof OpenconnectExitError, String(err));
  assert.notEqual(err.status.code, 0);
  assert.notEqual(err.status.code, null);
  t.diagnostic(`exit ${err.status.code}; stderr: ${err.stderr.trim().replace(/\n/g, ' | ')}`);
  // The gateway answers the bad password with the login form again; openconnect
  // says so, wants a new password and, being --non-inter, gives up.
  assert.match(err.stderr, /Login failed\./);
  assert.match(err.stderr, /Failed to complete authentication/);
});

test('DTLS with ocserv: the data channel moves to UDP and traffic flows', { timeout: 60_000 }, async (t) => {
  const ns = topo.clients[1]!.ns;
  const oc = await startOpenconnect(clientOpts(ns, { noDtls: false }));
  remember(oc);
  try {
    const m = await oc.waitForOutput(/Established DTLS connection \(using (\w+)\)\. Ciphersuite (\S+)\./, 10_000);
    t.diagnostic(`DTLS up in ${oc.connectMs.toFixed(0)} ms (+ DTLS handshake): ${m[2]} via ${m[1]}`);
    await ping(ns, topo.lan.ip);
    await ping(ns, topo.lan.ip6);
    const r = await runIperf({ serverNs: topo.lan.ns, serverIp: topo.lan.ip, clientNs: ns, seconds: IPERF_SECONDS });
    t.diagnostic(`DTLS iperf3 client → lan: ${(r.receivedBitsPerSecond / 1e6).toFixed(0)} Mbit/s`);
    assert.ok(r.receivedBytes > 0);
  } finally {
    await oc.stop();
  }
});

test('two clients share one namespace: distinct TUNs, addresses and routes', { timeout: 60_000 }, async () => {
  const ns = topo.clients[0]!.ns;
  const a = await startOpenconnect(clientOpts(ns));
  remember(a);
  try {
    const b = await startOpenconnect(clientOpts(ns));
    remember(b);
    try {
      assert.notEqual(a.interfaceName, b.interfaceName);
      assert.notEqual(a.state.ip4!.address, b.state.ip4!.address);
      assert.equal(a.state.errors + b.state.errors, '');
      // With two routes to the lan in one namespace, binding to a TUN picks its route.
      await ping(ns, topo.lan.ip, a.interfaceName);
      await ping(ns, topo.lan.ip, b.interfaceName);
      const users = await ocserv.occtl(['-j', 'show', 'users']);
      assert.equal(users.code, 0, users.stderr);
      const vpnIps = (JSON.parse(users.stdout) as { IPv4: string }[]).map((u) => u.IPv4).sort();
      assert.deepEqual(vpnIps, [a.state.ip4!.address, b.state.ip4!.address].sort());
    } finally {
      await b.stop();
    }
  } finally {
    await a.stop();
  }
});

test(`${SCALE_CLIENTS} clients in ${SCALE_CLIENTS} namespaces connect concurrently and all reach the lan`, { timeout: 120_000 }, async (t) => {
  const big = await createTopology({ clients: SCALE_CLIENTS, tag: 'wgs' });
  let gw: OcservHandle | undefined;
  const clients: OpenconnectClient[] = [];
  try {
    t.diagnostic(`${SCALE_CLIENTS}-client topology created in ${big.createdMs.toFixed(0)} ms`);
    // The very first IPv6 packet on a fresh topology gets through (no tentative addresses).
    await big.exec(big.lan.ns, 'ping', ['-6', '-c', '1', '-W', '1', big.gw.lanIp6]);
    await big.exec(big.clients[SCALE_CLIENTS - 1]!.ns, 'ping', ['-6', '-c', '1', '-W', '1', big.gw.outerIp6]);
    gw = await startOcserv({
      ns: big.gw.ns,
      dir: path.join(workDir, 'ocserv-scale'),
      port: PORT,
      cert: pki.ecCert,
      key: pki.ecKey,
      users: [{ name: USER, password: PASSWORD }],
      ipv4Pool: POOL4,
      routes: [big.lan.prefix],
      dns: [DNS],
    });
    const t0 = Date.now();
    const settled = await Promise.allSettled(big.clients.map((c) => startOpenconnect({ ns: c.ns, url: `https://${big.gw.outerIp}:${PORT}/`, user: USER, password: PASSWORD, servercertPin: pin, noDtls: true, verbose: false })));
    for (const s of settled) if (s.status === 'fulfilled') clients.push(s.value);
    clients.forEach(remember);
    const failed = settled.flatMap((s, i) => (s.status === 'rejected' ? [`client ${i}: ${String(s.reason)}`] : []));
    assert.deepEqual(failed, [], `${failed.length} of ${SCALE_CLIENTS} clients failed`);
    const ms = clients.map((c) => c.connectMs).sort((x, y) => x - y);
    t.diagnostic(`all connected in ${Date.now() - t0} ms; per client median ${ms[ms.length >> 1]!.toFixed(0)} ms, max ${ms[ms.length - 1]!.toFixed(0)} ms`);
    assert.equal(new Set(clients.map((c) => c.state.ip4!.address)).size, SCALE_CLIENTS, 'distinct addresses');
    await Promise.all(big.clients.map((c) => big.exec(c.ns, 'ping', ['-c', '2', '-W', '2', '-i', '0.2', big.lan.ip])));
  } finally {
    await Promise.all(clients.map((c) => c.stop()));
    await gw?.stop();
    await big.destroy();
  }
});
