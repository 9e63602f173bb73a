// Runs inside a network namespace made by tunnel-pump.test: one tunnel whose
// client stops reading while the namespace's kernel floods its address
// through the TUN device with 200-byte UDP packets (offered load far above
// what the client takes). Checks the overload hand-back and the TUN read
// throttle from the counters, then that the tunnel works again once the
// client reads. WOLFGUARD_TUN_THROTTLE comes from the parent. Prints one JSON line.
// OVERLOAD_CLIENT=answers: the client resumes reading as soon as the tunnel
// pauses and answers DPD requests as openconnect does, so the pause's probe
// (connection.cc, QueueDrainProbe) is what ends it.
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as tls from 'node:tls';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { TlsContext, TunnelPump, openTun, type TlsSocket } from '../../native/lib';
import { makePki } from './certs';
import { closeTunnelPair, startAddonServer } from './tls-pair';
import { waitFor } from './wait';
import { FrameReader, cstpFrame, icmpEchoV4 } from './packets';
import { runChild } from './child-main';
import { CstpType, encodeDpdResponse } from '../../src/protocol/cstp';

/** Small bounded queue so the flood overflows it quickly (the gateway's default is 1 MiB). */
const MAX_QUEUE_BYTES = 64 * 1024;
const FLOOD_PACKETS = 200_000;
const PAYLOAD = Buffer.alloc(172, 0x61); // + 28 bytes of IPv4/UDP headers = 200-byte packets

async function main(): Promise<object> {
  const pki = makePki();
  const tun = openTun('wgtun1', 1);
  const ip = (...a: string[]) => execFileSync('ip', a, { stdio: 'pipe' });
  ip('link', 'set', 'wgtun1', 'up', 'mtu', '1400', 'txqueuelen', '500');
  ip('addr', 'add', '10.202.0.1/24', 'dev', 'wgtun1');
  const pump = new TunnelPump(tun.fds[0]!);
  const sctx = new TlsContext({ role: 'server', cert: { file: pki.ecCert }, key: { file: pki.ecKey } });
  let server: TlsSocket | undefined;
  const srv = await startAddonServer(sctx, (s) => {
    server = s;
    s.on('secure', () => {
      s.startTunnel(pump, { maxQueueBytes: MAX_QUEUE_BYTES });
      pump.addRoute(s, '10.202.0.2');
    });
  });
  const client = tls.connect({ port: srv.port, host: '127.0.0.1', ca: [fs.readFileSync(pki.caCert)], servername: 'localhost' });
  await once(client, 'secureConnect');
  await waitFor(() => server?.secure === true && pump.stats().routes > 0, 'tunnel up');

  // The client stops reading: its socket buffer, then the gateway's queue fill.
  client.pause();
  const udp = dgram.createSocket('udp4');
  udp.bind(0, '10.202.0.1');
  await once(udp, 'listening');
  const answers = process.env.OVERLOAD_CLIENT === 'answers';
  for (let i = 0; i < FLOOD_PACKETS; i++) {
    udp.send(PAYLOAD, 9, '10.202.0.2');
    if (i % 200 === 199) await new Promise((r) => setImmediate(r));
    if (answers && (server!.stats().drainPauses ?? 0) > 0) break;
  }
  if (!answers) await new Promise((r) => setTimeout(r, 300));
  const during = { pump: pump.stats(), conn: server!.stats() };

  // The client reads again: the pause ends, and a ping gets its reply.
  const reader = new FrameReader();
  const frames: Array<{ type: number; payload: Buffer }> = [];
  client.on('data', (d: Buffer) => {
    const got = reader.push(d);
    frames.push(...got);
    // Requests read in one go get one answer, as from openconnect's read loop.
    const request = got.find((f) => f.type === CstpType.DPD_REQ);
    if (answers && request !== undefined) client.write(encodeDpdResponse(request));
  });
  client.resume();
  if (answers) await waitFor(() => (server!.stats().drainProbeResumes ?? 0) > 0, 'the pause ended by the answer to its probe');
  const isReply = (f: { type: number; payload: Buffer }) => f.type === 0 && f.payload[0] === 0x45 && f.payload[9] === 1 && f.payload[20] === 0;
  for (let seq = 1; seq <= 20 && !frames.some(isReply); seq++) {
    client.write(cstpFrame(0x00, icmpEchoV4('10.202.0.2', '10.202.0.1', 0x4242, seq, Buffer.from('after the flood'))));
    await new Promise((r) => setTimeout(r, 100));
  }
  await waitFor(() => frames.some(isReply), 'an echo reply after the flood');
  const result = { sent: FLOOD_PACKETS, during, after: { pump: pump.stats(), conn: server!.stats() }, dataFrames: frames.filter((f) => f.type === 0).length };
  udp.close();
  await closeTunnelPair({ client, srv }, pump, pki);
  return result;
}

runChild(main);
