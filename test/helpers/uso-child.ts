// Runs inside a network namespace made by tunnel-pump.test: datagrams a
// client sends through its tunnel, written by the pump to a TUN opened for
// USO (wguso0), forwarded by the namespace's kernel to a plain TUN (wgout0)
// whose fd this child reads. wgout0 has no offloads, so the kernel cuts a
// run into datagrams and computes their checksums itself before handing
// them over: what arrives is what a host behind the gateway would get.
// Prints one JSON line.
import { execFileSync } from 'node:child_process';
import { readSync } from 'node:fs';
import { TunnelPump, addressBytes, openTun } from '../../native/lib';
import { makePki } from './certs';
import { closeTunnelPair, tunnelPair } from './tls-pair';
import { waitFor } from './wait';
import { cstpFrame, icmpEchoV4, udpChecksumsOk, udpV4, udpV6 } from './packets';
import { runChild } from './child-main';

const CLIENT = '10.204.0.2';
const FAR = '10.205.0.2';
const CLIENT6 = 'fd00:204::2';
const FAR6 = 'fd00:205::2';
const FAR_BYTES = [addressBytes(FAR), addressBytes(FAR6)];
const RUN = 20;
const RUN6 = 10;
const PAYLOAD = 172;

async function main(): Promise<object> {
  const pki = makePki();
  const tun = openTun('wguso0', 1, 'auto');
  const out = openTun('wgout0', 1);
  const ip = (...a: string[]) => execFileSync('ip', a, { stdio: 'pipe' });
  const sysctl = (kv: string) => execFileSync('sysctl', ['-qw', kv]);
  for (const dev of ['wguso0', 'wgout0']) sysctl(`net.ipv4.conf.${dev}.rp_filter=0`);
  sysctl('net.ipv4.conf.all.rp_filter=0');
  sysctl('net.ipv4.ip_forward=1');
  sysctl('net.ipv6.conf.all.forwarding=1');
  ip('link', 'set', 'wguso0', 'up', 'mtu', '1400');
  ip('addr', 'add', '10.204.0.1/24', 'dev', 'wguso0');
  ip('-6', 'addr', 'add', 'fd00:204::1/64', 'dev', 'wguso0', 'nodad');
  ip('link', 'set', 'wgout0', 'up', 'mtu', '1400');
  ip('addr', 'add', '10.205.0.1/24', 'dev', 'wgout0');
  ip('-6', 'addr', 'add', 'fd00:205::1/64', 'dev', 'wgout0', 'nodad');
  const pump = new TunnelPump(tun.fds[0]!, { framing: tun.framing });
  const { client, srv } = await tunnelPair(pki, (s) => {
    s.startTunnel(pump);
    pump.addRoute(s, CLIENT);
    pump.addRoute(s, CLIENT6);
  });

  // In one TLS write, so one read of the gateway's: a run of one flow (the
  // last datagram shorter), one with a bad UDP checksum, an ICMP echo, a
  // run that skips an IP ID, two flows taking turns, one datagram without a
  // UDP checksum; then an IPv6 run, and one of another flow label.
  const data = (tag: number, n: number) => Buffer.alloc(n, tag);
  const sent: Buffer[] = [];
  for (let i = 0; i < RUN; i++) sent.push(udpV4(CLIENT, FAR, 4000, 5000, data(i, i === RUN - 1 ? 50 : PAYLOAD), { id: 100 + i }));
  sent.push(udpV4(CLIENT, FAR, 4000, 5000, data(0xee, PAYLOAD), { id: 100 + RUN, udpChecksum: 0x1234 }));
  sent.push(icmpEchoV4(CLIENT, FAR, 0x5555, 1, Buffer.from('between')));
  sent.push(udpV4(CLIENT, FAR, 4000, 5000, data(0xa1, PAYLOAD), { id: 300 }));
  sent.push(udpV4(CLIENT, FAR, 4000, 5000, data(0xa2, PAYLOAD), { id: 302 }));
  for (let i = 0; i < 4; i++) sent.push(udpV4(CLIENT, FAR, i % 2 === 0 ? 4001 : 4002, 5000, data(0xb0 + i, PAYLOAD), { id: 400 + i }));
  sent.push(udpV4(CLIENT, FAR, 4000, 5000, data(0xcc, PAYLOAD), { id: 500, udpChecksum: 0 }));
  sent.push(udpV4(CLIENT, FAR, 4000, 5000, data(0xcd, PAYLOAD), { id: 501 }));
  for (let i = 0; i < RUN6; i++) sent.push(udpV6(CLIENT6, FAR6, 4000, 5000, data(0x60 + i, PAYLOAD), { flowLabel: 7 }));
  sent.push(udpV6(CLIENT6, FAR6, 4000, 5000, data(0x7f, PAYLOAD), { flowLabel: 8 }));
  const before = pump.stats();
  client.write(Buffer.concat(sent.map((p) => cstpFrame(0x00, p))));

  const got: Buffer[] = [];
  const buf = Buffer.alloc(65536);
  await waitFor(() => {
    for (;;) {
      let n: number;
      try {
        n = readSync(out.fds[0]!, buf);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw e;
      }
      const p = Buffer.from(buf.subarray(0, n));
      // Only what the test sent: not the kernel's own IPv6 (MLD, say).
      const dst = p[0]! >> 4 === 6 ? p.subarray(24, 40) : p.subarray(16, 20);
      if (FAR_BYTES.some((f) => f.equals(dst))) got.push(p);
    }
    return got.length >= sent.length;
  }, 'the datagrams forwarded to wgout0', 5000);
  const after = pump.stats();

  // Forwarded: one hop less (IPv4: TTL, its header checksum redone; IPv6:
  // hop limit); else the same bytes.
  const sameButTtl = (a: Buffer, b: Buffer) =>
    a.length === b.length &&
    (a[0]! >> 4 === 6
      ? a[7] === b[7]! - 1 && a.subarray(0, 7).equals(b.subarray(0, 7)) && a.subarray(8).equals(b.subarray(8))
      : a[8] === b[8]! - 1 && a.subarray(0, 8).equals(b.subarray(0, 8)) && a[9] === b[9] && a.subarray(12).equals(b.subarray(12)));
  const result = {
    framing: tun.framing,
    sent: sent.length,
    received: got.length,
    mismatches: got.flatMap((g, i) => (sent[i] !== undefined && sameButTtl(g, sent[i]) ? [] : [i])),
    checksumsOk: got.map((g) => (g[0]! >> 4 === 4 && g[9] !== 17) || udpChecksumsOk(g)),
    written: after.tunTxPackets - before.tunTxPackets,
    writes: after.tunTxWrites - before.tunTxWrites,
    coalesced: after.tunTxCoalesced - before.tunTxCoalesced,
    drops: after.tunTxDrops - before.tunTxDrops,
  };
  await closeTunnelPair({ client, srv }, pump, pki);
  return result;
}

runChild(main);
