// The cross-shard data plane in a network namespace of its own:
//
//   the child writes pings into TUN queue 0
//                                  │
//                                  ▼
//               wgmesh0 (2 queues) ⇄ namespace kernel (answers pings)
//                                  │ replies come back on queue 0
//                                  ▼
//   pump 0: lease of 10.202.0.2 belongs to shard 1 → ring 0→1 → eventfd
//   pump 1: drains the ring, frames the packets to the connection
//                                  │ CSTP
//                                  ▼
//   addon TLS client ◄── server connection (tunnel on pump 1)
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
      crossPumpRoute: string;
      leases: Array<[number, number]>;
      pump0: Record<string, number>;
      pump1: Record<string, number>;
    };
    assert.equal(res.replies, 40);
    assert.equal(res.crossPumpRoute, 'WG_TLS_STATE', 'a pump refuses a route to a tunnel that runs on another pump (its thread)');
    assert.deepEqual(res.leases, [[2, 1], [2, 1], [-1, -1], [-1, -1]]);
    // The TUN learns a flow's queue from its first packets, so one or two
    // early replies may arrive on queue 1 directly; the rest cross.
    assert.ok(res.pump0.ringOut >= 30, `pump 0 handed the replies to shard 1 (${res.pump0.ringOut})`);
    assert.equal(res.pump0.ringOutDrops, 0);
    assert.equal(res.pump1.ringIn, res.pump0.ringOut, 'pump 1 took all of them off its ring');
    assert.ok(res.pump1.ringIn + res.pump1.tunRxPackets >= 40, 'every reply left through pump 1');
    assert.equal(res.pump1.ringInNoRoute, 0);
    assert.ok(res.pump1.wakeups >= 1, 'pump 1 was woken by eventfd');
    assert.equal(res.pump0.tunTxPackets + res.pump1.tunTxPackets, 0, 'the pings went into the TUN from the child, not through a pump');
  } finally {
    execFileSync('ip', ['netns', 'del', NS]);
  }
});

// TUN steering (native/src/tun-steering.cc), in a namespace of its own:
//
//   namespace sockets ──64 one-way UDP flows per family──► wgsteer0 (2 queues)
//        on:  the program queues every one for shard 1 (the owner)
//        off: the kernel's flow hash sends some to shard 0, which hands them over the ring
//   then (on) shard 0's queue is closed and replaced; the kernel renumbers, the program follows
function runSteeringChild(mode: 'on' | 'off'): Record<string, any> {
  const ns = `wgsteer${mode}${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const child = path.join(__dirname, '..', 'helpers', 'steering-child.js');
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, child, mode], { encoding: 'utf8', timeout: 45_000 });
    assert.equal(r.status, 0, `child failed: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, any>;
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
}

test('TUN steering queues a client\'s packets for the shard that owns it, and follows a replaced queue', { timeout: 60_000 }, () => {
  assert.equal(process.getuid?.(), 0, 'end-to-end tests need root (network namespaces, TUN)');
  const on = runSteeringChild('on');
  assert.equal(on.delivered, 128);
  // The namespace's own traffic (an IPv6 router solicitation, say) is for no
  // tunnel: whichever queue it lands on, it counts as noRoute there.
  assert.equal(on.pump0.tunRxPackets, on.pump0.noRoute, 'shard 0 read none of shard 1\'s packets');
  assert.equal(on.pump0.ringOut, 0);
  assert.equal(on.pump1.tunRxPackets - on.pump1.noRoute, 128, 'shard 1 read all 128 flows from its own queue');
  assert.equal(on.pump1.steerErrors, 0);
  assert.deepEqual(on.owner, [1, 1, null], 'the map names shard 1 for both tunnel addresses and nothing for others');
  assert.deepEqual(on.afterRestart.queueIndexes, [1, 0], 'shard 1 took queue 0, the new queue of shard 0 is 1');
  assert.equal(on.afterRestart.pump0.tunRxPackets, on.afterRestart.pump0.noRoute, 'the restarted shard 0 read none of them');
  assert.equal(on.afterRestart.pump0.ringOut, 0);
  assert.ok(on.afterRestart.pump1Read >= 128, 'shard 1 still reads its flows on its renumbered queue');
  assert.deepEqual(on.ownerAfterClose, [null, null], 'a closed tunnel leaves the map');

  // The control: without the program the same flows are spread by hash, and
  // shard 0 reads a share (all 128 on queue 1 by chance: odds 2^-128).
  const off = runSteeringChild('off');
  assert.equal(off.delivered, 128);
  assert.ok(off.pump0.ringOut > 0 && off.pump0.ringOut === off.pump0.tunRxPackets - off.pump0.noRoute, `shard 0 read some and passed them over the ring (${JSON.stringify(off.pump0)})`);
});
