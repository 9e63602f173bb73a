// Runs inside a network namespace made by tunnel-pump.test: a TUN device with
// two queues, a pump on each with planeCpuKeep 'shared' (the gateway's
// WOLFGUARD_PLANE_CPUS=auto). Pings written into a queue are answered by the
// namespace's kernel on the same queue (the TUN remembers the flow's queue),
// so each phase chooses which planes carry packets. Prints one JSON line: per
// phase, the CPU each plane was kept on when the phase ended (-1: none).
import { execFileSync } from 'node:child_process';
import { writeSync } from 'node:fs';
import { TunnelPump, allowedCpus, openTun } from '../../native/lib';
import { icmpEchoV4 } from './packets';
import { runChild } from './child-main';

/** Several of the plane's 100 ms windows (native/src/plane.cc, kKeepWindowNs). */
const PHASE_MS = 600;
/** How long a phase waits for the planes to settle, at most. */
const SETTLE_MS = 3000;
const PING_EVERY_MS = 1;

async function main(): Promise<object> {
  const tun = openTun('wgkeep0', 2);
  const ip = (...a: string[]) => execFileSync('ip', a, { stdio: 'pipe' });
  // No IPv6 on the device: the kernel's own packets (MLD, router
  // solicitations) would land on either queue and make its plane carry.
  execFileSync('sysctl', ['-qw', 'net.ipv6.conf.wgkeep0.disable_ipv6=1']);
  ip('link', 'set', 'wgkeep0', 'up', 'mtu', '1400');
  ip('addr', 'add', '10.203.0.1/24', 'dev', 'wgkeep0');
  const allowed = allowedCpus();
  const cpus = [allowed[0]!, allowed[1 % allowed.length]!];
  const pumps = tun.fds.map((fd, i) => new TunnelPump(fd, { planeCpu: cpus[i]!, planeCpuKeep: 'shared' }));
  const kept = () => pumps.map((p) => p.stats().planeCpu);
  let seq = 0;
  let queues: number[] = [];
  const pinger = setInterval(() => {
    for (const q of queues) writeSync(tun.fds[q]!, icmpEchoV4(`10.203.0.${2 + q}`, '10.203.0.1', 0x4b45, seq & 0xffff, Buffer.from('keep')));
    seq++;
  }, PING_EVERY_MS);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  /** Pings into `qs` for PHASE_MS, sampling what each plane is kept on; then until `settled` holds (SETTLE_MS at most). */
  const phase = async (qs: number[], settled: (k: number[]) => boolean) => {
    queues = qs;
    const samples: number[][] = [];
    const t0 = Date.now();
    while (Date.now() - t0 < PHASE_MS || (!settled(kept()) && Date.now() - t0 < PHASE_MS + SETTLE_MS)) {
      await sleep(50);
      samples.push(kept());
    }
    const rx = pumps.map((p) => p.stats().tunRxPackets);
    return { end: kept(), samples, rx };
  };
  const result = {
    cpus,
    assigned: pumps.map((p) => p.stats().planeCpuAssigned),
    idle: await phase([], () => true),
    one: await phase([0], () => true),
    both: await phase([0, 1], (k) => k[0] === cpus[0] && k[1] === cpus[1]),
    oneAgain: await phase([0], (k) => k[0] === -1),
  };
  clearInterval(pinger);
  for (const p of pumps) p.close();
  return result;
}

runChild(main);
