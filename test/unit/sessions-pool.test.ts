// Lease arithmetic: a lease's addresses, the route table's view of them, and
// the pool's hand-out order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IpPool, FIRST_CLIENT_LEASE } from '../../src/main/sessions/ip-pool';
import { RouteTable, createRouteTable, leaseCapacity } from '../../src/ring/route-table';
import { routeLease } from '../../native/lib';

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
