// Lease arithmetic: a lease's addresses, the route table's view of them, and
// the pool's hand-out order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IpPool, FIRST_CLIENT_LEASE } from '../../src/main/sessions/ip-pool';
import { RouteTable, createRouteTable, leaseCapacity } from '../../src/ring/route-table';
import { routeLease } from '../../native/lib';
import fc from 'fast-check';

const pools = { v4: { network: '10.77.0.0', prefix: 28 }, v6: { network: 'fd77:77::', prefix: 64, subnetPrefix: 128 } };

test('a lease is IPv4 network + i and IPv6 network + i; the native lookup maps both back', () => {
  const pool = new IpPool(pools);
  const rt = createRouteTable(pools);
  assert.equal(pool.capacity, 16);
  const a = pool.allocate()!;
  assert.deepEqual(a, { lease: FIRST_CLIENT_LEASE, ipv4: '10.77.0.2', ipv6: 'fd77:77::2' });
  new RouteTable(rt).claim(a.lease, 3);
  assert.deepEqual(routeLease(rt, '10.77.0.2'), [2, 3]);
  assert.deepEqual(routeLease(rt, 'fd77:77::2'), [2, 3]);
  assert.deepEqual(routeLease(rt, '10.77.0.9'), [9, -1]);
  assert.deepEqual(routeLease(rt, '10.77.0.16'), [-1, -1], 'outside the /28');
  assert.deepEqual(routeLease(rt, 'fd77:78::2'), [-1, -1], 'other IPv6 network');
  assert.deepEqual(routeLease(rt, 'fd77:77::10'), [-1, -1], 'beyond the lease count');
});

test('IPv6 per-client prefixes: lease i is network + (i << (128 - subnetPrefix))', () => {
  const p6 = { v6: { network: '2001:db8:100::', prefix: 48, subnetPrefix: 64 } };
  const pool = new IpPool(p6);
  const rt = createRouteTable(p6);
  const a = pool.allocate()!;
  assert.equal(a.ipv6, '2001:db8:100:2::');
  assert.deepEqual(routeLease(rt, '2001:db8:100:2::1234'), [2, -1], 'any address in the client prefix');
  assert.deepEqual(routeLease(rt, '2001:db8:101:2::'), [-1, -1]);
});

test('the pool never hands out the network, gateway or broadcast address, and reuses freed leases last', () => {
  const pool = new IpPool({ v4: { network: '192.0.2.0', prefix: 29 } });
  const got = [];
  for (let a; (a = pool.allocate()); ) got.push(a.ipv4);
  assert.deepEqual(got, ['192.0.2.2', '192.0.2.3', '192.0.2.4', '192.0.2.5', '192.0.2.6']);
  assert.equal(pool.available, 0);
  pool.release(3);
  pool.release(3); // twice is harmless
  assert.equal(pool.used, 4);
  assert.equal(pool.allocate()!.ipv4, '192.0.2.3');
  assert.equal(pool.allocate(), undefined);
});

test('capacity: the smaller family decides; a too-small pool is refused', () => {
  assert.equal(leaseCapacity({ v4: { network: '10.0.0.0', prefix: 8 } }), 1 << 20);
  assert.equal(leaseCapacity({ v4: { network: '10.0.0.0', prefix: 20 }, v6: { network: 'fd00::', prefix: 64, subnetPrefix: 128 } }), 4096);
  assert.throws(() => new IpPool({ v4: { network: '10.0.0.0', prefix: 31 } }), { code: 'WG_CONFIG_INVALID' });
});

test('route table owners: claim, release only by the owner, bounds checked', () => {
  const t = new RouteTable(createRouteTable(pools));
  t.claim(5, 0);
  assert.equal(t.owner(5), 0);
  t.claim(5, 1); // reconnect on shard 1
  assert.equal(t.release(5, 0), false, 'the old shard cannot clear it');
  assert.equal(t.owner(5), 1);
  assert.equal(t.release(5, 1), true);
  assert.equal(t.owner(5), -1);
  assert.throws(() => t.claim(16, 0), { code: 'WG_INVALID_ARGUMENT' });
  assert.throws(() => new RouteTable(new SharedArrayBuffer(64)), { code: 'WG_INVALID_ARGUMENT' });
});

test('allocateFor: a range hands out only its own leases, each range from where it stopped; exactly one lease when explicit', () => {
  const pool = new IpPool({ v4: { network: '10.77.0.0', prefix: 28 } }); // client leases 2..14
  const group = { kind: 'range' as const, first: 8, end: 12, label: '10.77.0.8/30' };
  const got = [];
  for (let a; (a = pool.allocateFor(group)); ) got.push(a.ipv4);
  assert.deepEqual(got, ['10.77.0.8', '10.77.0.9', '10.77.0.10', '10.77.0.11']);
  assert.equal(pool.allocateFor(group), undefined, 'the group pool is full');
  assert.equal(pool.available, 13 - 4);
  pool.release(9);
  pool.release(10);
  assert.equal(pool.allocateFor(group)!.lease, 9, 'the search goes on after the last lease given, wrapping');
  // Clamped to the client leases: the network, gateway and broadcast leases are never given.
  const low = { kind: 'range' as const, first: 0, end: 3, label: '10.77.0.0/30' };
  assert.equal(pool.allocateFor(low)!.lease, 2);
  assert.equal(pool.allocateFor(low), undefined);
  assert.equal(pool.allocateFor({ kind: 'range', first: 12, end: 16, label: '10.77.0.12/30' })!.lease, 12);
  assert.equal(pool.allocateFor({ kind: 'range', first: 12, end: 16, label: '10.77.0.12/30' })!.lease, 13);
  assert.equal(pool.allocateFor({ kind: 'range', first: 12, end: 16, label: '10.77.0.12/30' })!.lease, 14);
  assert.equal(pool.allocateFor({ kind: 'range', first: 12, end: 16, label: '10.77.0.12/30' }), undefined, 'never the broadcast lease 15');
  assert.deepEqual(pool.allocateFor({ kind: 'exact', lease: 5, label: '10.77.0.5' }), { lease: 5, ipv4: '10.77.0.5' });
  assert.equal(pool.allocateFor({ kind: 'exact', lease: 5, label: '10.77.0.5' }), undefined, 'held');
  // The whole pool skips what ranges and explicit addresses hold.
  const rest = [];
  for (let a; (a = pool.allocate()); ) rest.push(a.lease);
  assert.deepEqual(rest.sort((x, y) => x - y), [3, 4, 6, 7, 10]);
  assert.equal(pool.available, 0);
});

test('fast-check: any mix of allocate, allocateFor and release never gives a lease twice and stays in range; counts stay exact', () => {
  const op = fc.oneof(
    fc.constant({ t: 'any' as const }),
    fc.record({ t: fc.constant('range' as const), first: fc.integer({ min: 0, max: 40 }), len: fc.integer({ min: 1, max: 20 }) }),
    fc.record({ t: fc.constant('exact' as const), lease: fc.integer({ min: 2, max: 62 }) }),
    fc.record({ t: fc.constant('release' as const), pick: fc.nat() }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
      const pool = new IpPool({ v4: { network: '10.1.0.0', prefix: 26 } }); // client leases 2..62
      const held = new Set<number>();
      for (const o of ops) {
        if (o.t === 'release') {
          if (held.size === 0) continue;
          const l = [...held][o.pick % held.size]!;
          pool.release(l);
          held.delete(l);
          continue;
        }
        const a = o.t === 'any' ? pool.allocate() : o.t === 'exact' ? pool.allocateFor({ kind: 'exact', lease: o.lease, label: '' }) : pool.allocateFor({ kind: 'range', first: o.first, end: o.first + o.len, label: '' });
        if (!a) {
          if (o.t === 'any') assert.equal(held.size, 61, 'the whole pool says full only when it is');
          if (o.t === 'exact') assert.ok(held.has(o.lease));
          continue;
        }
        assert.ok(!held.has(a.lease), `lease ${a.lease} given twice`);
        assert.ok(a.lease >= 2 && a.lease <= 62);
        if (o.t === 'range') assert.ok(a.lease >= o.first && a.lease < o.first + o.len);
        if (o.t === 'exact') assert.equal(a.lease, o.lease);
        held.add(a.lease);
      }
      assert.equal(pool.used, held.size);
      assert.equal(pool.available, 61 - held.size);
    }),
    { numRuns: 300 },
  );
});
