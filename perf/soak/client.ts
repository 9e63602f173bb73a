// The soak's client (runs inside a client namespace); prints one JSON line
// of counts when done. Modes:
//   cycles <host> <port> <user> <password> <count> <concurrency>
//     `count` whole client sessions, as openconnect makes them: TLS, XML
//     init + auth-reply, CONNECT, one DPD answered, CSTP DISCONNECT 0xb0
//     (logout), close.
//   churn <host> <port> <user> <password> <tunnels> <dpds> <reconnectEvery>
//     `tunnels` sessions held open; each sends `dpds` DPD requests (each
//     answered before the next) and a keepalive with each, and every
//     `reconnectEvery` DPDs drops its TCP connection and CONNECTs again with
//     its cookie (a client changing networks); all log out at the end.
// A day of openconnect at its default 30 s DPD is 2,880 DPDs; the churn
// sends them back to back, so a day's worth of keepalive traffic and
// reconnects takes seconds per tunnel.
import { CstpTestClient } from '../../test/helpers/cstp-client';
import { cstpFrame } from '../../test/helpers/packets';

const CSTP_DPD_REQ = 0x03;
const CSTP_DPD_RESP = 0x04;
const CSTP_KEEPALIVE = 0x07;
const CSTP_DISCONNECT = 0x05;
/** DISCONNECT reason byte openconnect sends on logout ("user requested"). */
const REASON_LOGOUT = 0xb0;
const DPD_TIMEOUT_MS = 10_000;
/** How long a logout waits for the gateway to close the connection. */
const LOGOUT_TIMEOUT_MS = 10_000;

/**
 * openconnect's logout: DISCONNECT with "user requested", close_notify and
 * FIN after it (end(), not destroy(): a destroy may drop the queued frame),
 * then wait for the gateway to close.
 */
function logout(c: CstpTestClient): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('the gateway did not close after the logout')), LOGOUT_TIMEOUT_MS);
    c.sock.once('close', () => {
      clearTimeout(t);
      resolve();
    });
    c.sock.end(cstpFrame(CSTP_DISCONNECT, Buffer.from([REASON_LOGOUT])));
  });
}

/** Sends a DPD request and waits for its answer. */
function dpd(c: CstpTestClient): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      c.onFrame = undefined;
      reject(new Error('DPD not answered'));
    }, DPD_TIMEOUT_MS);
    c.onFrame = (f) => {
      if (f.type !== CSTP_DPD_RESP) return;
      clearTimeout(t);
      c.onFrame = undefined;
      resolve();
    };
    c.send(CSTP_DPD_REQ);
  });
}

async function open(host: string, port: number, cookie: string): Promise<CstpTestClient> {
  const c = await CstpTestClient.connect(port, host);
  c.onFrame = () => {};
  const t = await c.tunnel(cookie);
  if (t.status !== 200) {
    c.close();
    throw new Error(`CONNECT: ${t.statusLine}`);
  }
  return c;
}

async function loginCookie(host: string, port: number, user: string, password: string): Promise<{ c: CstpTestClient; cookie: string }> {
  const c = await CstpTestClient.connect(port, host);
  const l = await c.login(user, password);
  if (l.cookie === undefined) {
    c.close();
    throw new Error(`login: ${l.reply.statusLine}`);
  }
  return { c, cookie: l.cookie };
}

async function cycles(host: string, port: number, user: string, password: string, count: number, concurrency: number): Promise<object> {
  let done = 0;
  let errors = 0;
  let next = 0;
  const firstErrors: string[] = [];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        let c: CstpTestClient | undefined;
        try {
          const l = await loginCookie(host, port, user, password);
          c = l.c;
          c.onFrame = () => {};
          const t = await c.tunnel(l.cookie);
          if (t.status !== 200) throw new Error(`CONNECT: ${t.statusLine}`);
          await dpd(c);
          await logout(c);
          done++;
        } catch (e) {
          errors++;
          if (firstErrors.length < 5) firstErrors.push(String(e));
        } finally {
          c?.close();
        }
      }
    }),
  );
  return { mode: 'cycles', cycles: done, errors, firstErrors };
}

async function churn(host: string, port: number, user: string, password: string, tunnels: number, dpds: number, reconnectEvery: number): Promise<object> {
  let answered = 0;
  let reconnects = 0;
  let errors = 0;
  const firstErrors: string[] = [];
  await Promise.all(
    Array.from({ length: tunnels }, async () => {
      let c: CstpTestClient | undefined;
      try {
        const l = await loginCookie(host, port, user, password);
        l.c.close();
        c = await open(host, port, l.cookie);
        for (let i = 1; i <= dpds; i++) {
          c.send(CSTP_KEEPALIVE);
          await dpd(c);
          answered++;
          if (i % reconnectEvery === 0 && i < dpds) {
            c.close();
            c = await open(host, port, l.cookie);
            reconnects++;
          }
        }
        await logout(c);
      } catch (e) {
        errors++;
        if (firstErrors.length < 5) firstErrors.push(String(e));
      } finally {
        c?.close();
      }
    }),
  );
  return { mode: 'churn', tunnels, dpdsAnswered: answered, reconnects, errors, firstErrors };
}

async function main(): Promise<void> {
  const [mode, host, portText, user, password, a, b, c] = process.argv.slice(2);
  const port = Number(portText);
  let out: object;
  if (mode === 'cycles') out = await cycles(host!, port, user!, password!, Number(a), Number(b));
  else if (mode === 'churn') out = await churn(host!, port, user!, password!, Number(a), Number(b), Number(c));
  else throw new Error(`unknown mode ${String(mode)}`);
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${String(e)}\n`);
  process.exit(1);
});
