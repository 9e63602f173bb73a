// Runs inside a network namespace made by pump-mesh.test: a TUN device with
// two queues and two pumps (shards 0 and 1); one tunnel connection on shard
// 1 holds 10.204.0.2 and fd00:204::2. The namespace sends 64 one-way UDP
// flows to each address (no packet of theirs was ever written into the TUN,
// so the kernel has no flow to remember). argv[2] "on": the steering program
// queues them all for shard 1; "off": the kernel's flow hash spreads them and
// shard 0 hands its share over the ring. With "on", shard 0's queue is then
// closed and replaced, as when a shard restarts (the kernel renumbers the
// queues), and the flows are sent again. Prints one JSON line.
import * as dgram from 'node:dgram';
import { execFileSync } from 'node:child_process';
import { TunSteering, TunnelPump, createWakeFd, openTun, closeFd } from '../../native/lib';
import { createRing } from '../../src/ring/spsc-ring';
import { RouteTable, createRouteTable } from '../../src/ring/route-table';
import { makePki } from './certs';
import { tunnelPair } from './tls-pair';
import { waitFor } from './wait';
import { FrameReader } from './packets';
import { runChild } from './child-main';

const FLOWS = 64;
const DEV = 'wgsteer0';

async function main(): Promise<object> {
  const on = process.argv[2] === 'on';
  const pki = makePki();
  const tun = openTun(DEV, 2);
  const ip = (...a: string[]) => execFileSync('ip', a, { stdio: 'pipe' });
  ip('link', 'set', DEV, 'up', 'mtu', '1400');
  ip('addr', 'add', '10.204.0.1/24', 'dev', DEV);
  ip('-6', 'addr', 'add', 'fd00:204::1/64', 'dev', DEV, 'nodad');
  const routes = createRouteTable({ v4: { network: '10.204.0.0', prefix: 24 }, v6: { network: 'fd00:204::', prefix: 64, subnetPrefix: 128 } });
  const table = new RouteTable(routes);
  const r01 = createRing(256, 2048);
  const r10 = createRing(256, 2048);
  const wake = [createWakeFd(), createWakeFd()];
  const steering = on ? TunSteering.attach(tun.fds[0]!, 64, 2) : undefined;
  const steerFd = steering ? { steerFd: steering.addressMapFd } : {};
  const pumps = [new TunnelPump(tun.fds[0]!), new TunnelPump(tun.fds[1]!)];
  pumps[0]!.attachMesh({ self: 0, routes, outRings: [null, r01], inRings: [null, r10], wakeFds: wake, ...steerFd });
  pumps[1]!.attachMesh({ self: 1, routes, outRings: [r10, null], inRings: [r01, null], wakeFds: wake, ...steerFd });

  const { client, server, srv } = await tunnelPair(pki, (s) => {
    s.startTunnel(pumps[1]!);
    pumps[1]!.addRoute(s, '10.204.0.2');
    pumps[1]!.addRoute(s, 'fd00:204::2');
    table.claim(2, 1);
  });
  const reader = new FrameReader();
  let data = 0;
  client.on('data', (d: Buffer) => (data += reader.push(d).filter((f) => f.type === 0).length));

  // One datagram per flow, each from a socket (source port) of its own.
  const sendFlows = async () => {
    for (const [type, dst] of [['udp4', '10.204.0.2'], ['udp6', 'fd00:204::2']] as const) {
      for (let i = 0; i < FLOWS; i++) {
        const sock = dgram.createSocket(type);
        await new Promise<void>((res, rej) => sock.send(Buffer.from(`flow-${i}`), 9, dst, (e) => (e ? rej(e) : res())));
        sock.close();
      }
    }
  };
  const counts = (p: TunnelPump) => {
    const s = p.stats();
    return { tunRxPackets: s.tunRxPackets, ringOut: s.ringOut, ringIn: s.ringIn, noRoute: s.noRoute, steerErrors: s.steerErrors };
  };
  await sendFlows();
  await waitFor(() => data >= 2 * FLOWS, 'the flows through the tunnel');
  const result: Record<string, unknown> = {
    delivered: data,
    pump0: counts(pumps[0]!),
    pump1: counts(pumps[1]!),
    owner: steering ? [steering.ownerOf('10.204.0.2'), steering.ownerOf('fd00:204::2'), steering.ownerOf('10.204.0.3')] : null,
  };

  if (steering) {
    // Shard 0 restarts: its queue closes (the kernel moves shard 1's queue
    // to index 0) and a fresh queue is attached last for it.
    pumps[0]!.close();
    const fresh = openTun(DEV, 1).fds[0]!;
    steering.reattached(0);
    const pump0b = new TunnelPump(fresh);
    pump0b.attachMesh({ self: 0, routes, outRings: [null, r01], inRings: [null, r10], wakeFds: wake, steerFd: steering.addressMapFd });
    const before = counts(pumps[1]!).tunRxPackets;
    await sendFlows();
    await waitFor(() => data >= 4 * FLOWS, 'the flows after the queue was replaced');
    result.afterRestart = { queueIndexes: steering.queueIndexes(), pump0: counts(pump0b), pump1Read: counts(pumps[1]!).tunRxPackets - before };
    // The tunnel ends: its addresses leave the map.
    server.destroy();
    await waitFor(() => steering.ownerOf('10.204.0.2') === null, 'the address map entry to go');
    result.ownerAfterClose = [steering.ownerOf('10.204.0.2'), steering.ownerOf('fd00:204::2')];
    pump0b.close();
  }
  client.destroy();
  await srv.close();
  for (const p of pumps) p.close();
  steering?.close();
  for (const fd of wake) closeFd(fd);
  pki.cleanup();
  return result;
}

runChild(main);
