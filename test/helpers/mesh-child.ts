// Runs inside a network namespace made by pump-mesh.test: a TUN device with
// two queues and two pumps (shards 0 and 1) joined by the route table and
// rings. The tunnel lives on pump 1, which owns its lease; the pings are
// written into queue 0 directly, so the kernel's replies come back on queue 0
// (the TUN remembers the flow's queue) and every reply must cross the ring
// 0 → 1 and leave through pump 1. (Not written through the connection: a
// connection runs on its own pump's thread, and pump 0 may not route to it.)
// Prints one JSON line.
import { execFileSync } from 'node:child_process';
import { writeSync } from 'node:fs';
import { TunnelPump, createWakeFd, openTun, routeLease, closeFd } from '../../native/lib';
import { createRing } from '../../src/ring/spsc-ring';
import { RouteTable, createRouteTable } from '../../src/ring/route-table';
import { makePki } from './certs';
import { tunnelPair } from './tls-pair';
import { waitFor } from './wait';
import { FrameReader, icmpEchoV4, icmpEchoV6 } from './packets';
import { runChild } from './child-main';

async function main(): Promise<object> {
  const pki = makePki();
  const tun = openTun('wgmesh0', 2);
  const ip = (...a: string[]) => execFileSync('ip', a, { stdio: 'pipe' });
  ip('link', 'set', 'wgmesh0', 'up', 'mtu', '1400');
  ip('addr', 'add', '10.202.0.1/24', 'dev', 'wgmesh0');
  ip('-6', 'addr', 'add', 'fd00:202::1/64', 'dev', 'wgmesh0', 'nodad');
  const routes = createRouteTable({ v4: { network: '10.202.0.0', prefix: 24 }, v6: { network: 'fd00:202::', prefix: 64, subnetPrefix: 128 } });
  const table = new RouteTable(routes);
  const r01 = createRing(64, 2048);
  const r10 = createRing(64, 2048);
  const wake = [createWakeFd(), createWakeFd()];
  const pumps = [new TunnelPump(tun.fds[0]!), new TunnelPump(tun.fds[1]!)];
  pumps[0]!.attachMesh({ self: 0, routes, outRings: [null, r01], inRings: [null, r10], wakeFds: wake });
  pumps[1]!.attachMesh({ self: 1, routes, outRings: [r10, null], inRings: [r01, null], wakeFds: wake });

  let crossPumpRoute = 'accepted';
  const { client, srv } = await tunnelPair(pki, (s) => {
    s.startTunnel(pumps[1]!);
    pumps[1]!.addRoute(s, '10.202.0.2');
    pumps[1]!.addRoute(s, 'fd00:202::2');
    try {
      pumps[0]!.addRoute(s, '10.202.0.3');
    } catch (e) {
      crossPumpRoute = (e as { code?: string }).code ?? String(e);
    }
    table.claim(2, 1);
  });
  const reader = new FrameReader();
  const frames: Array<{ type: number; payload: Buffer }> = [];
  client.on('data', (d: Buffer) => frames.push(...reader.push(d)));

  const pings = 20;
  for (let i = 0; i < pings; i++) {
    writeSync(tun.fds[0]!, icmpEchoV4('10.202.0.2', '10.202.0.1', 0x4242, i, Buffer.from(`v4-${i}`)));
    writeSync(tun.fds[0]!, icmpEchoV6('fd00:202::2', 'fd00:202::1', 0x4242, i, Buffer.from(`v6-${i}`)));
  }
  const isReply = (f: { type: number; payload: Buffer }) =>
    f.type === 0 && ((f.payload[0] === 0x45 && f.payload[20] === 0) || (f.payload[0]! >> 4 === 6 && f.payload[40] === 129));
  await waitFor(() => frames.filter(isReply).length >= 2 * pings, 'echo replies through the ring', 3000);

  const result = {
    replies: frames.filter(isReply).length,
    crossPumpRoute,
    leases: [routeLease(routes, '10.202.0.2'), routeLease(routes, 'fd00:202::2'), routeLease(routes, '10.203.0.2'), routeLease(routes, 'fd00:202::1:0:0:2')],
    pump0: pumps[0]!.stats(),
    pump1: pumps[1]!.stats(),
  };
  client.destroy();
  await srv.close();
  for (const p of pumps) p.close();
  for (const fd of wake) closeFd(fd);
  pki.cleanup();
  return result;
}

runChild(main);
