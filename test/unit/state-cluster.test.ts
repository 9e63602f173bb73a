// Two gateway nodes' main threads in one process (two registries, two
// engines, two ClusterSessions on one LocalBackend): logins share slots and
// leases, a cookie moves to the other node with its addresses and DTLS
// App-ID, a session taken over is dropped by its old node, bans travel, ban
// points add up. Also SessionRegistry.adopt and IpPool.claim on their own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SessionRegistry, type SessionRecord } from '../../src/main/sessions/registry';
import { IpPool } from '../../src/main/sessions/ip-pool';
import { SessionLimits } from '../../src/main/admission/session-limits';
import { AdmissionEngine } from '../../src/main/admission/engine';
import { defaultAdmissionRules, validateAdmissionRules } from '../../src/main/admission/rules-config';
import { ClusterSessions, STATE_UNAVAILABLE, leaseRange } from '../../src/main/state/cluster-sessions';
import { LocalBackend, LocalStore } from '../../src/main/state/local-store';
import { clusterLoginGuard } from '../../src/main/state/cluster-setup';
import type { StateStore } from '../../src/main/state/store';

const POOL = { v4: { network: '10.9.0.0', prefix: 29 } }; // leases 2..6
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

interface Node {
  reg: SessionRegistry;
  pool: IpPool;
  engine: AdmissionEngine;
  cluster: ClusterSessions;
  dropped: string[];
  banNotes: Map<string, string>;
}

function node(id: string, backend: LocalBackend, o: { maxSame?: number; rules?: ReturnType<typeof defaultAdmissionRules>; store?: StateStore } = {}): Node {
  const pool = new IpPool(POOL);
  const limits = new SessionLimits({ maxClients: 0, maxSameClients: 0, pendingTtlMs: 60_000 });
  const reg = new SessionRegistry({ pool, limits, cookieTimeoutMs: 300_000, sessionTimeoutMs: null, random: randomBytes });
  const engine = new AdmissionEngine({ rules: o.rules ?? defaultAdmissionRules(), sessions: { maxClients: 0, maxSameClients: 0, pendingTtlMs: 60_000 }, seed: 1 });
  const dropped: string[] = [];
  const banNotes = new Map<string, string>();
  const cluster = new ClusterSessions({
    store: o.store ?? new LocalStore({ nodeId: id, backend }),
    registry: reg,
    pool,
    hasIpv4: true,
    engine,
    banNotes,
    limits: { maxClients: 0, maxSameClients: o.maxSame ?? 0 },
    cookieTimeoutMs: 300_000,
    heartbeatMs: 60_000,
    nodeTtlMs: 6000,
    random: randomBytes,
    log: quiet,
    dropped: (sid) => {
      dropped.push(sid);
      const e = reg.end(sid, 'replaced');
      if (e) cluster.ended(e);
    },
  });
  return { reg, pool, engine, cluster, dropped, banNotes };
}

async function pair(o: Parameters<typeof node>[2] = {}): Promise<[Node, Node]> {
  const backend = new LocalBackend();
  const a = node('A', backend, o);
  const b = node('B', backend, o);
  await a.cluster.start();
  await b.cluster.start();
  return [a, b];
}

test('IpPool.claim marks a given lease taken once; out of range, reserved or taken leases are refused', () => {
  const pool = new IpPool(POOL);
  assert.equal(pool.claim(4), true);
  assert.equal(pool.claim(4), false);
  assert.equal(pool.isLeased(4), true);
  assert.equal(pool.used, 1);
  for (const bad of [0, 1, 8, -1, 2.5, NaN]) assert.equal(pool.claim(bad), false, String(bad));
  const got = new Set<number>();
  for (let a = pool.allocate(); a; a = pool.allocate()) got.add(a.lease);
  assert.deepEqual([...got].sort(), [2, 3, 5, 6], 'allocate skips the claimed lease');
  pool.release(4);
  assert.equal(pool.claim(4), true, 'released: claimable again');
});

test('SessionRegistry.adopt: the record keeps its cookie, addresses and App-ID; duplicates and taken leases are refused; end releases', () => {
  const pool = new IpPool(POOL);
  const limits = new SessionLimits({ maxClients: 0, maxSameClients: 0, pendingTtlMs: 60_000 });
  const reg = new SessionRegistry({ pool, limits, cookieTimeoutMs: 1000, sessionTimeoutMs: 5000, random: randomBytes });
  const rec = (id: string, cookie: string, lease: number, app: string): SessionRecord => ({ id, cookie, user: 'u', groups: [], addresses: pool.addresses(lease), createdAt: 100, peer: 'p', dtlsAppId: app, state: 'authenticated', shard: -1, conn: -1, since: 100, tunnels: 0 });
  assert.equal(reg.adopt(rec('s1', 'c1', 3, 'aa'), 200), true);
  assert.equal(reg.adopt(rec('s1', 'c9', 4, 'bb'), 200), false, 'same id');
  assert.equal(reg.adopt(rec('s2', 'c1', 4, 'bb'), 200), false, 'same cookie');
  assert.equal(reg.adopt(rec('s2', 'c2', 4, 'aa'), 200), false, 'same App-ID');
  assert.equal(reg.adopt(rec('s2', 'c2', 3, 'bb'), 200), false, 'lease taken');
  assert.equal(pool.isLeased(4), false, 'a refused adopt leaves no lease behind');
  assert.equal(limits.holds('s1'), true);
  const c = reg.connect('c1', { shard: 1, conn: 5 }, 300);
  assert.ok(c.ok);
  assert.equal(c.session.addresses.ipv4, '10.9.0.3');
  assert.equal(reg.byDtlsAppId('aa')?.id, 's1');
  assert.equal(reg.expire(5100).map((e) => e.reason).join(), 'session-timeout', 'the session timeout counts from the original login');
  assert.equal(pool.used, 0);
  assert.equal(limits.holds('s1'), false);
});

test('max-same-clients = 1 across two nodes: parallel logins, exactly one wins', async () => {
  const [a, b] = await pair({ maxSame: 1 });
  const r = await Promise.all([a.cluster.login('alice', [], 'x', undefined, 1), b.cluster.login('alice', [], 'y', undefined, 1)]);
  assert.deepEqual(r.map((x) => x.ok).sort(), [false, true]);
  assert.deepEqual(r.find((x) => !x.ok), { ok: false, reason: 'too many sessions for this user' });
  assert.equal(a.reg.size + b.reg.size, 1);
});

test('leases are unique across nodes and the pool runs out cleanly', async () => {
  const [a, b] = await pair();
  const r = await Promise.all(Array.from({ length: 7 }, (_, i) => (i % 2 ? a : b).cluster.login(`u${i}`, [], 'x', undefined, 1)));
  const ok = r.filter((x) => x.ok).map((x) => (x.ok ? x.session.addresses.ipv4 : ''));
  assert.equal(ok.length, 5);
  assert.equal(new Set(ok).size, 5);
  assert.deepEqual(r.filter((x) => !x.ok).map((x) => (x.ok ? '' : x.reason)), ['no free tunnel address', 'no free tunnel address']);
  assert.deepEqual(leaseRange(a.pool, true), { first: 2, end: 7 });
});

test('a cookie from node A connects on node B: same addresses and App-ID; A drops its copy; logout on B frees the lease', async () => {
  const [a, b] = await pair();
  const l = await a.cluster.login('carol', ['g'], '198.51.100.1', 'staff', 10);
  assert.ok(l.ok);
  assert.ok(a.reg.connect(l.session.cookie, { shard: 0, conn: 1 }, 11).ok);
  assert.equal(b.reg.byCookie(l.session.cookie), undefined);
  const c = await b.cluster.claim(l.session.cookie, 20);
  assert.equal(c.kind, 'adopted');
  assert.ok(c.kind === 'adopted');
  assert.equal(c.group, 'staff');
  assert.deepEqual(c.session.addresses, l.session.addresses);
  assert.equal(c.session.dtlsAppId, l.session.dtlsAppId);
  assert.equal(c.session.createdAt, 10);
  assert.ok(b.reg.connect(l.session.cookie, { shard: 1, conn: 2 }, 21).ok);
  assert.deepEqual(a.dropped, [l.session.id], 'A was told to drop it');
  assert.equal(a.reg.size, 0);
  assert.equal(a.pool.used, 0);
  assert.equal((await b.cluster.claim(l.session.cookie, 22)).kind, 'adopted', 'a second CONNECT finds it here');
  assert.equal((await b.cluster.claim('not a cookie', 22)).kind, 'unknown');
  const e = b.reg.closed(l.session.id, { shard: 1, conn: 2 }, true, 30);
  assert.ok(e);
  b.cluster.ended(e);
  assert.equal((await a.cluster.claim(l.session.cookie, 31)).kind, 'unknown', 'logged out: gone everywhere');
});

test('bans and unbans reach the other node; ban points add up over nodes into a cluster ban', async () => {
  const rules = validateAdmissionRules({ default_action: 'accept', ban_score: { max_ban_score: 30, points_wrong_password: 10, ban_time_sec: 60, ban_reset_time_sec: 300 } }, 'test');
  const [a, b] = await pair({ rules });
  a.cluster.banned('192.0.2.0/24', Infinity, 'noisy');
  assert.equal(b.engine.isBanned('192.0.2.77', Date.now()), true);
  assert.equal(b.banNotes.get('192.0.2.0/24'), 'noisy');
  b.cluster.unbanned('192.0.2.0/24');
  assert.equal(a.engine.isBanned('192.0.2.77', Date.now()), false);
  const guardA = clusterLoginGuard({ before: () => undefined, failed: () => undefined, succeeded: () => undefined }, a.cluster);
  await b.cluster.failedLogin('203.0.113.5', Date.now());
  guardA.failed('mallory', '203.0.113.5', Date.now());
  await new Promise((r) => setImmediate(r));
  assert.equal(a.engine.isBanned('203.0.113.5', Date.now()), false, 'two failures: 20 points < 30');
  await b.cluster.failedLogin('203.0.113.5', Date.now());
  assert.equal(b.engine.isBanned('203.0.113.5', Date.now()), true, 'the third failure, on B, bans');
  assert.equal(a.engine.isBanned('203.0.113.5', Date.now()), true, 'and A applies it too');
  assert.equal(a.engine.isBanned('203.0.113.6', Date.now()), false);
});

test('a store that is down: logins and claims answer "cluster state unavailable", nothing hangs', async () => {
  const backend = new LocalBackend();
  const down: StateStore = Object.assign(Object.create(new LocalStore({ nodeId: 'D', backend })) as StateStore, { up: false });
  const failing: StateStore = Object.assign(Object.create(new LocalStore({ nodeId: 'F', backend })) as StateStore, {
    createSession: () => Promise.reject(new Error('timeout')),
    claimSession: () => Promise.reject(new Error('timeout')),
  });
  for (const store of [down, failing]) {
    const n = node('X', backend, { store });
    assert.deepEqual(await n.cluster.login('u', [], 'p', undefined, 1), { ok: false, reason: STATE_UNAVAILABLE, status: 503 });
    assert.deepEqual(await n.cluster.claim('cookie', 1), { kind: 'unavailable' });
    assert.equal(n.reg.size, 0);
    assert.equal(n.pool.used, 0);
  }
});

test('cluster logins with a group pool or explicit address: the store leases only there; a held explicit address is refused by name', async () => {
  const [a, b] = await pair();
  const group = { kind: 'range' as const, first: 4, end: 6, label: '10.9.0.4/31' };
  const g = await Promise.all([a.cluster.login('g1', [], 'x', 'eng', 1, group), b.cluster.login('g2', [], 'x', 'eng', 1, group), a.cluster.login('g3', [], 'x', 'eng', 1, group)]);
  assert.deepEqual(g.map((r) => (r.ok ? r.session.addresses.ipv4 : r.reason)).sort(), ['10.9.0.4', '10.9.0.5', 'no free tunnel address']);
  const vip = { kind: 'exact' as const, lease: 2, label: '10.9.0.2' };
  const v1 = await b.cluster.login('vip', [], 'x', undefined, 1, vip);
  assert.ok(v1.ok);
  assert.equal(v1.session.addresses.ipv4, '10.9.0.2');
  assert.deepEqual(await a.cluster.login('vip', [], 'x', undefined, 1, vip), { ok: false, reason: 'tunnel address 10.9.0.2 is in use by another session' });
  const rest = await a.cluster.login('any', [], 'x', undefined, 1);
  assert.ok(rest.ok);
  assert.equal(rest.session.addresses.ipv4, '10.9.0.3', 'the whole pool gets what the group and the explicit address left');
});
