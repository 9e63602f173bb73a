// Privilege drop end to end: the real gateway, started as root with
// run-as-user = nobody, runs as nobody once its ports and TUN are open; the
// main thread keeps CAP_NET_ADMIN only (for a shard restart's fresh TUN
// queue), every other thread keeps nothing, and no_new_privs is set. A real
// openconnect client still logs in and pings, also after a shard was
// restarted under the dropped identity. Needs root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TestPki } from '../helpers/certs';
import { closeScratch, openScratch } from '../helpers/e2e-scratch';
import { createTopology, type Topology } from '../helpers/netns';
import { startOpenconnect, pinSha256 } from '../helpers/openconnect';
import { startWolfguard, type WolfguardHandle } from '../helpers/wolfguard';
import { addonFile } from '../../native/lib';
import { SHARD_SCRIPT } from '../../src/main/shard-pool';
import { identityFromSystem, readableBy } from '../../src/main/privileges';

const PORT = 4453;
const POOL4 = '10.83.0.0/24';
const USER = 'alice';
const PASSWORD = 'privileged no more';
const RUN_AS = 'nobody';
/** nobody/nogroup on Debian; read from /etc/passwd below to be sure. */
let runUid = 0;
let runGid = 0;
const CAP_NET_ADMIN_MASK = 1n << 12n;
const CAP_DAC_READ_SEARCH_MASK = 1n << 2n;
/**
 * Whether run-as-user can read this install's shard code (a clone under a
 * directory only root may enter, such as /root, cannot): if not, the main
 * thread keeps CAP_DAC_READ_SEARCH so that a restarted shard can load.
 */
const installReadable = () => [SHARD_SCRIPT, addonFile()].every((f) => readableBy(f, identityFromSystem(RUN_AS, undefined)));
const mainThreadMask = () => CAP_NET_ADMIN_MASK | (installReadable() ? 0n : CAP_DAC_READ_SEARCH_MASK);

let pki: TestPki;
let topo: Topology;
let gw: WolfguardHandle;
let workDir: string;
let pin: string;

interface ThreadStatus {
  tid: string;
  name: string;
  uid: string[];
  gid: string[];
  groups: string;
  capEff: bigint;
  capPrm: bigint;
  capInh: bigint;
  capAmb: bigint;
  noNewPrivs: string;
}

function parseStatus(text: string, tid: string): ThreadStatus {
  const field = (k: string) => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
  return {
    tid,
    name: field('Name'),
    uid: field('Uid').split(/\s+/),
    gid: field('Gid').split(/\s+/),
    groups: field('Groups'),
    capEff: BigInt(`0x${field('CapEff')}`),
    capPrm: BigInt(`0x${field('CapPrm')}`),
    capInh: BigInt(`0x${field('CapInh')}`),
    capAmb: BigInt(`0x${field('CapAmb') || '0'}`),
    noNewPrivs: field('NoNewPrivs'),
  };
}

function threads(pid: number): ThreadStatus[] {
  return fs.readdirSync(`/proc/${pid}/task`).map((tid) => parseStatus(fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'), tid));
}

async function ping(ns: string, target: string): Promise<void> {
  const r = await topo.tryExec(ns, 'ping', ['-c', '3', '-W', '2', '-i', '0.2', target]);
  assert.equal(r.code, 0, `ping ${target} from ${ns}: ${r.stdout}${r.stderr}`);
}

async function loginAndPing(): Promise<void> {
  const c = await startOpenconnect({ ns: topo.clients[0]!.ns, url: `https://${topo.gw.outerIp}:${PORT}/`, user: USER, password: PASSWORD, servercertPin: pin, noDtls: true });
  try {
    assert.match(c.state.ip4?.address ?? '', /^10\.83\.0\.\d+$/);
    await ping(topo.clients[0]!.ns, topo.lan.ip);
  } finally {
    await c.stop();
  }
}

before(async () => {
  assert.equal(process.getuid?.(), 0, 'end-to-end tests need root (network namespaces, TUN, setuid)');
  const entry = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((l) => l.split(':'))
    .find((f) => f[0] === RUN_AS);
  assert.ok(entry, `no ${RUN_AS} user on this system`);
  runUid = Number(entry[2]);
  runGid = Number(entry[3]);
  ({ pki, workDir } = openScratch('priv'));
  // A shard restarted after the drop re-reads the certificate and key: they must be readable by run-as-user.
  fs.chmodSync(pki.dir, 0o755);
  fs.chownSync(pki.ecKey, runUid, runGid);
  fs.chmodSync(workDir, 0o755);
  // The password file made readable by run-as-user before the gateway starts (the helper writes into
  // an existing file, keeping its owner): then the gateway needs CAP_NET_ADMIN alone.
  fs.mkdirSync(path.join(workDir, 'gw'), { mode: 0o755 });
  fs.writeFileSync(path.join(workDir, 'gw', 'ocpasswd'), '', { mode: 0o600 });
  fs.chownSync(path.join(workDir, 'gw', 'ocpasswd'), runUid, runGid);
  pin = pinSha256(pki.ecCert);
  topo = await createTopology({ clients: 1, tag: 'wgpriv' });
  gw = await startWolfguard({
    ns: topo.gw.ns,
    dir: path.join(workDir, 'gw'),
    port: PORT,
    udpPort: 0,
    cert: pki.ecCert,
    key: pki.ecKey,
    users: [{ name: USER, password: PASSWORD }],
    ipv4Pool: POOL4,
    routes: [topo.lan.prefix],
    workers: 2,
    extra: [`run-as-user = ${RUN_AS}`],
    env: { WOLFGUARD_TEST_HOOKS: '1' },
  });
});

after(async () => {
  await closeScratch({ gw, topo, pki, workDir });
});

test('after start-up the gateway runs as run-as-user: uid/gid, no supplementary groups, CAP_NET_ADMIN on the main thread only, nothing elsewhere', () => {
  const all = threads(gw.pid);
  assert.ok(all.length > 2, `expected the main thread, shards and helpers, got ${all.length} threads`);
  for (const t of all) {
    assert.deepEqual(t.uid, Array(4).fill(String(runUid)), `thread ${t.tid} (${t.name}) Uid`);
    assert.deepEqual(t.gid, Array(4).fill(String(runGid)), `thread ${t.tid} (${t.name}) Gid`);
    assert.equal(t.groups, String(runGid), `thread ${t.tid} Groups`);
    assert.equal(t.capInh, 0n, `thread ${t.tid} CapInh`);
    assert.equal(t.capAmb, 0n, `thread ${t.tid} CapAmb`);
  }
  const main = all.find((t) => t.tid === String(gw.pid))!;
  assert.equal(main.capEff, mainThreadMask(), `main thread CapEff ${main.capEff.toString(16)}`);
  assert.equal(main.capPrm, mainThreadMask(), `main thread CapPrm ${main.capPrm.toString(16)}`);
  assert.equal(main.noNewPrivs, '1');
  // Threads that existed at the drop (shards, libuv's pool, V8's) lost everything.
  const others = all.filter((t) => t.tid !== String(gw.pid));
  for (const t of others) {
    assert.equal(t.capEff, 0n, `thread ${t.tid} (${t.name}) CapEff ${t.capEff.toString(16)}`);
    assert.equal(t.capPrm, 0n, `thread ${t.tid} (${t.name}) CapPrm ${t.capPrm.toString(16)}`);
  }
  assert.match(gw.log(), /privileges dropped/);
});

test('every file the gateway reads later is readable by run-as-user, so no file capability was kept (unless the install itself is not: then it is kept, with a warning naming the shard code)', () => {
  if (installReadable()) {
    assert.doesNotMatch(gw.log(), /CAP_DAC_READ_SEARCH kept/);
    assert.match(gw.log(), /"keptCapabilities":\[12\]/);
  } else {
    assert.match(gw.log(), /CAP_DAC_READ_SEARCH kept/);
    assert.ok(gw.log().includes(SHARD_SCRIPT), 'the warning names the shard script');
    assert.match(gw.log(), /"keptCapabilities":\[12,2\]/);
  }
});

test('after the drop, openconnect logs in (password file read as nobody) and pings the lan', { timeout: 60_000 }, async () => {
  await loginAndPing();
});

test('a shard crashing after the drop is restarted on a fresh TUN queue (CAP_NET_ADMIN kept) and serves logins', { timeout: 60_000 }, async () => {
  const before = (await gw.admin<number[]>('GET', '/restarts')).body;
  assert.equal((await gw.admin('POST', '/test/crash-shard?shard=0')).status, 200);
  for (let i = 0; i < 100; i++) {
    const now = (await gw.admin<number[]>('GET', '/restarts')).body;
    if ((now[0] ?? 0) > (before[0] ?? 0)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(((await gw.admin<number[]>('GET', '/restarts')).body[0] ?? 0) > (before[0] ?? 0), 'shard 0 was restarted');
  // Counted when the old thread died: wait until the new one answers (a busy machine may take seconds to start a thread).
  for (let i = 0; i < 100 && (await gw.admin<unknown[]>('GET', '/shards')).body.length < 2; i++) await new Promise((r) => setTimeout(r, 100));
  // Two logins: the acceptor spreads them, so at least one lands on the restarted shard.
  await loginAndPing();
  await loginAndPing();
  // The restarted shard's thread was started by the main thread after the drop, and shed what it inherited.
  for (const t of threads(gw.pid).filter((x) => x.tid !== String(gw.pid))) {
    assert.equal(t.capPrm, 0n, `thread ${t.tid} (${t.name}) CapPrm ${t.capPrm.toString(16)} after the restart`);
  }
  assert.doesNotMatch(gw.log(), /EACCES|EPERM|Operation not permitted/);
  // The shards, holding no capability, still wrote their tunnels' addresses
  // to the TUN steering map (an fd they were given while root), and the
  // program followed the restarted shard's renumbered queue.
  const shards = (await gw.admin<Array<{ pump?: { steerErrors: number } }>>('GET', '/shards')).body;
  assert.equal(shards.length, 2);
  for (const s of shards) assert.equal(s.pump?.steerErrors, 0, `steering map writes refused: ${JSON.stringify(s.pump)}`);
  assert.match(gw.log(), /TUN steering: each client/);
  assert.doesNotMatch(gw.log(), /TUN steering (unavailable|did not follow)/);
});
