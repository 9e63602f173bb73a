// The state-store contract (src/main/state/store.ts), run against both
// implementations: LocalStore (two stores on one LocalBackend = two nodes)
// and RedisStore on a real redis-server started here (unix socket in a temp
// dir, stopped by pid on every exit path). The Redis half checks the Lua
// scripts' logic: slots, leases, claims, liveness, bans, ban points.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { LocalBackend, LocalStore, nextLease, prefixAddress } from '../../src/main/state/local-store';
import { RedisStore, sessionFromHash } from '../../src/main/state/redis-store';
import { parseStateUrl } from '../../src/main/state/state-url';
import { cookieDigest, defaultNodeId, isValidNodeId, type NewSession, type StateEvent, type StateStore } from '../../src/main/state/store';
import { ErrorCodes, isWolfguardError } from '../../src/common/errors';
import { startRedis, startSentinel, type RedisHandle, type SentinelHandle } from '../helpers/redis';

const RANGE = { first: 2, end: 6 }; // four addresses
const TTL = 60_000;
const NODE_TTL = 6000;
const UNLIMITED = { maxClients: 0, maxSameClients: 0 };

let seq = 0;
function newSession(user: string, extra: Partial<NewSession> = {}): NewSession {
  seq++;
  return { id: `sid${seq}`, cookieDigest: cookieDigest(`cookie${seq}`), user, groups: ['g1'], createdAt: 1_700_000_000_000 + seq, peer: '198.51.100.7', dtlsAppId: 'ab'.repeat(32), ...extra };
}

interface Pair {
  a: StateStore;
  b: StateStore;
  eventsA: StateEvent[];
  eventsB: StateEvent[];
  /** Node A dies without a word (no close): its heartbeat stops. */
  killA(): Promise<void>;
  /** Time passes beyond the node TTL (LocalBackend: a fake clock; Redis: a short TTL and a wait). */
  passNodeTtl(): Promise<void>;
  close(): Promise<void>;
}

type Factory = () => Promise<Pair>;

function localPair(): Promise<Pair> {
  let now = 1_000_000;
  const backend = new LocalBackend(() => now);
  const a = new LocalStore({ nodeId: 'A', backend, nodeTtlMs: NODE_TTL });
  const b = new LocalStore({ nodeId: 'B', backend, nodeTtlMs: NODE_TTL });
  const eventsA: StateEvent[] = [];
  const eventsB: StateEvent[] = [];
  return Promise.all([a.start({ event: (e) => eventsA.push(e) }), b.start({ event: (e) => eventsB.push(e) })]).then(() => ({
    a,
    b,
    eventsA,
    eventsB,
    killA: () => Promise.resolve(),
    passNodeTtl: async () => {
      now += NODE_TTL + 1;
      await b.heartbeat(TTL);
    },
    close: async () => {
      await a.close();
      await b.close();
    },
  }));
}

let redis: RedisHandle | undefined;
/** A one-node Redis Cluster (redis-cluster:// URL) and a master watched by a Sentinel (redis-sentinel://). */
let clusterRedis: RedisHandle | undefined;
let sentinelMaster: RedisHandle | undefined;
let sentinel: SentinelHandle | undefined;
let prefixSeq = 0;
/** Short node TTL for Redis so "node A died" takes a fraction of a second. */
const REDIS_NODE_TTL = 300;

async function redisPair(url: string): Promise<Pair> {
  const spec = parseStateUrl(url);
  if (spec.kind === 'local') throw new Error('not a redis URL');
  const keyPrefix = `t${process.pid}-${++prefixSeq}`;
  const a = new RedisStore({ spec, nodeId: 'A', keyPrefix, nodeTtlMs: REDIS_NODE_TTL });
  const b = new RedisStore({ spec, nodeId: 'B', keyPrefix, nodeTtlMs: REDIS_NODE_TTL });
  const eventsA: StateEvent[] = [];
  const eventsB: StateEvent[] = [];
  await a.start({ event: (e) => eventsA.push(e) });
  await b.start({ event: (e) => eventsB.push(e) });
  await a.heartbeat(TTL);
  await b.heartbeat(TTL);
  // Subscriptions are made on 'ready' of the subscriber connection; give them a moment.
  await delay(100);
  let aClosed = false;
  return {
    a,
    b,
    eventsA,
    eventsB,
    killA: async () => {
      aClosed = true;
      await a.close();
    },
    passNodeTtl: () => delay(REDIS_NODE_TTL + 100),
    close: async () => {
      if (!aClosed) await a.close();
      await b.close();
    },
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls until `cond` holds (pub/sub delivery is asynchronous with Redis). */
async function eventually(cond: () => boolean, what: string, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await delay(10);
  }
}

before(async () => {
  redis = await startRedis();
  clusterRedis = await startRedis({ cluster: true });
  sentinelMaster = await startRedis({ tcp: true });
  sentinel = await startSentinel(Number(/:(\d+)\//.exec(sentinelMaster.url)![1]), 'wgmaster');
});

after(async () => {
  await sentinel?.close();
  await sentinelMaster?.close();
  await clusterRedis?.close();
  await redis?.close();
});

const IMPLEMENTATIONS: Array<[string, Factory]> = [
  ['LocalStore', localPair],
  ['RedisStore', () => redisPair(redis!.url)],
  ['RedisStore over Redis Cluster', () => redisPair(clusterRedis!.url)],
  ['RedisStore through Sentinel', () => redisPair(sentinel!.url)],
];

for (const [name, make] of IMPLEMENTATIONS) {
  describe(name, () => {
    test('max-same-clients holds across nodes, even for logins racing in parallel', async () => {
      const p = await make();
      try {
        const limits = { maxClients: 0, maxSameClients: 1 };
        const results = await Promise.all([p.a.createSession(newSession('alice'), limits, RANGE, TTL), p.b.createSession(newSession('alice'), limits, RANGE, TTL)]);
        assert.equal(results.filter((r) => r.ok).length, 1, 'exactly one login');
        const refused = results.find((r) => !r.ok);
        assert.deepEqual(refused, { ok: false, outcome: 'max_same_clients' });
        assert.equal((await p.b.createSession(newSession('bob'), limits, RANGE, TTL)).ok, true, 'another user is not affected');
      } finally {
        await p.close();
      }
    });

    test('max-clients holds across nodes; an ended session gives its slot back', async () => {
      const p = await make();
      try {
        const limits = { maxClients: 2, maxSameClients: 0 };
        const r1 = await p.a.createSession(newSession('u1'), limits, RANGE, TTL);
        const r2 = await p.b.createSession(newSession('u2'), limits, RANGE, TTL);
        assert.ok(r1.ok && r2.ok);
        assert.deepEqual(await p.a.createSession(newSession('u3'), limits, RANGE, TTL), { ok: false, outcome: 'max_clients' });
        assert.equal(await p.b.endSession(r1.session.id), false, 'only the owner ends a session');
        assert.equal(await p.a.endSession(r1.session.id), true);
        assert.equal((await p.a.createSession(newSession('u3'), limits, RANGE, TTL)).ok, true);
      } finally {
        await p.close();
      }
    });

    test('no address is leased twice; the pool runs out cleanly and a freed lease comes back', async () => {
      const p = await make();
      try {
        const made = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? p.a : p.b).createSession(newSession(`u${i}`), UNLIMITED, RANGE, TTL)));
        const ok = made.filter((r) => r.ok);
        assert.equal(ok.length, RANGE.end - RANGE.first);
        const leases = ok.map((r) => (r.ok ? r.session.lease : -1));
        assert.equal(new Set(leases).size, leases.length, `distinct leases ${leases.join(',')}`);
        for (const l of leases) assert.ok(l >= RANGE.first && l < RANGE.end);
        assert.deepEqual(made.filter((r) => !r.ok).map((r) => (r.ok ? '' : r.outcome)), ['no_lease', 'no_lease']);
        const first = ok[0]!;
        assert.ok(first.ok);
        assert.equal(await (first.session.owner === 'A' ? p.a : p.b).endSession(first.session.id), true);
        const again = await p.a.createSession(newSession('late'), UNLIMITED, RANGE, TTL);
        assert.ok(again.ok);
        assert.equal(again.session.lease, first.session.lease);
      } finally {
        await p.close();
      }
    });

    test('a sub-range (a group pool) leases only inside it, with a cursor of its own; a one-lease range (explicit address) is refused while held', async () => {
      const p = await make();
      try {
        const wide = { first: 2, end: 12 };
        const group = { first: 6, end: 9 };
        const lease = async (store: StateStore, user: string, range: { first: number; end: number }): Promise<number | string> => {
          const r = await store.createSession(newSession(user), UNLIMITED, range, TTL);
          return r.ok ? r.session.lease : r.outcome;
        };
        assert.equal(await lease(p.a, 'g1', group), 6);
        assert.equal(await lease(p.b, 'w1', wide), 2, 'the whole pool keeps its own cursor');
        assert.equal(await lease(p.b, 'g2', group), 7, 'and the group its own');
        assert.equal(await lease(p.a, 'w2', wide), 3);
        assert.equal(await lease(p.a, 'g3', group), 8);
        assert.equal(await lease(p.b, 'g4', group), 'no_lease', 'the group pool is full, the rest of the pool is not');
        assert.equal(await lease(p.a, 'x1', { first: 10, end: 11 }), 10);
        assert.equal(await lease(p.b, 'x2', { first: 10, end: 11 }), 'no_lease', 'an explicit lease someone holds');
        assert.equal(await lease(p.b, 'w3', wide), 4);
        assert.equal(await lease(p.b, 'w4', wide), 5);
        assert.equal(await lease(p.b, 'w5', wide), 9, 'the whole pool skips what the group and the explicit lease hold');
        assert.equal(await lease(p.b, 'w6', wide), 11);
        assert.equal(await lease(p.b, 'w7', wide), 'no_lease');
      } finally {
        await p.close();
      }
    });

    test('a cookie is claimable on another node with the same lease and App-ID; the live old owner is told to drop it', async () => {
      const p = await make();
      try {
        const s = newSession('carol', { group: 'staff', groups: ['staff', 'x'] });
        const r = await p.a.createSession(s, UNLIMITED, RANGE, TTL);
        assert.ok(r.ok);
        assert.deepEqual(await p.b.claimSession(cookieDigest('no such cookie'), TTL), { ok: false });
        const c = await p.b.claimSession(s.cookieDigest, TTL);
        assert.ok(c.ok);
        assert.equal(c.previousOwner, 'A');
        assert.equal(c.previousAlive, true);
        assert.deepEqual(c.session, { ...s, lease: r.session.lease, owner: 'B' });
        await eventually(() => p.eventsA.some((e) => e.type === 'drop' && e.sessionId === s.id), 'the drop message on A');
        assert.equal(p.eventsB.filter((e) => e.type === 'drop').length, 0, 'B does not hear its own message');
        assert.equal(await p.a.endSession(s.id), false, 'A no longer owns it: its local end leaves the store alone');
        const again = await p.b.claimSession(s.cookieDigest, TTL);
        assert.ok(again.ok);
        assert.equal(again.previousOwner, undefined, 'claiming your own session is a no-op');
        assert.equal(await p.b.endSession(s.id), true);
        assert.deepEqual(await p.b.claimSession(s.cookieDigest, TTL), { ok: false }, 'an ended session is gone');
      } finally {
        await p.close();
      }
    });

    test('the sessions of a dead node stay claimable, with the owner reported dead', async () => {
      const p = await make();
      try {
        const s = newSession('dave');
        const r = await p.a.createSession(s, UNLIMITED, RANGE, TTL);
        assert.ok(r.ok);
        await p.killA();
        await p.passNodeTtl();
        const c = await p.b.claimSession(s.cookieDigest, TTL);
        assert.ok(c.ok);
        assert.equal(c.previousOwner, 'A');
        assert.equal(c.previousAlive, false);
        assert.equal(c.session.lease, r.session.lease);
      } finally {
        await p.close();
      }
    });

    test('a session whose time-to-live ran out is gone with its lease and slot', async () => {
      const p = await make();
      try {
        const limits = { maxClients: 0, maxSameClients: 1 };
        const short = name.startsWith('RedisStore') ? 200 : 0;
        const s = newSession('erin');
        if (short > 0) {
          const r = await p.a.createSession(s, limits, { first: 2, end: 3 }, short);
          assert.ok(r.ok);
          await delay(short + 100);
        } else {
          // LocalBackend: a zero TTL has expired by the next look.
          const r = await p.a.createSession(s, limits, { first: 2, end: 3 }, 0);
          assert.ok(r.ok);
        }
        assert.deepEqual(await p.b.claimSession(s.cookieDigest, TTL), { ok: false });
        const again = await p.b.createSession(newSession('erin'), limits, { first: 2, end: 3 }, TTL);
        assert.ok(again.ok, 'slot and the only lease are free again');
      } finally {
        await p.close();
      }
    });

    test('restoreSessions writes back what the store lost, but never takes a lease someone else holds', async () => {
      const p = await make();
      try {
        const s = newSession('frank');
        const r = await p.a.createSession(s, UNLIMITED, RANGE, TTL);
        assert.ok(r.ok);
        assert.equal(await p.a.endSession(s.id), true); // "lost"
        const other = await p.b.createSession(newSession('gina'), UNLIMITED, { first: r.session.lease + 1, end: r.session.lease + 2 }, TTL);
        assert.ok(other.ok);
        assert.equal(await p.a.restoreSessions([r.session, { ...other.session, id: 'intruder', cookieDigest: 'x' }], TTL), 1);
        const c = await p.b.claimSession(s.cookieDigest, TTL);
        assert.ok(c.ok);
        assert.equal(c.session.lease, r.session.lease);
      } finally {
        await p.close();
      }
    });

    test('a ban on one node reaches the other; unban too; bans are listed until they expire', async () => {
      const p = await make();
      try {
        await p.a.ban({ prefix: '192.0.2.7/32', until: Infinity, reason: 'guessing' });
        await eventually(() => p.eventsB.some((e) => e.type === 'ban'), 'the ban on B');
        const ev = p.eventsB.find((e) => e.type === 'ban');
        assert.deepEqual(ev, { type: 'ban', ban: { prefix: '192.0.2.7/32', until: Infinity, reason: 'guessing' }, from: 'A' });
        assert.equal(p.eventsA.filter((e) => e.type === 'ban').length, 0);
        await p.a.ban({ prefix: '2001:db8::/48', until: Date.now() + 60_000 });
        const list = await p.b.bans();
        assert.deepEqual(list.map((b) => b.prefix).sort(), ['192.0.2.7/32', '2001:db8::/48']);
        assert.equal(list.find((b) => b.prefix === '192.0.2.7/32')!.until, Infinity);
        assert.equal(await p.b.unban('192.0.2.7/32'), true);
        assert.equal(await p.b.unban('192.0.2.7/32'), false);
        await eventually(() => p.eventsA.some((e) => e.type === 'unban' && e.prefix === '192.0.2.7/32'), 'the unban on A');
        assert.deepEqual((await p.a.bans()).map((b) => b.prefix), ['2001:db8::/48']);
      } finally {
        await p.close();
      }
    });

    test('ban points of one address add up over nodes within the window; unban clears them', async () => {
      const p = await make();
      try {
        assert.equal(await p.a.addBanPoints('203.0.113.9', 10, 60_000), 10);
        assert.equal(await p.b.addBanPoints('203.0.113.9', 10, 60_000), 20);
        assert.equal(await p.b.addBanPoints('203.0.113.10', 5, 60_000), 5);
        await p.a.unban('203.0.113.9/32');
        assert.equal(await p.b.addBanPoints('203.0.113.9', 1, 60_000), 1);
      } finally {
        await p.close();
      }
    });
  });
}

test('RedisStore: commands fail fast (no hang) while Redis is down, and it comes back by itself', { timeout: 30_000 }, async () => {
  const own = await startRedis();
  const spec = parseStateUrl(own.url);
  assert.notEqual(spec.kind, 'local');
  if (spec.kind === 'local') return;
  const changes: boolean[] = [];
  const store = new RedisStore({ spec, nodeId: 'N', nodeTtlMs: 1000, commandTimeoutMs: 500 });
  try {
    await store.start({ availability: (up) => changes.push(up) });
    assert.equal(store.up, true);
    assert.deepEqual(changes, [true]);
    await own.stop();
    await eventually(() => !store.up, 'store down');
    const t0 = Date.now();
    await assert.rejects(store.createSession(newSession('x'), UNLIMITED, RANGE, TTL));
    assert.ok(Date.now() - t0 < 1500, `failed in ${Date.now() - t0} ms`);
    await own.restart();
    await eventually(() => store.up, 'store up again', 10_000);
    assert.deepEqual(changes, [true, false, true], 'one report per change');
    assert.equal((await store.createSession(newSession('x'), UNLIMITED, RANGE, TTL)).ok, true);
  } finally {
    await store.close();
    await own.close();
  }
});

test('nextLease walks from the cursor and wraps; undefined when nothing is free', () => {
  const cases: Array<[number, number[], number | undefined]> = [
    [-1, [], 2],
    [4, [], 4],
    [5, [5], 2],
    [6, [], 2],
    [3, [3, 4, 5], 2],
    [2, [2, 3, 4, 5], undefined],
  ];
  for (const [cursor, taken, want] of cases) assert.equal(nextLease(RANGE, cursor, (n) => !taken.includes(n)), want, `cursor ${cursor} taken ${taken.join(',')}`);
  assert.equal(nextLease({ first: 3, end: 3 }, 0, () => true), undefined);
});

test('sessionFromHash refuses incomplete or malformed hashes without throwing', () => {
  const good = new Map(Object.entries({ id: 'i', ck: 'c', user: 'u', app: 'a', owner: 'o', lease: '7', createdAt: '5', groups: '["g"]', peer: 'p' }));
  assert.deepEqual(sessionFromHash(good), { id: 'i', cookieDigest: 'c', user: 'u', groups: ['g'], lease: 7, createdAt: 5, peer: 'p', dtlsAppId: 'a', owner: 'o' });
  for (const [k, v] of [['lease', 'x'], ['lease', '-1'], ['createdAt', 'nope'], ['id', undefined], ['owner', undefined]] as const) {
    const m = new Map(good);
    if (v === undefined) m.delete(k);
    else m.set(k, v);
    assert.equal(sessionFromHash(m), undefined, `${k}=${v}`);
  }
  assert.deepEqual(sessionFromHash(new Map([...good, ['groups', '{bad json']]))?.groups, []);
});

test('node ids: the default is host-pid and valid; odd host names are made safe', () => {
  assert.equal(defaultNodeId('gw1.example', 42), 'gw1.example-42');
  assert.ok(isValidNodeId(defaultNodeId('weird host/name', 7)));
  assert.ok(isValidNodeId(defaultNodeId('', 7)));
  assert.ok(isValidNodeId(defaultNodeId('x'.repeat(300), 1234567)));
  for (const bad of ['', 'a b', 'a:b', 'x'.repeat(65), 'ü']) assert.equal(isValidNodeId(bad), false, bad);
  assert.equal(prefixAddress('2001:db8::1/128'), '2001:db8::1');
  assert.equal(prefixAddress('192.0.2.1'), '192.0.2.1');
});

test('RedisStore used before start() (or after close()) fails with WG_STATE_UNAVAILABLE, not a TypeError', async () => {
  const spec = parseStateUrl('redis://127.0.0.1:1/0');
  assert.notEqual(spec.kind, 'local');
  if (spec.kind === 'local') return;
  const store = new RedisStore({ spec, nodeId: 'N', nodeTtlMs: 1000 });
  assert.equal(store.up, false);
  await assert.rejects(store.createSession(newSession('x'), UNLIMITED, RANGE, TTL), (e: unknown) => isWolfguardError(e) && e.code === ErrorCodes.STATE_UNAVAILABLE);
  await assert.rejects(store.bans(), (e: unknown) => isWolfguardError(e) && e.code === ErrorCodes.STATE_UNAVAILABLE);
  await store.close();
});
