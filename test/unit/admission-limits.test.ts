// max-same-clients / max-clients: parallel logins cannot race past the limit,
// and a session's own cookie reconnect is never counted as a new session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { SessionLimits } from '../../src/main/admission/session-limits';
import { AdmissionEngine } from '../../src/main/admission/engine';
import { validateAdmissionRules } from '../../src/main/admission/rules-config';

const SEC = 1000;

/** A login as the gateway runs it: async auth work, then reserve on success. */
async function login(limits: SessionLimits, user: string, sessionId: string, delays: number): Promise<boolean> {
  for (let i = 0; i < delays; i++) await tick(); // password hashing, shard round trips...
  return limits.reserve(user, sessionId, 0).ok;
}

test('max-same-clients = 2: ten parallel logins of one user give exactly 2 sessions', async () => {
  const limits = new SessionLimits({ maxClients: 0, maxSameClients: 2, pendingTtlMs: 30 * SEC });
  // interleave the logins differently: each finishes after a different number of event-loop turns
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => login(limits, 'alice', `s${i}`, (i * 7) % 5)));
  assert.equal(results.filter(Boolean).length, 2);
  assert.equal(limits.countFor('alice'), 2);
  const winners = results.flatMap((ok, i) => (ok ? [`s${i}`] : []));
  // one of them reconnects with its own cookie: allowed, still 2
  const again = limits.reserve('alice', winners[0], 5 * SEC);
  assert.equal(again.ok, true);
  assert.equal(again.outcome, 'own_session');
  assert.equal(limits.commit(winners[0], 5 * SEC), true);
  assert.equal(limits.commit(winners[0], 6 * SEC), true, 'reconnects commit again without counting');
  assert.equal(limits.countFor('alice'), 2);
  // a new login is still refused; after one logs out a new one succeeds
  assert.equal(limits.reserve('alice', 'new1', 6 * SEC).outcome, 'max_same_clients');
  assert.equal(limits.release(winners[1]), true);
  assert.equal(limits.reserve('alice', 'new1', 7 * SEC).outcome, 'reserved');
  assert.equal(limits.countFor('alice'), 2);
  // other users are not limited by alice's sessions
  assert.equal(limits.reserve('bob', 'b1', 7 * SEC).ok, true);
});

test('max-same-clients = 1 accepts the session\'s own cookie (the ocserv bug)', () => {
  const limits = new SessionLimits({ maxClients: 0, maxSameClients: 1, pendingTtlMs: 30 * SEC });
  assert.equal(limits.reserve('carol', 'c1', 0).ok, true);
  assert.equal(limits.commit('c1', 0), true);
  assert.equal(limits.reserve('carol', 'c1', 60 * SEC).ok, true, 'reconnect after a network change');
  assert.equal(limits.reserve('carol', 'c2', 60 * SEC).ok, false);
  assert.throws(() => limits.reserve('mallory', 'c1', 0), /another user/);
});

test('max-clients is global and checked before the per-user limit', () => {
  const limits = new SessionLimits({ maxClients: 3, maxSameClients: 2, pendingTtlMs: 30 * SEC });
  assert.equal(limits.reserve('a', 'a1', 0).ok, true);
  assert.equal(limits.reserve('a', 'a2', 0).ok, true);
  assert.equal(limits.reserve('b', 'b1', 0).ok, true);
  assert.equal(limits.reserve('c', 'c1', 0).outcome, 'max_clients');
  assert.equal(limits.reserve('a', 'a1', 0).ok, true, 'own session still fine at the global limit');
  limits.release('b1');
  assert.equal(limits.reserve('c', 'c1', 0).ok, true);
  assert.equal(limits.total, 3);
  assert.equal(limits.release('nope'), false);
});

test('a reservation never committed is given back after pendingTtlMs; a committed one is kept', () => {
  const limits = new SessionLimits({ maxClients: 0, maxSameClients: 1, pendingTtlMs: 30 * SEC });
  limits.reserve('dave', 'd1', 0);
  limits.reserve('erin', 'e1', 0);
  limits.commit('e1', 1 * SEC);
  assert.deepEqual(limits.expirePending(29 * SEC), []);
  assert.deepEqual(limits.expirePending(30 * SEC), ['d1']);
  assert.equal(limits.commit('d1', 31 * SEC), false, 'CONNECT with an expired reservation is refused');
  assert.equal(limits.reserve('dave', 'd2', 31 * SEC).ok, true);
  assert.equal(limits.holds('e1'), true);
});

test('lowering the limit on reload keeps existing sessions and refuses new ones', () => {
  const limits = new SessionLimits({ maxClients: 0, maxSameClients: 3, pendingTtlMs: SEC });
  for (const id of ['f1', 'f2', 'f3']) limits.reserve('frank', id, 0);
  limits.configure({ maxClients: 0, maxSameClients: 1, pendingTtlMs: SEC });
  assert.equal(limits.countFor('frank'), 3);
  assert.equal(limits.reserve('frank', 'f4', 0).ok, false);
  assert.equal(limits.reserve('frank', 'f2', 0).ok, true);
});

test('engine: checkUserSession / commit / release with decisions for the log', async () => {
  const e = new AdmissionEngine({
    rules: validateAdmissionRules({ default_action: 'accept' }),
    sessions: { maxClients: 0, maxSameClients: 2, pendingTtlMs: 30 * SEC },
  });
  const decisions = await Promise.all(
    Array.from({ length: 10 }, async (_, i) => {
      for (let k = 0; k < i % 3; k++) await tick();
      return e.checkUserSession('alice', `s${i}`, 0);
    }),
  );
  assert.equal(decisions.filter((d) => d.allow).length, 2);
  const refused = decisions.find((d) => !d.allow);
  assert.deepEqual(refused, { allow: false, reason: 'max_same_clients', ruleId: 'session', user: 'alice' });
  const ok = decisions.findIndex((d) => d.allow);
  assert.equal(e.commitSession(`s${ok}`, 1), true);
  assert.equal(e.checkUserSession('alice', `s${ok}`, 2).reason, 'session_own_cookie');
  assert.equal(e.sessionCount('alice'), 2);
  assert.equal(e.releaseSession(`s${ok}`), true);
  assert.equal(e.checkUserSession('alice', 'later', 3).reason, 'session_reserved');
  const counts = new Map(e.counters().filter((c) => c.ruleId === 'session').map((c) => [c.reason, c.count]));
  assert.equal(counts.get('session_reserved'), 3);
  assert.equal(counts.get('max_same_clients'), 8);
  assert.equal(counts.get('session_own_cookie'), 1);
});
