// Holds many idle established tunnels in one process (runs in a client
// namespace): node holder.js HOST PORT USER PASSWORD CONCURRENCY
// Reads commands on stdin, one a line: "grow N" logs in and CONNECTs until N
// tunnels are up (or DEADLINE_S passes), then prints
// {"established": n, "errors": n, "seconds": s}; end of stdin closes them all.
// Each tunnel is a real client session: TLS 1.3, XML auth, CONNECT, then
// silence (the gateways are configured with a long DPD so none is reaped).
import * as readline from 'node:readline';
import { CstpTestClient } from '../../test/helpers/cstp-client';

/** Consecutive failures after which growing stops (the gateway refuses more). */
const MAX_CONSECUTIVE_ERRORS = 50;

async function open(host: string, port: number, user: string, password: string): Promise<CstpTestClient> {
  const c = await CstpTestClient.connect(port, host);
  try {
    const l = await c.login(user, password);
    if (!l.cookie) throw new Error(`login refused: ${l.reply.statusLine}`);
    const t = await c.tunnel(l.cookie);
    if (t.status !== 200) throw new Error(`CONNECT refused: ${t.statusLine}`);
    c.onFrame = () => undefined; // keep nothing: DPD and keepalive frames would pile up
    return c;
  } catch (e) {
    c.close();
    throw e;
  }
}

async function main(): Promise<void> {
  const [host, portText, user, password, concText, deadlineText] = process.argv.slice(2);
  const port = Number(portText);
  const held: CstpTestClient[] = [];
  let errors = 0;
  let lastError = '';
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    const m = /^grow (\d+)$/.exec(line.trim());
    if (!m) continue;
    const target = Number(m[1]);
    const t0 = Date.now();
    const deadline = t0 + Number(deadlineText) * 1000;
    let consecutive = 0;
    let inFlight = 0;
    await Promise.all(
      Array.from({ length: Number(concText) }, async () => {
        while (held.length + inFlight < target && Date.now() < deadline && consecutive < MAX_CONSECUTIVE_ERRORS) {
          inFlight++;
          try {
            held.push(await open(host!, port, user!, password!));
            consecutive = 0;
          } catch (e) {
            errors++;
            consecutive++;
            lastError = String((e as Error).message ?? e);
          } finally {
            inFlight--;
          }
        }
      }),
    );
    const closed = held.filter((c) => c.closed).length;
    process.stdout.write(`${JSON.stringify({ established: held.length - closed, closed, errors, lastError, seconds: (Date.now() - t0) / 1000 })}\n`);
  }
  for (const c of held) c.close();
}

main().catch((e: unknown) => {
  process.stderr.write(`${String((e as Error).stack ?? e)}\n`);
  process.exit(1);
});
