// Runs in a client namespace and floods the gateway's TCP port; prints one
// JSON line of counts when done. Modes:
//   idle <host> <port> <count> <holdMs>   open `count` TCP connections that never send a byte, hold them
//   tls <host> <port> <concurrency> <ms>  full TLS handshakes in a loop, each connection closed right after
//   login <host> <port> <concurrency> <ms> TLS, then an XML auth-reply with a wrong password, in a loop
//   slowauth <host> <port> <intervalMs> <maxMs>  one TLS connection sending a GET / every interval, never logging in:
//                                          reports after how long the gateway closed it
//   bigheader <host> <port> <headerBytes> <0> one request with a header of that size: reports the status line
// The idle mode reports how many connections the gateway closed while held
// (handshake timeout, pending-handshake eviction): that is the gateway
// defending itself, not a failure.
import * as net from 'node:net';
import * as tls from 'node:tls';

/** Connections opened per burst in idle mode before yielding (the accept queue is 511 by default). */
const IDLE_BURST = 100;
const AUTH_REPLY = (user: string, password: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<config-auth client="vpn" type="auth-reply" aggregate-auth-version="2"><version who="vpn">v9.12</version><device-id>linux-64</device-id><auth><username>${user}</username><password>${password}</password></auth></config-auth>`;

async function idle(host: string, port: number, count: number, holdMs: number): Promise<object> {
  const sockets: net.Socket[] = [];
  let connected = 0;
  let closedByPeer = 0;
  let errors = 0;
  let holding = true;
  for (let i = 0; i < count; i += IDLE_BURST) {
    const burst = Array.from({ length: Math.min(IDLE_BURST, count - i) }, () => {
      const s = net.connect({ host, port });
      sockets.push(s);
      s.on('error', () => errors++);
      s.on('close', () => {
        if (holding) closedByPeer++;
      });
      return new Promise<void>((resolve) => {
        s.once('connect', () => {
          connected++;
          resolve();
        });
        s.once('close', () => resolve());
      });
    });
    await Promise.all(burst);
  }
  await new Promise((r) => setTimeout(r, holdMs));
  holding = false;
  for (const s of sockets) s.destroy();
  return { mode: 'idle', opened: count, connected, closedByPeer, errors };
}

function handshakeOnce(host: string, port: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host, port, rejectUnauthorized: false });
    s.once('secureConnect', () => resolve(s));
    s.once('error', (e) => {
      s.destroy();
      reject(e);
    });
  });
}

async function loop(ms: number, concurrency: number, once: () => Promise<'ok' | 'other'>): Promise<{ ok: number; other: number; errors: number }> {
  const end = Date.now() + ms;
  const counts = { ok: 0, other: 0, errors: 0 };
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        try {
          counts[await once()]++;
        } catch {
          counts.errors++;
          // A refused or reset connection: do not spin.
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    }),
  );
  return counts;
}

async function tlsFlood(host: string, port: number, concurrency: number, ms: number): Promise<object> {
  const c = await loop(ms, concurrency, async () => {
    const s = await handshakeOnce(host, port);
    s.destroy();
    return 'ok';
  });
  return { mode: 'tls', handshakes: c.ok, errors: c.errors };
}

async function loginFlood(host: string, port: number, concurrency: number, ms: number): Promise<object> {
  const c = await loop(ms, concurrency, async () => {
    const s = await handshakeOnce(host, port);
    const body = AUTH_REPLY('alice', `wrong-${Math.random().toString(36).slice(2)}`);
    const status = await new Promise<string>((resolve, reject) => {
      let head = '';
      s.on('data', (d: Buffer) => {
        head += d.toString('latin1');
        const m = /^HTTP\/1\.1 (\d{3})/.exec(head);
        if (m) resolve(m[1]!);
      });
      s.once('close', () => resolve(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 'closed'));
      s.once('error', reject);
      s.write(`POST / HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: Open AnyConnect VPN Agent v9.12\r\nContent-Type: application/x-www-form-urlencoded\r\nX-Aggregate-Auth: 1\r\nX-Transcend-Version: 1\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    });
    s.destroy();
    return status === '401' ? 'ok' : 'other';
  });
  return { mode: 'login', refused401: c.ok, otherAnswers: c.other, errors: c.errors };
}

async function slowAuth(host: string, port: number, intervalMs: number, maxMs: number): Promise<object> {
  const s = await handshakeOnce(host, port);
  const started = Date.now();
  let answers = 0;
  s.on('data', (d: Buffer) => (answers += (d.toString('latin1').match(/HTTP\/1\.1 200/g) ?? []).length));
  const closedAfterMs = await new Promise<number | null>((resolve) => {
    const t = setInterval(() => {
      if (Date.now() - started > maxMs) {
        clearInterval(t);
        resolve(null);
      } else if (s.writable) s.write(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    }, intervalMs);
    s.once('close', () => {
      clearInterval(t);
      resolve(Date.now() - started);
    });
    s.on('error', () => undefined);
  });
  s.destroy();
  return { mode: 'slowauth', answers, closedAfterMs };
}

async function bigHeader(host: string, port: number, bytes: number): Promise<object> {
  const s = await handshakeOnce(host, port);
  const status = await new Promise<string>((resolve) => {
    let head = '';
    s.on('data', (d: Buffer) => (head += d.toString('latin1')));
    s.once('close', () => resolve(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 'closed'));
    s.on('error', () => undefined);
    s.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nX-Padding: ${'a'.repeat(bytes)}\r\n\r\n`);
  });
  s.destroy();
  return { mode: 'bigheader', status };
}

async function main(): Promise<void> {
  const [mode, host, portText, nText, msText] = process.argv.slice(2);
  const port = Number(portText);
  const n = Number(nText);
  const ms = Number(msText);
  let out: object;
  if (mode === 'idle') out = await idle(host!, port, n, ms);
  else if (mode === 'tls') out = await tlsFlood(host!, port, n, ms);
  else if (mode === 'login') out = await loginFlood(host!, port, n, ms);
  else if (mode === 'slowauth') out = await slowAuth(host!, port, n, ms);
  else if (mode === 'bigheader') out = await bigHeader(host!, port, n);
  else throw new Error(`unknown mode ${mode}`);
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${String(e)}\n`);
  process.exit(1);
});
