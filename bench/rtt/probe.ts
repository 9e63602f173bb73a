// The RTT prober (runs in a client namespace):
//   node probe.js HOST PORT USER PASSWORD TARGET SECONDS INTERVAL_MS [LOCAL_PORT]
// Logs in over CSTP as a real client does (bench's own client, not
// openconnect: no TUN and no client-side queue in the path, so the figure is
// the gateway's), then sends an ICMP echo request to TARGET (a host behind
// the gateway) every INTERVAL_MS through the tunnel and times each reply.
// Prints one JSON line: a LatencySummary, the tunnel address it was given, its
// TCP port, the histogram itself (base64), which the sweep adds up over its
// runs, and how many echoes it sent and which went unanswered (by send
// order), so that a capture of its records can pair them (client-wire.ts).
import { CstpTestClient, headerValues } from '../../test/helpers/cstp-client';
import { icmpEchoV4 } from '../../test/helpers/packets';
import { parseEchoReplyV4 } from './echo-reply';
import { encodeRtt, newRttHistogram, recordRtt, summarize } from './latency';

const CSTP_DATA = 0x00;
/** Replies later than this after the run count as lost. */
const GRACE_MS = 1000;
const PROBE_PAYLOAD = Buffer.alloc(56, 0x61); // ping's default size
const SEQ_MASK = 0xffff;

async function main(): Promise<void> {
  const [host, portText, user, password, target, secondsText, intervalText, localPortText] = process.argv.slice(2);
  // A port of the bench's choosing lets its capture take this connection alone (client-wire.ts).
  const c = await CstpTestClient.connect(Number(portText), host!, undefined, localPortText === undefined ? undefined : Number(localPortText));
  const l = await c.login(user!, password!);
  if (!l.cookie) throw new Error(`login failed: ${l.reply.statusLine}`);
  const t = await c.tunnel(l.cookie);
  if (t.status !== 200) throw new Error(`CONNECT failed: ${t.statusLine}`);
  const src = headerValues(t, 'X-CSTP-Address')[0];
  if (src === undefined) throw new Error('no X-CSTP-Address in the CONNECT reply');
  // The gateway-latency capture picks this connection's records by it (read before close).
  const localPort = c.sock.localPort;
  const id = process.pid & SEQ_MASK;
  /** By sequence number: when the echo left, and its place in send order. */
  const sentAt = new Map<number, { t0: bigint; index: number }>();
  const h = newRttHistogram();
  c.onFrame = (f) => {
    if (f.type !== CSTP_DATA) return;
    const r = parseEchoReplyV4(f.payload);
    if (r === undefined || r.id !== id) return;
    const e = sentAt.get(r.seq);
    if (e === undefined) return;
    sentAt.delete(r.seq);
    recordRtt(h, Number(process.hrtime.bigint() - e.t0) / 1000);
  };
  let seq = 0;
  const timer = setInterval(() => {
    const index = seq++;
    const s = index & SEQ_MASK;
    sentAt.set(s, { t0: process.hrtime.bigint(), index });
    c.send(CSTP_DATA, icmpEchoV4(src, target!, id, s, PROBE_PAYLOAD));
  }, Number(intervalText));
  await new Promise((r) => setTimeout(r, Number(secondsText) * 1000));
  clearInterval(timer);
  await new Promise((r) => setTimeout(r, GRACE_MS));
  c.send(0x05, Buffer.from([0xb0])); // DISCONNECT: logout
  c.close();
  const unanswered = [...sentAt.values()].map((e) => e.index).sort((a, b) => a - b);
  process.stdout.write(`${JSON.stringify({ ...summarize(h, sentAt.size), address: src, localPort, histogram: encodeRtt(h), sent: seq, unanswered })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${String((e as Error).stack ?? e)}\n`);
  process.exit(1);
});
