// Runs inside a network namespace made by tunnel-pump.test: a TUN device,
// the addon's TLS server with its connection in tunnel mode on a pump, and
// an addon TLS client that speaks CSTP to it. The kernel of the namespace is
// the far end: it answers pings sent through the tunnel. Prints one JSON line.
import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { TunnelPump, openTun } from '../../native/lib';
import { makePki } from './certs';
import { closeTunnelPair, tunnelPair } from './tls-pair';
import { waitFor } from './wait';
import { FrameReader, cstpFrame, icmpEchoV4, icmpEchoV6 } from './packets';
import { runChild } from './child-main';
import { threadFiles } from './reaper';
import { cpusAllowed } from './thread-stats';

const SPACED_PINGS = 8;
/** Well over the pump's quiet spell (200 µs). */
const SPACED_MS = 5;
const SPACED_ID = 0x5151;
const BURST_PINGS = 24;
const BURST_ID = 0xb0b0;

async function main(): Promise<object> {
  const pki = makePki();
  const tun = openTun('wgtun0', 1);
  const ip = (...a: string[]) => execFileSync('ip', a, { stdio: 'pipe' });
  ip('link', 'set', 'wgtun0', 'up', 'mtu', '1400');
  ip('addr', 'add', '10.201.0.1/24', 'dev', 'wgtun0');
  ip('-6', 'addr', 'add', 'fd00:201::1/64', 'dev', 'wgtun0', 'nodad');
  // PUMP_SLICE_US: the data-plane thread's slice (unset: the pump's default).
  const slice = process.env.PUMP_SLICE_US;
  // PUMP_CPU: the CPU to keep it on (unset: none).
  const cpu = process.env.PUMP_CPU;
  const pump = new TunnelPump(tun.fds[0]!, { ...(slice !== undefined ? { planeSliceUs: Number(slice) } : {}), ...(cpu !== undefined ? { planeCpu: Number(cpu) } : {}) });
  const controls: Array<[number, string]> = [];
  const { client, server, srv } = await tunnelPair(pki, (s) => {
    s.startTunnel(pump);
    pump.addRoute(s, '10.201.0.2');
    pump.addRoute(s, 'fd00:201::2');
    s.on('control', (type: number, payload: Buffer) => controls.push([type, payload.toString('hex')]));
  });
  const reader = new FrameReader();
  const frames: Array<{ type: number; payload: Buffer }> = [];
  client.on('data', (d: Buffer) => frames.push(...reader.push(d)));

  // DPD request answered natively with the same payload.
  client.write(cstpFrame(0x03, Buffer.from('dpd-probe-payload')));
  await waitFor(() => frames.some((f) => f.type === 0x04), 'DPD response', 2000);
  const dpd = frames.find((f) => f.type === 0x04)!;

  // Two pings in one TLS write (several frames per record), v4 and v6.
  client.write(Buffer.concat([
    cstpFrame(0x00, icmpEchoV4('10.201.0.2', '10.201.0.1', 0x1234, 1, Buffer.from('hello v4'))),
    cstpFrame(0x07),
    cstpFrame(0x00, icmpEchoV6('fd00:201::2', 'fd00:201::1', 0x1234, 2, Buffer.from('hello v6'))),
  ]));
  const isReply4 = (f: { type: number; payload: Buffer }) => f.type === 0 && f.payload[0] === 0x45 && f.payload[9] === 1 && f.payload[20] === 0;
  const isReply6 = (f: { type: number; payload: Buffer }) => f.type === 0 && f.payload[0] >> 4 === 6 && f.payload[6] === 58 && f.payload[40] === 129;
  await waitFor(() => frames.some(isReply4) && frames.some(isReply6), 'echo replies', 2000);
  const r4 = frames.find(isReply4)!.payload;
  const r6 = frames.find(isReply6)!.payload;

  // Light traffic: pings SPACED_MS apart, each reply alone in a queue that
  // had been quiet, so each is sent before the read that finds the queue
  // empty (native/src/tun.cc, kQuietNs).
  const replies = (id: number) => frames.filter((f) => isReply4(f) && f.payload.readUInt16BE(24) === id).length;
  const beforeSpaced = pump.stats().earlyFlushes;
  for (let seq = 0; seq < SPACED_PINGS; seq++) {
    await new Promise((r) => setTimeout(r, SPACED_MS));
    client.write(cstpFrame(0x00, icmpEchoV4('10.201.0.2', '10.201.0.1', SPACED_ID, seq, Buffer.from('spaced'))));
    await waitFor(() => replies(SPACED_ID) > seq, `spaced echo reply ${seq}`, 2000);
  }
  const spacedEarly = pump.stats().earlyFlushes - beforeSpaced;
  // A burst: one record of BURST_PINGS pings, whose replies are read in one
  // go; at most its first packet goes out early, the rest together.
  await new Promise((r) => setTimeout(r, SPACED_MS));
  const beforeBurst = pump.stats();
  client.write(Buffer.concat(Array.from({ length: BURST_PINGS }, (_, seq) => cstpFrame(0x00, icmpEchoV4('10.201.0.2', '10.201.0.1', BURST_ID, seq, Buffer.from('burst'))))));
  await waitFor(() => replies(BURST_ID) === BURST_PINGS, 'burst echo replies', 2000);
  const afterBurst = pump.stats();

  // A DISCONNECT goes to JavaScript.
  client.write(cstpFrame(0x05, Buffer.from([0xb0, 0x62, 0x79, 0x65])));
  await waitFor(() => controls.length > 0, 'control frame', 2000);

  const planeSched = threadFiles(process.pid, ['comm', 'sched']).filter(([comm]) => comm!.trim() === 'wg-plane').map(([, sched]) => sched!);
  const result = {
    dpdPayload: dpd.payload.toString(),
    reply4: { src: [...r4.subarray(12, 16)].join('.'), dst: [...r4.subarray(16, 20)].join('.'), data: r4.subarray(28).toString() },
    reply6: { data: r6.subarray(48).toString() },
    controls,
    spaced: { pings: SPACED_PINGS, early: spacedEarly, replies: replies(SPACED_ID) },
    burst: { pings: BURST_PINGS, early: afterBurst.earlyFlushes - beforeBurst.earlyFlushes, read: afterBurst.tunRxPackets - beforeBurst.tunRxPackets, replies: replies(BURST_ID) },
    pump: pump.stats(),
    conn: server.stats(),
    // Thread names of this process: the data-plane thread shows as wg-plane.
    threads: fs.readdirSync('/proc/self/task').map((t) => fs.readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim()),
    // The kernel's own view of each wg-plane thread: its slice (ns; EEVDF kernels print se.slice) and policy (0 other, 3 batch, 5 idle).
    planeSchedSliceNs: planeSched.map((t) => /^se\.slice\s*:\s*(\d+)/m.exec(t)?.[1] ?? null),
    planePolicy: planeSched.map((t) => Number(/^policy\s*:\s*(\d+)/m.exec(t)?.[1] ?? -1)),
    // And the CPUs each may run on (Cpus_allowed_list).
    planeCpusAllowed: cpusAllowed(process.pid, 'wg-plane').threads,
  };
  await closeTunnelPair({ client, srv }, pump, pki);
  return result;
}

runChild(main);
