// Runs in a client namespace (udp-flood <host> <port> <count>): sends `count`
// datagrams to the gateway's UDP port (random garbage, and ClientHello-shaped
// ones carrying unknown session ids), then listens one second for anything
// coming back. Prints {"sent": n, "replies": n}. A gateway must never answer
// what it cannot attribute to a session (no amplification).
import * as dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { SESSION_ID_LENGTH_OFFSET } from '../../src/protocol/dtls-hello';

/** Datagrams sent before the loop yields to let the socket drain. */
const BURST = 256;

function fakeHello(): Buffer {
  const b = randomBytes(SESSION_ID_LENGTH_OFFSET + 1 + 32 + 40);
  b[0] = 22;
  b[1] = 0xfe;
  b[2] = 0xfd;
  b[3] = 0;
  b[4] = 0;
  b[13] = 1;
  b[SESSION_ID_LENGTH_OFFSET] = 32;
  return b;
}

async function main(): Promise<void> {
  const [host, portText, countText] = process.argv.slice(2);
  const port = Number(portText);
  const count = Number(countText);
  const sock = dgram.createSocket('udp4');
  let replies = 0;
  sock.on('message', () => replies++);
  await new Promise<void>((r) => sock.bind(0, () => r()));
  let sent = 0;
  while (sent < count) {
    for (let i = 0; i < BURST && sent < count; i++, sent++) {
      const d = sent % 10 === 0 ? fakeHello() : randomBytes(1 + (sent % 1200));
      sock.send(d, port, host);
    }
    await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setTimeout(r, 1000));
  sock.close();
  process.stdout.write(`${JSON.stringify({ sent, replies })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${String(e)}\n`);
  process.exit(1);
});
