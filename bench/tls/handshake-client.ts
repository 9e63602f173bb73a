// The handshake load against a real gateway port (runs in a client namespace):
//   node handshake-client.js HOST PORT full|resumed CONCURRENCY SECONDS WARMUP_SECONDS
// Client: tls-client.ts. Each connection: TLS 1.3 handshake, a one-line HTTP
// GET (both gateways answer it without a login), the first reply byte, close.
// Prints "go" when the measured window starts, then one JSON line:
// {"done": n, "resumed": n, "errors": n, "firstError": "...", "seconds": s}.
import type { NativeSessionHandle } from '../../native/lib';
import { newClientContext, oneConnection } from './tls-client';

const REQUEST = Buffer.from('GET / HTTP/1.1\r\nHost: gw.test\r\nUser-Agent: Open AnyConnect VPN Agent v9.12\r\n\r\n');

async function main(): Promise<void> {
  const [host, portText, mode, concText, secondsText, warmupText] = process.argv.slice(2);
  const port = Number(portText);
  const ctx = newClientContext();
  let session: NativeSessionHandle | undefined;
  if (mode === 'resumed') {
    session = (await oneConnection(ctx, host!, port, undefined, REQUEST)).session ?? undefined;
    if (!session) throw new Error('no session ticket received');
    try {
      await oneConnection(ctx, host!, port, session, REQUEST);
    } catch (e) {
      // wolfSSL will not offer what this server gave (ocserv): every "resumed"
      // connection is then a full handshake, as a real client's would be.
      process.stderr.write(`resumption unusable against ${host}:${port}: ${String((e as Error).message ?? e)}\n`);
      session = undefined;
    }
  }
  const run = async (seconds: number) => {
    const c = { done: 0, resumed: 0, errors: 0, firstError: '' };
    const deadline = Date.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: Number(concText) }, async () => {
        while (Date.now() < deadline) {
          try {
            const r = await oneConnection(ctx, host!, port, session, REQUEST);
            c.done++;
            if (r.resumed) c.resumed++;
          } catch (e) {
            c.errors++;
            c.firstError ||= String((e as Error).message ?? e);
          }
        }
      }),
    );
    return c;
  };
  await run(Number(warmupText));
  process.stdout.write('go\n');
  const t0 = process.hrtime.bigint();
  const c = await run(Number(secondsText));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(`${JSON.stringify({ ...c, seconds })}\n`);
  ctx.close();
}

main().catch((e: unknown) => {
  process.stderr.write(`${String((e as Error).stack ?? e)}\n`);
  process.exit(1);
});
