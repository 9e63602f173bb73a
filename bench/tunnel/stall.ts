// Diagnostic (not a bench row): a time series of one overloaded CSTP
// download, to see where a stall sits.
//   node dist/bench/tunnel/stall.js [MBIT] [PAYLOAD] [SECONDS]
// wolfguard only (WOLFGUARD_WORKERS shards), one openconnect --no-dtls, a
// paced UDP flood from the lan host to a sink behind openconnect; every
// SAMPLE_MS it prints one JSON line: packets openconnect wrote to its TUN
// (the client TUN's RX counter), the gateway TCP socket's send queue and the
// client socket's receive queue (ss), and each shard's pump/channel counters
// (admin /shards).
import * as path from 'node:path';
import { withNetnsBench } from '../lib/netns-bench';
import { BENCH_PORT, BENCH_USER, startGateway } from '../lib/gateways';
import { startOpenconnect, pinSha256 } from '../../test/helpers/openconnect';
import { adminRequest } from '../../test/helpers/wolfguard';
import { sendLoad, startSink } from '../rtt/udp-load-run';

const SAMPLE_MS = 250;
const SINK_PORT = 9998;

async function main(): Promise<void> {
  const [mbitText = '150', payloadText = '172', secondsText = '3'] = process.argv.slice(2);
  await withNetnsBench('stall', 'wgst', async (env) => {
    const { topo } = env;
    const clientNs = topo.clients[0]!.ns;
    const gw = await startGateway(env, 'wolfguard', {});
    const adminSock = path.join(env.work, 'wolfguard', 'occtl.sock');
    try {
      const oc = await startOpenconnect({ ns: clientNs, url: `https://${topo.gw.outerIp}:${BENCH_PORT}/`, user: BENCH_USER.name, password: BENCH_USER.password, servercertPin: pinSha256(env.pki.ecCert), noDtls: true });
      try {
        const ip = oc.state.ip4!.address;
        if (mbitText === 'ping') {
          // Idle RTT check: which shard read the echo replies (ringOut/ringIn = crossed), and ping's own figures.
          const shardsBefore = (await adminRequest<unknown>(adminSock, 'GET', '/shards')).body;
          const ping = await topo.exec(clientNs, 'ping', ['-q', '-i', '0.002', '-c', payloadText, topo.lan.ip], { timeoutMs: 120_000 });
          const shardsAfter = (await adminRequest<unknown>(adminSock, 'GET', '/shards')).body;
          process.stdout.write(`${JSON.stringify({ shardsBefore, shardsAfter })}\n${ping.stdout}\n`);
          return;
        }
        const sink = await startSink(env, clientNs, SINK_PORT, Number(secondsText) + 1);
        const sender = sendLoad(env, ip, SINK_PORT, mbitText, payloadText, secondsText);
        let done = false;
        void sender.finally(() => (done = true));
        const t0 = Date.now();
        for (let extra = 0; !done || extra < 8; ) {
          if (done) extra++;
          const links = JSON.parse((await topo.exec(clientNs, 'ip', ['-s', '-j', 'link'])).stdout) as { ifname: string; link_type?: string; stats64: { rx: { packets: number }; tx: { packets: number; dropped: number } } }[];
          const tun = links.find((l) => l.link_type === 'none');
          const gss = (await topo.exec(topo.gw.ns, 'ss', ['-tnH', 'state', 'established', `sport = :${BENCH_PORT}`])).stdout.trim();
          const css = (await topo.exec(clientNs, 'ss', ['-tnH', 'state', 'established', `dport = :${BENCH_PORT}`])).stdout.trim();
          const shards = (await adminRequest<unknown>(adminSock, 'GET', '/shards')).body;
          process.stdout.write(
            `${JSON.stringify({ ms: Date.now() - t0, ocTunRx: tun?.stats64.rx.packets, gwSendQ: gss.split(/\s+/)[1], clientRecvQ: css.split(/\s+/)[0], shards })}\n`,
          );
          await new Promise((r) => setTimeout(r, SAMPLE_MS));
        }
        process.stdout.write(`sender ${JSON.stringify(await sender)}\n`);
        process.stdout.write(`sink ${JSON.stringify(await sink.result)}\n`);
      } finally {
        await oc.stop();
      }
    } finally {
      await gw.stop();
    }
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
