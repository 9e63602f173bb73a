// Runs inside a network namespace made by gateway-protocol.test: the whole
// gateway (main thread, 2 shards, TUN, password file) and scripted clients in
// one process, speaking to it over loopback. The namespace's kernel sits
// behind the TUN device and answers pings to the gateway's tunnel address.
// Each scenario's outcome goes into one JSON line on stdout.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as http from 'node:http';
import * as dgram from 'node:dgram';
import { startGateway } from '../../src/main/gateway';
import type { GatewayConfig } from '../../src/main/config/types';
import { DtlsSession, TlsContext, hashPassword, udpConnect } from '../../native/lib';
import { makePki } from './certs';
import { CstpTestClient, headerValues, INIT_XML } from './cstp-client';
import { dtlsClientHello, dtlsHandshakeTypes, icmpEchoV4, icmpEchoV6 } from './packets';
import { runChild } from './child-main';

const GW4 = '10.78.0.1';
/** The gateway's DTLS port in this test's own namespace. */
const UDP_PORT = 4443;
/** The admission rule under test in scenario 10 (ClientHellos per source address per second). */
const DTLS_HELLOS_PER_SECOND = 3;
/** ClientHellos of that burst, each from its own source port. */
const DTLS_HELLO_BURST = 12;
/** How long a scripted DTLS client listens for the server's answer. */
const UDP_LISTEN_MS = 1000;

/** Sends one datagram to the gateway's UDP port from a fresh socket; every datagram that comes back within UDP_LISTEN_MS. */
async function udpExchange(sock: dgram.Socket, d: Buffer): Promise<Buffer[]> {
  const got: Buffer[] = [];
  const on = (m: Buffer) => got.push(m);
  sock.on('message', on);
  sock.send(d, UDP_PORT, '127.0.0.1');
  await new Promise((r) => setTimeout(r, UDP_LISTEN_MS));
  sock.off('message', on);
  return got;
}
const GW6 = 'fd00:78::1';
/** How soon a silently closed tunnel must be seen as dropped (the dead-peer timer would take dpd × 3). */
const SILENT_DROP_MS = 3000;
/** Scenario 11: the reloaded dpd and idle timeout (s), how long the three tunnels are watched and how often the live ones send (ms). */
const TIMER_DPD_S = 1;
const TIMER_IDLE_S = 6;
const TIMER_WATCH_MS = 9500;
const TIMER_SEND_EVERY_MS = 250;
const CSTP_DATA = 0x00;
const CSTP_KEEPALIVE = 0x07;

function isEchoReply(f: { type: number; payload: Buffer }, seq: number): boolean {
  const p = f.payload;
  if (f.type !== 0) return false;
  if (p[0] === 0x45) return p[20] === 0 && p.readUInt16BE(26) === seq;
  return p[0]! >> 4 === 6 && p[40] === 129 && p.readUInt16BE(46) === seq;
}

async function ping(c: CstpTestClient, src: string, dst: string, seq: number): Promise<boolean> {
  const v6 = dst.includes(':');
  c.send(0, v6 ? icmpEchoV6(src, dst, 0x77, seq, Buffer.from('ping')) : icmpEchoV4(src, dst, 0x77, seq, Buffer.from('ping')));
  try {
    await c.waitFrame((f) => isEchoReply(f, seq), 5000);
    return true;
  } catch {
    return false;
  }
}

function admin(socketPath: string, method: string, p: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path: p }, (res) => {
      let t = '';
      res.on('data', (d: Buffer) => (t += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(t) as unknown }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function admission(socketPath: string): Promise<Array<{ ruleId: string; reason: string; count: number }>> {
  return ((await admin(socketPath, 'GET', '/admission')).body as { counters: Array<{ ruleId: string; reason: string; count: number }> }).counters;
}

async function main(): Promise<object> {
  const pki = makePki();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-gw-'));
  fs.writeFileSync(path.join(dir, 'passwd'), `alice:staff:${await hashPassword('correct horse', 'sha512')}\nbob::${await hashPassword('bobpw', 'sha256')}\ncarol:staff:${await hashPassword('carolpw', 'sha512')}\n`);
  fs.writeFileSync(
    path.join(dir, 'rules.json'),
    JSON.stringify({
      default_action: 'accept',
      rules: [{ id: 'tight', type: 'prefix', remote_addr: '127.0.0.2/32', action: 'rate_limit', max_connections_per_minute: 3, penalty_duration_sec: 60 }],
      events: [{ name: 'dtls_handshake', max_rate_per_second: DTLS_HELLOS_PER_SECOND }],
    }),
  );
  const cfg: GatewayConfig = {
    source: 'test',
    tcpPort: 0,
    udpPort: UDP_PORT,
    listenHost: '127.0.0.1',
    serverCert: pki.ecCert,
    serverKey: pki.ecKey,
    auth: [{ kind: 'plain', passwd: path.join(dir, 'passwd') }],
    ipv4Pool: { network: '10.78.0.0', prefix: 24 },
    ipv6Pool: { network: 'fd00:78::', prefix: 64, subnetPrefix: 128 },
    routes: ['10.78.0.0/24', '192.0.2.0/24'],
    noRoutes: ['192.0.2.128/25'],
    dns: ['10.78.0.1'],
    defaultDomain: 'corp.test',
    dpd: 30,
    mobileDpd: 300,
    keepalive: 60,
    idleTimeout: 1200,
    mobileIdleTimeout: null,
    sessionTimeout: null,
    mtu: 1400,
    cookieTimeout: 300,
    maxClients: 0,
    maxSameClients: 2,
    device: 'wgtest0',
    rekeyTime: 172800,
    rekeyMethod: 'ssl',
    authTimeout: 40,
    adminSocket: path.join(dir, 'admin.sock'),
    admissionRules: path.join(dir, 'rules.json'),
    ignoredKeys: [],
  };
  const gw = await startGateway(cfg, { workers: 2 });
  const out: Record<string, unknown> = {};
  try {
    // 1. Login, tunnel, pings over IPv4 and IPv6, DPD answered.
    const a = await CstpTestClient.connect(gw.port);
    const init = await a.post('/', INIT_XML);
    out.initStatus = init.status;
    out.initForm = /<input type="password" name="password"/.test(init.body) && /<form method="post" action="\/auth">/.test(init.body);
    const login = await a.login('alice', 'correct horse');
    out.cookieIssued = login.cookie !== undefined;
    out.completeBody = /type="complete"/.test(login.reply.body) && /<auth id="success">/.test(login.reply.body);
    const t = await a.tunnel(login.cookie!);
    out.connectStatusLine = t.statusLine;
    out.address = headerValues(t, 'X-CSTP-Address');
    out.netmask = headerValues(t, 'X-CSTP-Netmask');
    out.address6 = headerValues(t, 'X-CSTP-Address-IP6');
    out.mtu = headerValues(t, 'X-CSTP-MTU');
    out.dns = headerValues(t, 'X-CSTP-DNS');
    out.domain = headerValues(t, 'X-CSTP-Default-Domain');
    out.splitInclude = headerValues(t, 'X-CSTP-Split-Include');
    out.splitExclude = headerValues(t, 'X-CSTP-Split-Exclude');
    out.dpd = headerValues(t, 'X-CSTP-DPD');
    out.keepalive = headerValues(t, 'X-CSTP-Keepalive');
    const myV4 = (out.address as string[])[0]!;
    const myV6 = (out.address6 as string[])[0]?.split('/')[0] ?? '';
    out.ping4 = await ping(a, myV4, GW4, 1);
    out.ping6 = await ping(a, myV6, GW6, 2);
    a.send(3, Buffer.from('probe'));
    out.dpdEcho = (await a.waitFrame((f) => f.type === 4)).payload.toString();

    // 2. Wrong password: 401 and the connection closes.
    const w = await CstpTestClient.connect(gw.port);
    const bad = await w.login('alice', 'wrong');
    out.badStatus = bad.reply.status;
    await w.reader.until(() => w.closed).then(
      () => (out.badClosed = true),
      () => (out.badClosed = false),
    );
    const nouser = await CstpTestClient.connect(gw.port);
    out.unknownUserStatus = (await nouser.login('mallory', 'x')).reply.status;
    nouser.close();

    // 3. Malformed input on other connections; alice keeps pinging.
    const m1 = await CstpTestClient.connect(gw.port);
    const xml = await m1.post('/auth', '<config-auth client="vpn" type="auth-reply"><auth><username>alice</username>');
    out.truncatedXmlStatus = xml.status;
    m1.close();
    const m2 = await CstpTestClient.connect(gw.port);
    const big = await m2.post('/auth', 'x'.repeat(200_000));
    out.oversizedStatus = big.status;
    m2.close();
    const m3 = await CstpTestClient.connect(gw.port);
    // Two requests pipelined in one TLS record: both answered, in order.
    m3.sock.write(`POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${INIT_XML.length}\r\n\r\n${INIT_XML}POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${INIT_XML.length}\r\n\r\n${INIT_XML}`);
    const p1 = await m3.reader.response();
    const p2 = await m3.reader.response();
    out.pipelined = [p1.status, p2.status];
    m3.close();
    const m4 = await CstpTestClient.connect(gw.port);
    m4.sock.write('GARBAGE / HTTP/9.9\r\n\r\n');
    await m4.reader.until(() => m4.closed).then(
      () => (out.garbageClosed = true),
      () => (out.garbageClosed = false),
    );
    const b = await CstpTestClient.connect(gw.port);
    const bl = await b.login('bob', 'bobpw');
    await b.tunnel(bl.cookie!);
    b.sock.write(Buffer.from('STF\x02\x00\x00\x00\x00', 'latin1')); // bad magic
    await b.reader.until(() => b.closed).then(
      () => (out.badMagicClosed = true),
      () => (out.badMagicClosed = false),
    );
    out.pingAfterMalformed = await ping(a, myV4, GW4, 3);

    // 4. Reconnect with the cookie on a new connection: same address, the old connection is dropped.
    const a2 = await CstpTestClient.connect(gw.port);
    const t2 = await a2.tunnel(login.cookie!);
    out.reconnectStatus = t2.status;
    out.reconnectAddress = headerValues(t2, 'X-CSTP-Address');
    await a.reader.until(() => a.closed).then(
      () => (out.oldKicked = true),
      () => (out.oldKicked = false),
    );
    out.pingAfterReconnect = await ping(a2, myV4, GW4, 4);

    // 5. Logout: DISCONNECT 0xb0, then the cookie is refused.
    a2.send(5, Buffer.from([0xb0, ...Buffer.from('bye')]));
    await a2.reader.until(() => a2.closed).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    const a3 = await CstpTestClient.connect(gw.port);
    const t3 = await a3.tunnel(login.cookie!);
    out.afterLogoutStatus = t3.status;
    a3.close();

    // 6. Admission: 127.0.0.2 may connect 3 times a minute; alice's new session keeps pinging meanwhile.
    const sock = cfg.adminSocket!;
    const fresh = await CstpTestClient.connect(gw.port);
    const fl = await fresh.login('alice', 'correct horse');
    const freshV4 = headerValues(await fresh.tunnel(fl.cookie!), 'X-CSTP-Address')[0]!;
    const rate: boolean[] = [];
    for (let i = 0; i < 4; i++) rate.push(await CstpTestClient.refused(gw.port, '127.0.0.2'));
    out.rateRefusals = rate;
    out.pingDuringFlood = await ping(fresh, freshV4, GW4, 5);
    out.banStatus = (await admin(sock, 'POST', '/bans?prefix=127.0.0.3')).status;
    out.bannedRefused = await CstpTestClient.refused(gw.port, '127.0.0.3');
    out.bans = (await admin(sock, 'GET', '/bans')).body;
    out.unbanStatus = (await admin(sock, 'POST', '/unban?prefix=127.0.0.3')).status;
    out.unbannedRefused = await CstpTestClient.refused(gw.port, '127.0.0.3');
    out.badBan = await admin(sock, 'POST', '/bans?prefix=10.0.0.1/8');
    fresh.close();
    // 6b. A client that goes away without a word (FIN, no DISCONNECT): its
    // session is dropped and its tunnel released at once, not at the
    // dead-peer timer (Node's http leaves an upgraded socket's stream unread,
    // so the end of the stream alone never closed it).
    const silentEnd = Date.now() + SILENT_DROP_MS;
    out.silentDrop = false;
    while (Date.now() < silentEnd) {
      const ss = (await admin(sock, 'GET', '/sessions')).body as Array<{ ipv4?: string; state: string }>;
      const tunnels = ((await admin(sock, 'GET', '/shards')).body as Array<{ tunnels: number }>).reduce((n, x) => n + x.tunnels, 0);
      out.silentSeen = { state: ss.find((x) => x.ipv4 === freshV4)?.state, tunnels };
      if (ss.find((x) => x.ipv4 === freshV4)?.state === 'dropped' && tunnels === 0) {
        out.silentDrop = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }

    // 7. max-same-clients = 2: ten parallel logins of carol over both shards make exactly 2 sessions.
    const tries = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const c = await CstpTestClient.connect(gw.port);
        const r = await c.login('carol', 'carolpw').catch(() => ({ cookie: undefined }));
        c.close();
        return r.cookie;
      }),
    );
    const cookies = tries.filter((c): c is string => c !== undefined);
    out.carolSessions = cookies.length;
    const cs = (await admin(sock, 'GET', '/sessions')).body as Array<{ user: string; id: string }>;
    out.carolListed = cs.filter((x) => x.user === 'carol').length;
    const rc = await CstpTestClient.connect(gw.port);
    out.carolOwnReconnect = (await rc.tunnel(cookies[0]!)).status;
    rc.send(5, Buffer.from([0xb0]));
    await rc.reader.until(() => rc.closed).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    const again = await CstpTestClient.connect(gw.port);
    out.carolAfterLogout = (await again.login('carol', 'carolpw')).cookie !== undefined;
    again.close();

    // 8. DTLS: the PSK offer, and the stateless HelloVerifyRequest in front of
    // a shard's handshake state: a ClientHello with the session's App-ID gets
    // one small HelloVerifyRequest (no amplification); a forged cookie never
    // gets a ServerHello; an unknown App-ID gets nothing.
    const dc = await CstpTestClient.connect(gw.port);
    const dl = await dc.login('bob', 'bobpw');
    const dt = await dc.tunnel(
      dl.cookie!,
      `X-DTLS-Master-Secret: ${'ab'.repeat(48)}\r\nX-DTLS-CipherSuite: PSK-NEGOTIATE:AES256-GCM-SHA384:AES128-GCM-SHA256\r\nX-DTLS12-CipherSuite: PSK-NEGOTIATE:AES256-GCM-SHA384:AES128-GCM-SHA256\r\nX-DTLS-Accept-Encoding: identity\r\n`,
    );
    out.dtlsOffer = headerValues(dt, 'X-DTLS-CipherSuite');
    out.dtlsPort = headerValues(dt, 'X-DTLS-Port');
    const appId = Buffer.from(headerValues(dt, 'X-DTLS-App-ID')[0] ?? '', 'hex');
    out.appIdBytes = appId.length;
    const us = dgram.createSocket('udp4');
    await new Promise<void>((r) => us.bind(0, '127.0.0.1', () => r()));
    const hello = dtlsClientHello(appId);
    const first = await udpExchange(us, hello);
    out.helloBytes = hello.length;
    out.hvr = first.map((d) => ({ bytes: d.length, types: dtlsHandshakeTypes(d) }));
    const forged = await udpExchange(us, dtlsClientHello(appId, Buffer.alloc(32, 0x11)));
    out.forgedTypes = forged.map((d) => dtlsHandshakeTypes(d));
    us.close();
    // From another socket: the first one's address now belongs to the shard's connected socket.
    const other = dgram.createSocket('udp4');
    await new Promise<void>((r) => other.bind(0, '127.0.0.1', () => r()));
    out.strangerReplies = (await udpExchange(other, dtlsClientHello(Buffer.alloc(32, 0x22)))).length;
    other.close();
    const dcV4 = headerValues(dt, 'X-CSTP-Address')[0]!;
    out.pingAfterHello = await ping(dc, dcV4, GW4, 6);

    // 9. DTLS 1.3 for a client that offers it (ours): the PSK from the same
    // exporter, the App-ID as PSK identity (DTLS 1.3 has no session_id).
    // No context (openconnect passes none); @types/node wants one, Node does not.
    const psk = dc.sock.exportKeyingMaterial(32, 'EXPORTER-openconnect-psk', undefined as unknown as Buffer);
    const d13ctx = new TlsContext({ role: 'client', transport: 'dtls', minVersion: 'DTLSv1.3', maxVersion: 'DTLSv1.3', ciphers: 'TLS13-AES256-GCM-SHA384:TLS13-AES128-GCM-SHA256', psk: true });
    const d13 = new DtlsSession(d13ctx, udpConnect('127.0.0.1', 0, '127.0.0.1', UDP_PORT), { pskClient: { identity: appId.toString('hex'), key: psk }, handshakeTimeoutMs: 5000 });
    try {
      await new Promise<void>((resolve, reject) => {
        d13.once('secure', resolve);
        d13.once('error', reject);
      });
      out.dtls13Version = d13.info()?.version;
      // A ping over the DTLS channel: type byte DATA, then the IP packet.
      const echo = new Promise<Buffer>((resolve) => d13.on('message', (m: Buffer) => m[0] === 0 && resolve(m.subarray(1))));
      await new Promise((r) => setTimeout(r, 200)); // the shard moves the routes once the handshake is done
      d13.send(Buffer.concat([Buffer.from([0]), icmpEchoV4(dcV4, GW4, 0x77, 9, Buffer.from('dtls13'))]));
      const reply = await Promise.race([echo, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000))]);
      out.dtls13Echo = reply !== undefined && reply[20] === 0 && reply.readUInt16BE(26) === 9;
    } catch (e) {
      out.dtls13Error = (e as Error).message;
    } finally {
      d13.close();
      d13ctx.close();
    }

    // 10. DTLS handshake rate limit: a burst of ClientHellos with the live
    // App-ID, each from a new source port, from one address: the rule lets
    // at most its rate through; the rest get no answer at all.
    await new Promise((r) => setTimeout(r, 1100)); // a fresh second for the bucket
    const dtlsRefusals = () => ((admission(sock).then((a) => a.filter((c) => c.reason === 'dtls_rate_limited').reduce((n, c) => n + c.count, 0))));
    const refusedBefore = await dtlsRefusals();
    const burst = await Promise.all(
      Array.from({ length: DTLS_HELLO_BURST }, async () => {
        const u = dgram.createSocket('udp4');
        await new Promise<void>((r) => u.bind(0, '127.0.0.1', () => r()));
        const got = await udpExchange(u, dtlsClientHello(appId));
        u.close();
        return got.length;
      }),
    );
    out.burstAnswered = burst.filter((n) => n > 0).length;
    out.burstRefused = (await dtlsRefusals()) - refusedBefore;
    out.pingAfterBurst = await ping(dc, dcV4, GW4, 10);
    dc.close();
    out.status = (await admin(sock, 'GET', '/status')).body;
    out.shards = await gw.pool.shardStats();

    // 11. The tunnel check (tunnels.ts, once a second, reads each tunnel's
    // liveness): reloaded to dpd 1 s (dead after TIMER_DPD_S x 3 without any
    // frame) and an idle timeout of TIMER_IDLE_S (without a DATA frame), so
    // open tunnels follow at once. Three tunnels: one silent, one sending
    // only keepalives, one sending pings. When each was closed, in ms after
    // its CONNECT, or -1 if it was still open at the end.
    gw.reload({ ...cfg, dpd: TIMER_DPD_S, idleTimeout: TIMER_IDLE_S, maxSameClients: 0 });
    const timed = await Promise.all(
      ['silent', 'keepalive', 'data'].map(async (kind) => {
        const c = await CstpTestClient.connect(gw.port);
        const l = await c.login('alice', 'correct horse');
        const t = await c.tunnel(l.cookie!);
        const src = headerValues(t, 'X-CSTP-Address')[0]!;
        const opened = Date.now();
        let seq = 0;
        while (!c.closed && Date.now() - opened < TIMER_WATCH_MS) {
          if (kind === 'keepalive') c.send(CSTP_KEEPALIVE);
          if (kind === 'data') c.send(CSTP_DATA, icmpEchoV4(src, GW4, 0x7711, seq++, Buffer.alloc(8)));
          await new Promise((r) => setTimeout(r, TIMER_SEND_EVERY_MS));
        }
        const closedAfter = c.closed ? Date.now() - opened : -1;
        c.close();
        return [kind, closedAfter] as const;
      }),
    );
    out.timerClosedAfterMs = Object.fromEntries(timed);
  } finally {
    await gw.stop();
    pki.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

runChild(main);
