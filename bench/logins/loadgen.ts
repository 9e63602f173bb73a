// The login load generator (runs inside a client namespace):
//   node loadgen.js HOST PORT USER PASSWORD SECONDS CONCURRENCY
// Each login is a whole client session start as openconnect does it: TLS 1.3
// handshake, XML init, XML auth-reply, CONNECT /CSCOSSLC/tunnel, then a CSTP
// DISCONNECT 0xb0 (logout, so sessions do not pile up) and close. Prints
// {"logins": n, "errors": n, "seconds": s}.
import { CstpTestClient } from '../../test/helpers/cstp-client';

async function oneLogin(host: string, port: number, user: string, password: string): Promise<boolean> {
  const c = await CstpTestClient.connect(port, host);
  try {
    const l = await c.login(user, password);
    if (!l.cookie) return false;
    const t = await c.tunnel(l.cookie);
    if (t.status !== 200) return false;
    c.send(0x05, Buffer.from([0xb0]));
    return true;
  } finally {
    c.close();
  }
}

async function main(): Promise<void> {
  const [host, portText, user, password, secondsText, concText] = process.argv.slice(2);
  const port = Number(portText);
  const seconds = Number(secondsText);
  const end = Date.now() + seconds * 1000;
  let logins = 0;
  let errors = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: Number(concText) }, async () => {
      while (Date.now() < end) {
        try {
          if (await oneLogin(host!, port, user!, password!)) logins++;
          else errors++;
        } catch {
          errors++;
        }
      }
    }),
  );
  process.stdout.write(`${JSON.stringify({ logins, errors, seconds: (Date.now() - started) / 1000 })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${String(e)}\n`);
  process.exit(1);
});
