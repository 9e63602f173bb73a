// The cross-shard data plane in a network namespace of its own:
//
//   addon TLS client ──CSTP──► server connection (tunnel on pump 0)
//                                  │ writes into TUN queue 0
//                                  ▼
//               wgmesh0 (2 queues) ⇄ namespace kernel (answers pings)
//                                  │ replies come back on queue 0
//                                  ▼
//   pump 0: lease of 10.202.0.2 belongs to shard 1 → ring 0→1 → eventfd
//   pump 1: drains the ring, frames the packets to the connection
//
// Every reply must cross the ring, and the native lease arithmetic must agree
// with the route table's. Needs root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';

const NS = `wgmesh${process.pid}`;

test('packets read by a shard that does not own their destination cross the ring to the owner', { timeout: 60_000 }, () => {
  assert.equal(process.getuid?.(), 0, 'end-to-end tests need root (network namespaces, TUN)');
  execFileSync('ip', ['netns', 'add', NS]);
  try {
    execFileSync('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
    const child = path.join(__dirname, '..', 'helpers', 'mesh-child.js');
    const r = spawnSync('ip', ['netns', 'exec', NS, process.execPath, child], { encoding: 'utf8', timeout: 45_000 });
    assert.equal(r.status, 0, `child failed: ${r.stderr}`);
    const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
      replies: number;
      leases: Array<[number, number]>;
      pump0: Record<string, number>;
      pump1: Record<string, number>;
    };
    assert.equal(res.replies, 40);
    assert.deepEqual(res.leases, [[2, 1], [2, 1], [-1, -1], [-1, -1]]);
    // The TUN learns a flow's queue from its first packets, so one or two
    // early replies may arrive on queue 1 directly; the rest cross.
    assert.ok(res.pump0.ringOut >= 30, `pump 0 handed the replies to shard 1 (${res.pump0.ringOut})`);
    assert.equal(res.pump0.ringOutDrops, 0);
    assert.equal(res.pump1.ringIn, res.pump0.ringOut, 'pump 1 took all of them off its ring');
    assert.ok(res.pump1.ringIn + res.pump1.tunRxPackets >= 40, 'every reply left through pump 1');
    assert.equal(res.pump1.ringInNoRoute, 0);
    assert.ok(res.pump1.wakeups >= 1, 'pump 1 was woken by eventfd');
    assert.equal(res.pump0.tunTxPackets, 40, 'the pings went into the TUN through queue 0');
  } finally {
    execFileSync('ip', ['netns', 'del', NS]);
  }
});
