// The authentication suite end to end with the real openconnect 9 client:
// password + TOTP second round (--token-mode=totp), a wrong code and a
// replayed code refused, and groups: the select-group list in the form,
// --authgroup choosing one, and that group's routes and address pool
// (config-per-group) and a user's DNS and explicit address (config-per-user)
// reaching the client; a reload refused for a group pool outside the
// gateway's. Needs root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TestPki } from '../helpers/certs';
import { closeScratch, openScratch } from '../helpers/e2e-scratch';
import { createTopology, type Topology } from '../helpers/netns';
import { startOpenconnect, pinSha256, OpenconnectExitError, type OpenconnectOptions } from '../helpers/openconnect';
import { startWolfguard, type WolfguardHandle } from '../helpers/wolfguard';
import { base32Encode } from '../../src/main/auth/totp';

const PORT = 4453;
const POOL4 = '10.79.0.0/24';
const STEP_SECONDS = 30;
/** Both logins of the replay test must fall in one TOTP step: start only with this much of the step left. */
const REPLAY_MARGIN_SECONDS = 12;
const ENG_ROUTE = '10.91.0.0/24';
const OPS_ROUTE = '10.92.0.0/24';
const CAROL_DNS = '10.79.0.53';
/** The groups' pools, inside POOL4: eng's written as a prefix, ops's with ipv4-netmask. */
const ENG_POOL = { network: '10.79.0.128', prefix: 26 };
const OPS_POOL = { network: '10.79.0.64', prefix: 27 };
/** erin's explicit-ipv4. */
const ERIN_ADDRESS = '10.79.0.200';
const PASSWORD = 'correct horse battery';
/** Each test logs in with its own users: a second login of a user within one 30 s step would be a replay. */
const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace'] as const;
type User = (typeof USERS)[number];

let pki: TestPki;
let topo: Topology;
let gw: WolfguardHandle;
let workDir: string;
let pin: string;
const secrets = new Map<User, Buffer>();

function clientOpts(i: number, user: User, extra: string[] = [], secret: Buffer = secrets.get(user)!): OpenconnectOptions {
  return {
    ns: topo.clients[i]!.ns,
    url: `https://${topo.gw.outerIp}:${PORT}/`,
    user,
    password: PASSWORD,
    servercertPin: pin,
    noDtls: true,
    // With a group list in the form, a non-interactive openconnect needs --authgroup.
    extraArgs: ['--token-mode=totp', `--token-secret=base32:${base32Encode(secret)}`, ...(extra.some((a) => a.startsWith('--authgroup')) ? [] : ['--authgroup=DEFAULT']), ...extra],
  };
}

async function refused(opts: OpenconnectOptions): Promise<OpenconnectExitError> {
  try {
    const c = await startOpenconnect(opts);
    await c.stop();
  } catch (e) {
    assert.ok(e instanceof OpenconnectExitError, String(e));
    assert.notEqual(e.status.code, 0);
    return e;
  }
  assert.fail(`openconnect as ${opts.user} was let in`);
}

/** Successful logins of `user` so far, from the gateway's JSON log (one "login" line per session made). */
function loginsOf(user: string): number {
  return gw
    .log()
    .split('\n')
    .filter((l) => {
      try {
        const o = JSON.parse(l) as { msg?: string; user?: string };
        return o.msg === 'login' && o.user === user;
      } catch {
        return false;
      }
    }).length;
}

/** Whether an IPv4 address lies in network/prefix. */
function inPool(address: string | undefined, pool: { network: string; prefix: number }): boolean {
  const n = (a: string) => a.split('.').reduce((x, o) => x * 256 + Number(o), 0);
  if (address === undefined) return false;
  const size = 2 ** (32 - pool.prefix);
  return Math.floor(n(address) / size) === Math.floor(n(pool.network) / size);
}

/** The gateway logs a refusal just after answering it: wait a little for the line. */
async function logged(re: RegExp, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!re.test(gw.log())) {
    if (Date.now() > until) assert.fail(`no log line matching ${re}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

before(async () => {
  assert.equal(process.getuid?.(), 0, 'end-to-end tests need root (network namespaces, TUN)');
  ({ pki, workDir } = openScratch('auth'));
  pin = pinSha256(pki.ecCert);
  topo = await createTopology({ clients: 3, tag: 'wga' });
  const otpFile = path.join(workDir, 'users.oath');
  const lines = ['# liboath users file, as ocserv reads it'];
  for (const u of USERS) {
    const key = crypto.randomBytes(20);
    secrets.set(u, key);
    // erin's secret is written in base32, the others' in hex, as liboath writes them.
    lines.push(`HOTP/T30 ${u} - ${u === 'erin' ? base32Encode(key) : key.toString('hex')}`);
  }
  fs.writeFileSync(otpFile, `${lines.join('\n')}\n`, { mode: 0o600 });
  const perGroup = path.join(workDir, 'config-per-group');
  const perUser = path.join(workDir, 'config-per-user');
  fs.mkdirSync(perGroup);
  fs.mkdirSync(perUser);
  fs.writeFileSync(path.join(perGroup, 'eng'), `route = ${ENG_ROUTE}\nipv4-network = ${ENG_POOL.network}/${ENG_POOL.prefix}\n`);
  fs.writeFileSync(path.join(perGroup, 'ops'), `route = ${OPS_ROUTE}\nroute = ${topo.lan.prefix}\nipv4-network = ${OPS_POOL.network}\nipv4-netmask = 255.255.255.224\n`);
  fs.writeFileSync(path.join(perUser, 'carol'), `dns = ${CAROL_DNS}\n`);
  fs.writeFileSync(path.join(perUser, 'erin'), `explicit-ipv4 = ${ERIN_ADDRESS}\n`);
  gw = await startWolfguard({
    ns: topo.gw.ns,
    dir: path.join(workDir, 'gw'),
    port: PORT,
    udpPort: 0,
    cert: pki.ecCert,
    key: pki.ecKey,
    users: USERS.map((name) => ({ name, password: PASSWORD, groups: name === 'dave' ? ['eng'] : name === 'grace' ? ['ops'] : name === 'alice' || name === 'erin' || name === 'frank' ? [] : ['eng', 'ops'] })),
    ipv4Pool: POOL4,
    routes: [topo.lan.prefix],
    dns: ['10.79.0.1'],
    otpFile,
    extra: ['default-select-group = DEFAULT', 'select-group = eng[Engineering]', 'select-group = ops', `config-per-group = ${perGroup}`, `config-per-user = ${perUser}`],
    workers: 2,
  });
  // The gateway runs as the harness's run-as-user (nobody) after start-up and
  // reads the password, OTP and per-user/group files at each login: hand
  // them over (the gateway reads them lazily, so after start is in time).
  const nobody = { uid: 65534, gid: 65534 };
  fs.chmodSync(workDir, 0o755);
  for (const f of [path.join(workDir, 'gw'), path.join(workDir, 'gw', 'ocpasswd'), otpFile, perGroup, perUser, ...fs.readdirSync(perGroup).map((n) => path.join(perGroup, n)), ...fs.readdirSync(perUser).map((n) => path.join(perUser, n))]) {
    fs.chownSync(f, nobody.uid, nobody.gid);
  }
});

after(async () => {
  await closeScratch({ gw, topo, pki, workDir });
});

test('password then TOTP: openconnect --token-mode=totp answers the second round and gets the tunnel', { timeout: 60_000 }, async () => {
  const c = await startOpenconnect(clientOpts(0, 'alice'));
  try {
    assert.match(c.stdout() + c.stderr(), /Please enter your OTP password/);
    assert.deepEqual(c.state.splitInclude, [topo.lan.prefix]);
    const r = await topo.tryExec(topo.clients[0]!.ns, 'ping', ['-c', '2', '-W', '2', '-i', '0.2', topo.lan.ip]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(loginsOf('alice'), 1);
  } finally {
    await c.stop();
  }
});

test("a base32 secret in the OTP file works too; explicit-ipv4 in the user's file gives exactly that address", { timeout: 60_000 }, async () => {
  const c = await startOpenconnect(clientOpts(1, 'erin'));
  try {
    assert.equal(c.state.ip4?.address, ERIN_ADDRESS);
    const a = await topo.exec(topo.clients[1]!.ns, 'ip', ['-4', '-o', 'addr', 'show', 'dev', c.interfaceName]);
    assert.match(a.stdout, new RegExp(`inet ${ERIN_ADDRESS.replace(/\./g, '\\.')}[/ ]`));
    const p = await topo.tryExec(topo.clients[1]!.ns, 'ping', ['-c', '2', '-W', '2', '-i', '0.2', topo.lan.ip]);
    assert.equal(p.code, 0, p.stdout + p.stderr);
  } finally {
    await c.stop();
  }
});

test('a wrong code is refused (401), with no session made', { timeout: 60_000 }, async () => {
  const e = await refused(clientOpts(1, 'bob', [], crypto.randomBytes(20)));
  assert.match(e.stdout + e.stderr, /Please enter your OTP password/);
  assert.equal(loginsOf('bob'), 0);
  await logged(/"user":"bob".*wrong OTP code/);
});

test('a wrong password never reaches the OTP round', { timeout: 60_000 }, async () => {
  const e = await refused({ ...clientOpts(1, 'bob'), password: 'not the password' });
  assert.match(e.stdout + e.stderr, /HTTP\/1.1 401 Unauthorized[^]*Failed to complete authentication/);
  assert.doesNotMatch(e.stdout + e.stderr, /OTP password/);
});

test('the same code twice: the second login is refused', { timeout: 60_000 }, async () => {
  const intoStep = (Date.now() / 1000) % STEP_SECONDS;
  if (STEP_SECONDS - intoStep < REPLAY_MARGIN_SECONDS) await new Promise((r) => setTimeout(r, (STEP_SECONDS - intoStep + 0.5) * 1000));
  const step = Math.floor(Date.now() / 1000 / STEP_SECONDS);
  const c = await startOpenconnect(clientOpts(0, 'dave'));
  try {
    await refused(clientOpts(1, 'dave'));
    // Still the same step, so the second client sent the very same code.
    assert.equal(Math.floor(Date.now() / 1000 / STEP_SECONDS), step, 'both logins in one step');
    await logged(/"user":"dave".*OTP code already used/);
    assert.equal(loginsOf('dave'), 1);
  } finally {
    await c.stop();
  }
});

test('--authgroup picks the group from the form: its routes and address pool (config-per-group) reach the client', { timeout: 60_000 }, async () => {
  const ops = await startOpenconnect(clientOpts(0, 'bob', ['--authgroup=ops']));
  const eng = await startOpenconnect(clientOpts(1, 'carol', ['--authgroup=eng']));
  try {
    // openconnect resubmits the first form with the chosen group (a second form comes back with it first), then logs in.
    assert.equal((ops.stdout().match(/POST https:\/\/\S+\/auth/g) ?? []).length, 3, 'group change, password, OTP');
    assert.deepEqual([...ops.state.splitInclude].sort(), [OPS_ROUTE, topo.lan.prefix].sort());
    assert.deepEqual(eng.state.splitInclude, [ENG_ROUTE]);
    // Each client's tunnel address comes from its group's pool.
    assert.ok(inPool(ops.state.ip4?.address, OPS_POOL), `ops address ${ops.state.ip4?.address} in ${OPS_POOL.network}/${OPS_POOL.prefix}`);
    assert.ok(inPool(eng.state.ip4?.address, ENG_POOL), `eng address ${eng.state.ip4?.address} in ${ENG_POOL.network}/${ENG_POOL.prefix}`);
    // The routes are in the clients' namespaces.
    const r0 = await topo.exec(topo.clients[0]!.ns, 'ip', ['-4', 'route', 'show', OPS_ROUTE]);
    assert.match(r0.stdout, new RegExp(`${OPS_ROUTE.replace(/[./]/g, '\\$&')}.*dev ${ops.interfaceName}`));
    const r1 = await topo.exec(topo.clients[1]!.ns, 'ip', ['-4', 'route', 'show', ENG_ROUTE]);
    assert.match(r1.stdout, new RegExp(`dev ${eng.interfaceName}`));
    const none = await topo.exec(topo.clients[1]!.ns, 'ip', ['-4', 'route', 'show', OPS_ROUTE]);
    assert.equal(none.stdout.trim(), '');
    // bob's ops group routes the lan; carol's eng group does not.
    const p = await topo.tryExec(topo.clients[0]!.ns, 'ping', ['-c', '2', '-W', '2', '-i', '0.2', topo.lan.ip]);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    // carol's own file gives her DNS; bob keeps the gateway's.
    assert.deepEqual(eng.state.dns4, [CAROL_DNS]);
    assert.deepEqual(ops.state.dns4, ['10.79.0.1']);
  } finally {
    await ops.stop();
    await eng.stop();
  }
});

test('a group the user is not in is refused', { timeout: 60_000 }, async () => {
  const e = await refused(clientOpts(2, 'frank', ['--authgroup=ops']));
  assert.match(e.stdout + e.stderr, /HTTP\/1.1 401 Unauthorized[^]*Failed to complete authentication/);
  await logged(/"user":"frank".*not a member of group/);
});

test('reload: a group pool outside the gateway pool is refused naming file and line; a held session keeps its address', { timeout: 60_000 }, async () => {
  const perGroup = path.join(workDir, 'config-per-group');
  const broken = path.join(perGroup, 'broken');
  const c = await startOpenconnect(clientOpts(2, 'grace', ['--authgroup=ops']));
  const reloads = (re: RegExp) => gw.log().split('\n').filter((l) => re.test(l)).length;
  try {
    const address = c.state.ip4?.address;
    assert.ok(inPool(address, OPS_POOL), `grace's address ${address}`);
    fs.writeFileSync(broken, 'route = 10.93.0.0/24\nipv4-network = 10.80.0.0/24\n');
    fs.chownSync(broken, 65534, 65534);
    process.kill(gw.pid, 'SIGHUP');
    await logged(/configuration not reloaded/);
    assert.match(gw.log(), new RegExp(`${broken.replace(/[./]/g, '\\$&')}:2: ipv4-network: 10\\.80\\.0\\.0/24 is not inside the gateway's ipv4-network 10\\.79\\.0\\.0/24`));
    fs.rmSync(broken);
    const before = reloads(/"configuration reloaded/);
    process.kill(gw.pid, 'SIGHUP');
    for (let i = 0; i < 50 && reloads(/"configuration reloaded/) === before; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(reloads(/"configuration reloaded/), before + 1);
    // The tunnel kept its address through both reloads.
    const a = await topo.exec(topo.clients[2]!.ns, 'ip', ['-4', '-o', 'addr', 'show', 'dev', c.interfaceName]);
    assert.match(a.stdout, new RegExp(`inet ${address!.replace(/\./g, '\\.')}[/ ]`));
    const p = await topo.tryExec(topo.clients[2]!.ns, 'ping', ['-c', '2', '-W', '2', '-i', '0.2', topo.lan.ip]);
    assert.equal(p.code, 0, p.stdout + p.stderr);
  } finally {
    fs.rmSync(broken, { force: true });
    await c.stop();
  }
});
