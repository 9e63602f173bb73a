// Per-user/group address pools: ipv4-network / ipv4-netmask / explicit-ipv4
// in config-per-group and config-per-user files, parsed, checked against the
// gateway's pool (file and line in every error), turned into lease ranges,
// checked over whole directories at start/reload, and applied by the session
// service at login (registry and cluster).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { loadSupConfig, parseSupConfig } from '../../src/main/auth/sup-config';
import { checkSupConfigFiles, leaseRequestOf } from '../../src/main/auth/sup-pool';
import { IpPool } from '../../src/main/sessions/ip-pool';
import { SessionRegistry } from '../../src/main/sessions/registry';
import { SessionLimits } from '../../src/main/admission/session-limits';
import { SessionService, SUP_POOL_REFUSED, type Authenticator } from '../../src/main/session-service';
import type { AuthBackend } from '../../src/main/auth/backend';
import type { ConnectReply, LoginReply, ToShard } from '../../src/workers/messages';

/** The gateway's pool: 10.60.0.0/24 and an IPv6 /64 (one address per lease). */
const POOLS = { v4: { network: '10.60.0.0', prefix: 24 }, v6: { network: 'fd60::', prefix: 64, subnetPrefix: 128 } };

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'wg-sup-pool-'));
}

test('parsing: the three address keys in their ocserv forms; mistakes are errors (not warnings); IPv6 pool keys say why they are not supported', () => {
  const ok = parseSupConfig('ipv4-network = 10.60.0.128/25\nipv4-netmask = 255.255.255.128\nexplicit-ipv4 = 10.60.0.9\n', 'g');
  assert.deepEqual(ok.config, { ipv4Network: { value: '10.60.0.128/25', where: 'g:1' }, ipv4Netmask: { value: 25, where: 'g:2' }, explicitIpv4: { value: '10.60.0.9', where: 'g:3' } });
  assert.deepEqual([ok.warnings, ok.errors], [[], []]);
  assert.deepEqual(parseSupConfig('ipv4-network = 10.60.0.0/255.255.255.192\n', 'g').config.ipv4Network?.value, '10.60.0.0/255.255.255.192');
  assert.deepEqual(parseSupConfig('ipv4-network = 10.60.0.64\n', 'g').errors, [], 'a bare address waits for a netmask');
  const bad: Array<[string, RegExp]> = [
    ['ipv4-network = 10.60.0.1/24\n', /^g:1: ipv4-network: .*host bits/],
    ['ipv4-network = fd00::/64\n', /^g:1: ipv4-network: not an IPv4 network/],
    ['ipv4-network = nonsense\n', /^g:1: ipv4-network: .*not an IPv4 or IPv6 address/],
    ['\nipv4-netmask = 255.0.255.0\n', /^g:2: ipv4-netmask: .*not contiguous/],
    ['explicit-ipv4 = fd00::5\n', /^g:1: explicit-ipv4: .*not an IPv4 address/],
    ['explicit-ipv4 = 10.60.0.300\n', /^g:1: explicit-ipv4: /],
  ];
  for (const [text, re] of bad) {
    const r = parseSupConfig(text, 'g');
    assert.equal(r.errors.length, 1, text);
    assert.match(r.errors[0]!, re);
    assert.deepEqual(r.warnings, [], text);
  }
  for (const key of ['ipv6-network = fd61::/64', 'explicit-ipv6 = fd60::9', 'ipv6-prefix = 64', 'ipv6-subnet-prefix = 128']) {
    const r = parseSupConfig(`${key}\n`, 'g');
    assert.deepEqual(r.errors, []);
    assert.equal(r.warnings.length, 1);
    assert.match(r.warnings[0]!, /^g:1: ipv6-[a-z-]+|explicit-ipv6/);
    assert.match(r.warnings[0]!, /not supported per user\/group: the IPv6 address follows from the IPv4 lease/);
  }
});

test('a group pool inside the gateway pool is a lease range; its IPv6 address follows from the lease', () => {
  const pool = new IpPool(POOLS);
  const req = (text: string) => leaseRequestOf(parseSupConfig(text, 'f').config, pool);
  assert.deepEqual(req('ipv4-network = 10.60.0.128/25\n'), { kind: 'range', first: 128, end: 256, label: '10.60.0.128/25' });
  assert.deepEqual(req('ipv4-network = 10.60.0.64\nipv4-netmask = 255.255.255.192\n'), { kind: 'range', first: 64, end: 128, label: '10.60.0.64/26' });
  assert.deepEqual(req('ipv4-network = 10.60.0.32/255.255.255.224\n'), { kind: 'range', first: 32, end: 64, label: '10.60.0.32/27' });
  assert.deepEqual(req('ipv4-network = 10.60.0.0/24\n'), { kind: 'range', first: 0, end: 256, label: '10.60.0.0/24' }, 'the whole pool is allowed');
  assert.deepEqual(req('explicit-ipv4 = 10.60.0.77\n'), { kind: 'exact', lease: 77, label: '10.60.0.77' });
  assert.deepEqual(req('ipv4-network = 10.60.0.128/25\nexplicit-ipv4 = 10.60.0.7\n'), { kind: 'exact', lease: 7, label: '10.60.0.7' }, 'explicit-ipv4 wins');
  assert.equal(req('route = 10.1.0.0/16\n'), undefined);
  const r = req('ipv4-network = 10.60.0.128/25\n')!;
  const a = pool.allocateFor(r)!;
  assert.deepEqual(a, { lease: 128, ipv4: '10.60.0.128', ipv6: 'fd60::80' });
});

test('pools and addresses the gateway cannot give are errors naming file and line', () => {
  const pool = new IpPool(POOLS);
  const err = (text: string) => {
    try {
      leaseRequestOf(parseSupConfig(text, '/etc/ocserv/groups/eng').config, pool);
    } catch (e) {
      assert.equal((e as { code?: string }).code, 'WG_CONFIG_INVALID');
      return (e as Error).message;
    }
    return assert.fail(`no error for ${text}`);
  };
  assert.match(err('route = 10.1.0.0/16\nipv4-network = 10.61.0.0/24\n'), /^\/etc\/ocserv\/groups\/eng:2: ipv4-network: 10\.61\.0\.0\/24 is not inside the gateway's ipv4-network 10\.60\.0\.0\/24/);
  assert.match(err('ipv4-network = 10.60.0.0/23\n'), /eng:1: ipv4-network: 10\.60\.0\.0\/23 is not inside/, 'larger than the pool');
  assert.match(err('ipv4-network = 10.60.0.0/31\n'), /eng:1: ipv4-network: 10\.60\.0\.0\/31 holds no address a client may get/);
  assert.match(err('ipv4-network = 10.60.0.255/32\n'), /holds no address a client may get/);
  assert.match(err('ipv4-network = 10.60.0.0\n'), /eng:1: ipv4-network: no netmask/);
  assert.match(err('ipv4-netmask = 255.255.255.0\n'), /eng:1: ipv4-netmask: given without ipv4-network/);
  assert.match(err('ipv4-network = 10.60.0.0/25\nipv4-netmask = 255.255.255.192\n'), /eng:2: ipv4-netmask: netmask \/26 contradicts ipv4-network 10\.60\.0\.0\/25 on \/etc\/ocserv\/groups\/eng:1/);
  assert.match(err('explicit-ipv4 = 10.61.0.5\n'), /eng:1: explicit-ipv4: 10\.61\.0\.5 is outside the gateway's ipv4-network 10\.60\.0\.0\/24/);
  assert.match(err('explicit-ipv4 = 10.60.0.0\n'), /is the network address/);
  assert.match(err('explicit-ipv4 = 10.60.0.1\n'), /is the gateway's own address/);
  assert.match(err('explicit-ipv4 = 10.60.0.255\n'), /is the broadcast address/);
  assert.match(err('ipv4-network = 10.61.0.0/24\nexplicit-ipv4 = 10.60.0.7\n'), /ipv4-network: 10\.61\.0\.0\/24 is not inside/, 'a bad pool is an error even when explicit-ipv4 decides');
  const v6only = new IpPool({ v6: POOLS.v6 });
  assert.throws(() => leaseRequestOf(parseSupConfig('ipv4-network = 10.60.0.0/25\n', 'g').config, v6only), /g:1: ipv4-network: the gateway has no ipv4-network/);
  assert.throws(() => leaseRequestOf(parseSupConfig('explicit-ipv4 = 10.60.0.5\n', 'g').config, v6only), /g:1: explicit-ipv4: the gateway has no ipv4-network/);
});

test("the group's and the user's file add up: a netmask from one, the network from the other; the user's network overrides the group's", () => {
  const dir = tmp();
  try {
    const groups = path.join(dir, 'groups');
    const users = path.join(dir, 'users');
    fs.mkdirSync(groups);
    fs.mkdirSync(users);
    fs.writeFileSync(path.join(groups, 'eng'), 'ipv4-netmask = 255.255.255.192\nipv4-network = 10.60.0.128\n');
    fs.writeFileSync(path.join(users, 'dan'), 'ipv4-network = 10.60.0.64\n');
    fs.writeFileSync(path.join(users, 'eve'), 'explicit-ipv4 = 10.60.0.200\n');
    const pool = new IpPool(POOLS);
    const dirs = { perGroup: groups, perUser: users };
    const of = (user: string, group?: string) => leaseRequestOf(loadSupConfig(dirs, user, group).config, pool);
    assert.deepEqual(of('bob', 'eng'), { kind: 'range', first: 128, end: 192, label: '10.60.0.128/26' });
    assert.deepEqual(of('dan', 'eng'), { kind: 'range', first: 64, end: 128, label: '10.60.0.64/26' });
    assert.deepEqual(of('eve', 'eng'), { kind: 'exact', lease: 200, label: '10.60.0.200' });
    assert.throws(() => of('dan'), /users\/dan:1: ipv4-network: no netmask/, 'without the group, no netmask');
    assert.equal(of('bob'), undefined);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('start/reload check: every file of both directories and the default files; errors list file and line; what needs the other file waits', () => {
  const dir = tmp();
  try {
    const groups = path.join(dir, 'groups');
    const users = path.join(dir, 'users');
    fs.mkdirSync(groups);
    fs.mkdirSync(users);
    fs.mkdirSync(path.join(groups, 'a-directory'));
    fs.writeFileSync(path.join(groups, 'eng'), 'route = 10.1.0.0/16\nipv4-network = 10.60.0.128/25\n');
    fs.writeFileSync(path.join(groups, 'half'), 'ipv4-netmask = 255.255.255.0\n');
    fs.writeFileSync(path.join(users, 'dan'), 'ipv4-network = 10.60.0.64\nexplicit-ipv4 = 10.60.0.70\n');
    const pool = new IpPool(POOLS);
    const dirs = { perGroup: groups, perUser: users, defaultUser: path.join(dir, 'default-user') };
    checkSupConfigFiles(dirs, pool);
    checkSupConfigFiles({ perGroup: path.join(dir, 'missing') }, pool);
    fs.writeFileSync(path.join(groups, 'ops'), '\n\nipv4-network = 10.99.0.0/24\n');
    fs.writeFileSync(path.join(dir, 'default-user'), 'explicit-ipv4 = 10.60.1.5\n');
    fs.writeFileSync(path.join(users, 'eve'), 'ipv4-network = 10.60.0.0/16\n');
    let message = '';
    try {
      checkSupConfigFiles(dirs, pool);
    } catch (e) {
      assert.equal((e as { code?: string }).code, 'WG_CONFIG_INVALID');
      message = (e as Error).message;
    }
    assert.match(message, new RegExp(`${groups}/ops:3: ipv4-network: 10\\.99\\.0\\.0/24 is not inside`));
    assert.match(message, new RegExp(`${users}/eve:1: ipv4-network: 10\\.60\\.0\\.0/16 is not inside`));
    assert.match(message, new RegExp(`${dir}/default-user:1: explicit-ipv4: 10\\.60\\.1\\.5 is outside`));
    assert.doesNotMatch(message, /eng|half|dan/);
    // Many bad files: the first ten are listed, the rest counted.
    for (let i = 0; i < 12; i++) fs.writeFileSync(path.join(users, `u${i}`), 'explicit-ipv4 = 10.70.0.1\n');
    assert.throws(() => checkSupConfigFiles(dirs, pool), /; and 5 more$/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('fast-check: any values of the address keys give a lease request inside the client leases or a WG_CONFIG_INVALID, nothing else', () => {
  const pool = new IpPool(POOLS);
  const octet = fc.integer({ min: 0, max: 256 });
  const v4 = fc.tuple(octet, octet, octet, octet).map((o) => o.join('.'));
  const value = fc.oneof(v4, fc.tuple(v4, fc.integer({ min: 0, max: 33 })).map(([a, n]) => `${a}/${n}`), fc.tuple(v4, v4).map(([a, m]) => `${a}/${m}`), fc.string({ maxLength: 20 }));
  const line = fc.tuple(fc.constantFrom('ipv4-network', 'ipv4-netmask', 'explicit-ipv4'), value).map(([k, v]) => `${k} = ${v}`);
  fc.assert(
    fc.property(fc.array(line, { maxLength: 4 }), (lines) => {
      const r = parseSupConfig(`${lines.join('\n')}\n`, 'f');
      let req;
      try {
        req = leaseRequestOf(r.config, pool);
      } catch (e) {
        assert.equal((e as { code?: string }).code, 'WG_CONFIG_INVALID', String(e));
        return;
      }
      if (req === undefined) return;
      const span = pool.clientSpan;
      if (req.kind === 'exact') assert.ok(req.lease >= span.first && req.lease < span.end, JSON.stringify(req));
      else assert.ok(req.first < span.end && req.end > span.first && req.first >= 0 && req.end <= 256, JSON.stringify(req));
    }),
    { numRuns: 2000 },
  );
});

/** A one-round backend: every password is right; the group is the one asked for. */
const anyone: AuthBackend = {
  name: 'test',
  start: (user) => ({ answer: () => Promise.resolve({ kind: 'ok', user, groups: ['eng', 'ops', 'bad'] }) }),
};

test('session service: logins take their lease from the group pool, explicit-ipv4 exactly (refused while held), a full group pool reads like a full pool, a bad pool refuses the login', async () => {
  const dir = tmp();
  const posted: ToShard[] = [];
  const warnings: string[] = [];
  fs.writeFileSync(path.join(dir, 'eng'), 'ipv4-network = 10.60.0.128/30\n');
  fs.writeFileSync(path.join(dir, 'bad'), 'ipv4-network = 10.61.0.0/24\n');
  const users = path.join(dir, 'users');
  fs.mkdirSync(users);
  fs.writeFileSync(path.join(users, 'vip'), 'explicit-ipv4 = 10.60.0.42\n');
  const pool = new IpPool(POOLS);
  const registry = new SessionRegistry({ pool, limits: new SessionLimits({ maxClients: 0, maxSameClients: 0, pendingTtlMs: 60_000 }), cookieTimeoutMs: 300_000, sessionTimeoutMs: null, random: randomBytes });
  const auth: Authenticator = {
    verify: () => Promise.resolve({ ok: false }),
    setup: { backend: anyone, ttlMs: 60_000, supDirs: { perGroup: dir, perUser: users }, appendRoutes: false, network: { routes: [], noRoutes: [], dns: [] } },
  };
  const service = new SessionService(registry, auth, (_shard, m) => posted.push(m), { warning: (m) => void warnings.push(m) });
  let id = 0;
  const reply = async (): Promise<LoginReply | ConnectReply> => {
    for (let i = 0; i < 200 && posted.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    const m = posted.shift();
    assert.ok(m && m.type === 'reply');
    return m.result;
  };
  const login = async (user: string, group?: string): Promise<LoginReply> => {
    service.handle({ type: 'login', id: ++id, shard: 0, username: user, password: 'pw', peer: 'p', ...(group !== undefined ? { group } : {}) });
    return (await reply()) as LoginReply;
  };
  const address = async (user: string, group?: string): Promise<string> => {
    const l = await login(user, group);
    if (!l.ok) return `refused: ${l.reason}`;
    service.handle({ type: 'connect', id: ++id, shard: 0, conn: id, cookie: l.cookie, peer: 'p' });
    const c = (await reply()) as ConnectReply;
    assert.ok(c.ok);
    return `${c.session.ipv4} ${c.session.ipv6}`;
  };
  try {
    assert.equal(await address('a1', 'eng'), '10.60.0.128 fd60::80');
    assert.equal(await address('a2', 'eng'), '10.60.0.129 fd60::81');
    assert.equal(await address('a3', 'eng'), '10.60.0.130 fd60::82');
    assert.equal(await address('a4', 'eng'), '10.60.0.131 fd60::83');
    assert.equal(await address('a5', 'eng'), 'refused: no free tunnel address', 'the same reply as a full pool');
    assert.equal(await address('b1', 'ops'), '10.60.0.2 fd60::2', 'no file: the whole pool');
    assert.equal(await address('vip', 'eng'), '10.60.0.42 fd60::2a', 'explicit-ipv4 before the group pool');
    assert.equal(await address('vip', 'ops'), 'refused: tunnel address 10.60.0.42 is in use by another session');
    assert.equal(await address('c1', 'bad'), `refused: ${SUP_POOL_REFUSED}`);
    assert.ok(warnings.some((w) => w.includes(`${dir}/bad:1: ipv4-network: 10.61.0.0/24 is not inside`)), warnings.join('\n'));
    assert.equal(registry.size, 6);
    assert.equal(pool.used, 6, 'refused logins hold no lease');
  } finally {
    service.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
