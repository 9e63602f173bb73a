// The gateway end to end at the protocol level, with a scripted client that
// sends exactly what openconnect sends, and also what it never would:
//
//   namespace wgproto<pid>:
//     scripted clients ──TLS (loopback)──► acceptor ─fd─► shard 0 / shard 1
//                                                          │ CSTP ⇄ pump
//                                          wgtest0 (TUN, 2 queues) ⇄ kernel
//
// Login (XML), CONNECT headers, pings over IPv4/IPv6 through the TUN, DPD,
// wrong password, malformed HTTP/XML/CSTP, pipelined requests, reconnect with
// the cookie, logout; admission (rate limit, ban/unban over the admin socket,
// max-same-clients across shards). The real client runs in
// tunnel-openconnect.test. Needs root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';

const NS = `wgproto${process.pid}`;

test('gateway protocol: login, CONNECT, tunnel traffic, bad input, reconnect, logout', { timeout: 120_000 }, () => {
  assert.equal(process.getuid?.(), 0, 'end-to-end tests need root (network namespaces, TUN)');
  execFileSync('ip', ['netns', 'add', NS]);
  try {
    execFileSync('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
    const child = path.join(__dirname, '..', 'helpers', 'gateway-child.js');
    const r = spawnSync('ip', ['netns', 'exec', NS, process.execPath, child], { encoding: 'utf8', timeout: 100_000, env: { ...process.env, WOLFGUARD_LOG_LEVEL: 'warn' } });
    assert.equal(r.status, 0, `child failed: ${r.stderr}`);
    const o = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    assert.equal(o.initStatus, 200);
    // DTLS offer and the HelloVerifyRequest (scenario 8 of gateway-child).
    assert.deepEqual(o.dtlsOffer, ['PSK-NEGOTIATE']);
    assert.deepEqual(o.dtlsPort, ['4443']);
    assert.equal(o.appIdBytes, 32);
    const hvr = o.hvr as Array<{ bytes: number; types: number[] }>;
    assert.equal(hvr.length, 1, 'one answer to the first ClientHello');
    assert.deepEqual(hvr[0]!.types, [3], 'a HelloVerifyRequest, nothing else');
    assert.ok(hvr[0]!.bytes < (o.helloBytes as number), `no amplification: ${hvr[0]!.bytes} bytes for a ${String(o.helloBytes)}-byte ClientHello`);
    for (const t of o.forgedTypes as number[][]) assert.ok(!t.includes(2), 'a forged cookie never gets a ServerHello');
    assert.equal(o.strangerReplies, 0, 'a ClientHello for an unknown App-ID gets no answer');
    assert.equal(o.pingAfterHello, true);
    assert.equal(o.dtls13Error, undefined);
    assert.equal(o.dtls13Version, 'DTLSv1.3', 'a client offering DTLS 1.3 gets it, with the exporter PSK and the App-ID as identity');
    assert.equal(o.dtls13Echo, true, 'the tunnel carries packets over DTLS 1.3');
    // DTLS handshake rate limit (3 per second per address) against a burst of 12.
    // Admitted hellos replace each other's half-open DTLS session, so an
    // admitted one may go unanswered; a refused one is never answered.
    assert.ok((o.burstRefused as number) >= 12 - 3, `refused ${String(o.burstRefused)} of 12`);
    assert.ok((o.burstAnswered as number) >= 1, 'the first ones get through');
    assert.ok((o.burstAnswered as number) + (o.burstRefused as number) <= 12, 'no refused hello was answered');
    assert.equal(o.pingAfterBurst, true, 'the session keeps working');
    assert.equal(o.silentDrop, true, `a client closing without DISCONNECT is dropped at once and its connection released: ${JSON.stringify(o.silentSeen)}`);
    // The tunnel check after a reload to dpd 1 s (dead after 3 s without a
    // frame) and idle-timeout 6 s (without a DATA frame), checked once a second.
    const timers = o.timerClosedAfterMs as Record<string, number>;
    assert.ok(timers.silent! > 0 && timers.silent! < 5000, `a silent tunnel is closed as a dead peer within 3-4 s: ${JSON.stringify(timers)}`);
    assert.ok(timers.keepalive! >= 5000, `keepalives keep a tunnel from the dead-peer timer; the idle timeout closes it after 6-7 s: ${JSON.stringify(timers)}`);
    assert.equal(timers.data, -1, `a tunnel carrying packets stays open: ${JSON.stringify(timers)}`);
    assert.equal(o.initForm, true, 'auth-request form with username/password');
    assert.equal(o.cookieIssued, true);
    assert.equal(o.completeBody, true);
    assert.equal(o.connectStatusLine, 'HTTP/1.1 200 CONNECTED');
    assert.deepEqual(o.address, ['10.78.0.2']);
    assert.deepEqual(o.netmask, ['255.255.255.0']);
    assert.deepEqual(o.address6, ['fd00:78::2/128']);
    assert.deepEqual(o.mtu, ['1372'], 'configured link MTU 1400 minus IPv4+UDP, as ocserv computes it');
    assert.deepEqual(o.dns, ['10.78.0.1']);
    assert.deepEqual(o.domain, ['corp.test']);
    assert.deepEqual(o.splitInclude, ['10.78.0.0/255.255.255.0', '192.0.2.0/255.255.255.0']);
    assert.deepEqual(o.splitExclude, ['192.0.2.128/255.255.255.128']);
    assert.deepEqual(o.dpd, ['30']);
    assert.deepEqual(o.keepalive, ['60']);
    assert.equal(o.ping4, true, 'IPv4 echo through the TUN');
    assert.equal(o.ping6, true, 'IPv6 echo through the TUN');
    assert.equal(o.dpdEcho, 'probe');
    assert.equal(o.badStatus, 401);
    assert.equal(o.badClosed, true);
    assert.equal(o.unknownUserStatus, 401);
    assert.equal(o.truncatedXmlStatus, 400);
    assert.equal(o.oversizedStatus, 413);
    assert.deepEqual(o.pipelined, [200, 200]);
    assert.equal(o.garbageClosed, true);
    assert.equal(o.badMagicClosed, true);
    assert.equal(o.pingAfterMalformed, true, 'the other session kept working');
    assert.equal(o.reconnectStatus, 200);
    assert.deepEqual(o.reconnectAddress, ['10.78.0.2'], 'same address after reconnect');
    assert.equal(o.oldKicked, true, 'the old connection of the session is closed');
    assert.equal(o.pingAfterReconnect, true);
    assert.equal(o.afterLogoutStatus, 401, 'cookie refused after logout');
    assert.deepEqual(o.rateRefusals, [false, false, false, true], 'the fourth connection within a minute is refused');
    assert.equal(o.pingDuringFlood, true);
    assert.equal(o.banStatus, 200);
    assert.equal(o.bannedRefused, true);
    assert.ok((o.bans as Array<{ prefix: string }>).some((b) => b.prefix === '127.0.0.3/32'), JSON.stringify(o.bans));
    assert.equal(o.unbanStatus, 200);
    assert.equal(o.unbannedRefused, false, 'accepted again after unban');
    assert.equal((o.badBan as { status: number }).status, 400, 'a prefix with host bits is a clear error');
    assert.equal(o.carolSessions, 2, 'max-same-clients = 2 holds across shards');
    assert.equal(o.carolListed, 2);
    assert.equal(o.carolOwnReconnect, 200, 'a session reconnecting with its own cookie is not a new session');
    assert.equal(o.carolAfterLogout, true, 'after a logout a new login fits');
    const shards = o.shards as Array<{ shard: number }>;
    assert.equal(shards.length, 2);
  } finally {
    execFileSync('ip', ['netns', 'del', NS]);
  }
});
