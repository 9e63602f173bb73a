// Bad configuration gives clear, coded errors; hostile peers end only their
// own connection, never the process.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { once } from 'node:events';
import { TlsContext, LivenessSlot, LIVENESS_FIELDS, adoptSocket, TlsSocket, TunnelPump, allowedCpus, addon, planeSliceProblem, MIN_PLANE_SLICE_US, MAX_PLANE_SLICE_US, udpConnect, rcvBufBytes, closeFd, dtlsRcvBufProblem, DEFAULT_DTLS_RCVBUF_BYTES, MIN_DTLS_RCVBUF_BYTES, MAX_DTLS_RCVBUF_BYTES } from '../../native/lib';
import { ErrorCodes, isWolfguardError } from '../../src/common/errors';
import { makePki, type TestPki } from '../helpers/certs';
import { startAddonServer, echoRoundTrip, tunnelPair } from '../helpers/tls-pair';
import { nativeConnectionOf } from '../../native/lib/connection-common';

let pki: TestPki;
before(() => {
  pki = makePki();
});
after(() => pki.cleanup());

test('certificate and key that do not match', () => {
  assert.throws(
    () => new TlsContext({ role: 'server', cert: { file: pki.ecCert }, key: { file: pki.rsaKey } }),
    (e: Error & { code?: string }) => e.code === 'WG_TLS_KEY_MISMATCH' && e.message.includes(pki.rsaKey) && e.message.includes(pki.ecCert),
  );
});

test('missing certificate file names the path', () => {
  const missing = path.join(pki.dir, 'nope.pem');
  assert.throws(
    () => new TlsContext({ role: 'server', cert: { file: missing }, key: { file: pki.ecKey } }),
    (e: Error & { code?: string }) => e.code === 'WG_FILE_NOT_FOUND' && e.message.includes(missing),
  );
});

test('garbage where a certificate or key should be', () => {
  const junk = path.join(pki.dir, 'junk.pem');
  fs.writeFileSync(junk, 'this is not PEM\n');
  assert.throws(() => new TlsContext({ role: 'server', cert: { file: junk }, key: { file: pki.ecKey } }), { code: 'WG_TLS_BAD_CERT' });
  assert.throws(() => new TlsContext({ role: 'server', cert: { file: pki.ecCert }, key: { file: junk } }), { code: 'WG_TLS_BAD_KEY' });
  assert.throws(() => new TlsContext({ role: 'server', ca: { file: junk } }), { code: 'WG_TLS_BAD_CERT' });
});

test('bad cipher strings name the unknown suites', () => {
  const base = { role: 'server' as const, cert: { file: pki.ecCert }, key: { file: pki.ecKey } };
  assert.throws(() => new TlsContext({ ...base, ciphers: 'NOT-A-CIPHER' }), (e: Error & { code?: string }) => e.code === 'WG_TLS_BAD_CIPHER' && e.message.includes('NOT-A-CIPHER'));
  assert.throws(
    () => new TlsContext({ ...base, ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:BOGUS-SUITE' }),
    (e: Error & { code?: string }) => e.code === 'WG_TLS_BAD_CIPHER' && e.message.includes('BOGUS-SUITE') && !e.message.includes('ECDHE-ECDSA'),
  );
  assert.throws(() => new TlsContext({ ...base, ciphers: '' }), { code: 'WG_TLS_BAD_CIPHER' });
});

test('bad protocol versions', () => {
  assert.throws(() => new TlsContext({ role: 'server', minVersion: 'DTLSv1.2' }), { code: 'WG_TLS_BAD_VERSION' });
  assert.throws(() => new TlsContext({ role: 'server', minVersion: 'TLSv1.3', maxVersion: 'TLSv1.2' }), { code: 'WG_TLS_BAD_VERSION' });
  assert.throws(() => new TlsContext({ role: 'server', transport: 'dtls', maxVersion: 'TLSv1.3' }), { code: 'WG_TLS_BAD_VERSION' });
});

// events.once rejects on 'error'; a reset is expected here, only the close matters.
function closed(s: net.Socket): Promise<void> {
  return new Promise((r) => s.once('close', () => r()));
}

async function rawConnect(port: number): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => undefined); // the server may reset these on purpose
  await once(s, 'connect');
  return s;
}

test('peers sending garbage, closing mid-handshake or vanishing get an error event; the server keeps serving', async () => {
  const ctx = new TlsContext({ role: 'server', cert: { file: pki.ecCert }, key: { file: pki.ecKey } });
  const errors: string[] = [];
  const srv = await startAddonServer(ctx, (s) => {
    s.on('error', (e: Error & { code?: string }) => errors.push(e.code ?? 'none'));
    s.pipe(s);
  });
  try {
    // 1. Plain HTTP instead of TLS.
    const a = await rawConnect(srv.port);
    a.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    a.resume();
    await closed(a);
    // 2. A TLS record header claiming a huge length, then random bytes.
    const b = await rawConnect(srv.port);
    b.write(Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff]), Buffer.alloc(3000, 0xaa)]));
    b.resume();
    await closed(b);
    // 3. Half a ClientHello, then the connection goes away.
    const c = await rawConnect(srv.port);
    c.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x80, 0x01, 0x00]));
    await new Promise((r) => setTimeout(r, 50));
    c.destroy();
    // 4. An established client that resets the connection.
    const dRaw = await rawConnect(srv.port);
    const d = tls.connect({ socket: dRaw, ca: fs.readFileSync(pki.caCert), servername: 'localhost' });
    d.on('error', () => undefined);
    await once(d, 'secureConnect');
    dRaw.resetAndDestroy();
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(errors.length >= 3, `errors seen: ${errors.join(',')}`);
    assert.ok(errors.every((e) => e === 'WG_TLS_HANDSHAKE' || e === 'WG_TLS_IO'), errors.join(','));
    // Still serving.
    const ok = tls.connect({ host: '127.0.0.1', port: srv.port, ca: fs.readFileSync(pki.caCert), servername: 'localhost' });
    await once(ok, 'secureConnect');
    assert.deepEqual(await echoRoundTrip(ok, Buffer.from('still here')), Buffer.from('still here'));
    ok.destroy();
  } finally {
    await srv.close();
    ctx.close();
  }
});

/** A server-side TlsSocket over an accepted loopback connection whose client never speaks. */
async function silentPeerSocket(): Promise<{ s: TlsSocket; close: () => Promise<void> }> {
  const ctx = new TlsContext({ role: 'server', cert: { file: pki.ecCert }, key: { file: pki.ecKey } });
  const server = net.createServer({ pauseOnConnect: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const raw = net.connect(port, '127.0.0.1');
  const [accepted] = (await once(server, 'connection')) as [net.Socket];
  const s = new TlsSocket(ctx, adoptSocket(accepted));
  return {
    s,
    close: async () => {
      raw.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      ctx.close();
    },
  };
}

test('writes after destroy and destroy twice are harmless', async () => {
  const { s, close } = await silentPeerSocket();
  const errs: Error[] = [];
  s.on('error', (e) => errs.push(e));
  s.destroy();
  s.destroy();
  s.write('late', (err) => assert.ok(err));
  await close();
});

/** counters() by slot, named as the stats() figures they stand for. */
function countersAsStats(a: Float64Array): Record<keyof typeof LivenessSlot, number> {
  return { idleMs: a[LivenessSlot.idleMs]!, dataFramesIn: a[LivenessSlot.dataFramesIn]!, bytesIn: a[LivenessSlot.bytesIn]!, bytesOut: a[LivenessSlot.bytesOut]!, framesIn: a[LivenessSlot.framesIn]!, framesOut: a[LivenessSlot.framesOut]!, sendCalls: a[LivenessSlot.sendCalls]!, recvCalls: a[LivenessSlot.recvCalls]!, gsoDatagrams: a[LivenessSlot.gsoDatagrams]! };
}

function statsAsCounters(s: TlsSocket): Record<keyof typeof LivenessSlot, number> {
  const st = s.stats();
  return { idleMs: st.idleMs ?? 0, dataFramesIn: st.dataFramesIn ?? 0, bytesIn: st.bytesIn, bytesOut: st.bytesOut, framesIn: st.framesIn ?? 0, framesOut: st.framesOut ?? 0, sendCalls: st.sendCalls ?? 0, recvCalls: st.recvCalls ?? 0, gsoDatagrams: st.gsoDatagrams ?? 0 };
}

test('counters() of an open connection that carried bytes each way: the stats() figures, slot by slot', async () => {
  const { client, server, srv } = await tunnelPair(pki, () => undefined);
  try {
    const got = new Promise<void>((r) => server.once('data', () => r()));
    client.write('client to server');
    await got;
    const back = new Promise<void>((r) => client.once('data', () => r()));
    server.write('server to client, longer');
    await back;
    for (const s of [client, server]) {
      const c = statsAsCounters(s);
      assert.ok(c.bytesIn > 0 && c.bytesOut > 0, JSON.stringify(c));
      assert.deepEqual(countersAsStats(s.counters()), c);
    }
  } finally {
    client.destroy();
    await srv.close();
  }
});

test('liveness() and counters(): zeros before tunnel mode, the stats() figures open and after close; the native call refuses anything but a Float64Array of LIVENESS_FIELDS', async () => {
  const { s, close } = await silentPeerSocket();
  s.on('error', () => undefined);
  try {
    assert.deepEqual(s.liveness(), { idleMs: 0, dataFramesIn: 0 });
    assert.deepEqual(countersAsStats(s.counters()), statsAsCounters(s));
    const native = nativeConnectionOf(s)!;
    for (const bad of [undefined, new Float64Array(LIVENESS_FIELDS - 1), new Float32Array(LIVENESS_FIELDS), [0, 0], 'x']) {
      assert.throws(() => native.liveness(bad as unknown as Float64Array), TypeError, `liveness(${String(bad)})`);
    }
    s.destroy();
    assert.deepEqual(s.liveness(), { idleMs: s.stats().idleMs ?? 0, dataFramesIn: s.stats().dataFramesIn ?? 0 });
    assert.deepEqual(countersAsStats(s.counters()), statsAsCounters(s));
  } finally {
    await close();
  }
});

test('a data-plane slice out of the kernel\'s range is refused before the pump takes the fd', () => {
  for (const ok of [0, MIN_PLANE_SLICE_US, 2000, MAX_PLANE_SLICE_US]) assert.equal(planeSliceProblem(ok), undefined, String(ok));
  for (const bad of [-1, 1, MIN_PLANE_SLICE_US - 1, MAX_PLANE_SLICE_US + 1, 150.5, NaN, Infinity]) {
    assert.match(planeSliceProblem(bad) ?? '', /0 \(the kernel's default\) or 100\.\.100000 µs/, String(bad));
  }
  const fd = fs.openSync(__filename, 'r');
  try {
    assert.throws(() => new TunnelPump(fd, { planeSliceUs: 50 }), (e: unknown) => isWolfguardError(e, ErrorCodes.INVALID_ARGUMENT) && /got 50/.test((e as Error).message));
    // The native constructor checks too (it is total): a RangeError, not a clamp.
    const NativePump = addon().Pump;
    assert.throws(() => new NativePump(fd, -1, -1, 0, 0), RangeError);
    assert.throws(() => new NativePump(fd, MAX_PLANE_SLICE_US + 1, -1, 0, 0), RangeError);
    assert.throws(() => new NativePump(fd, '100' as unknown as number, -1, 0, 0), TypeError);
    // The plane CPU: checked against the process's CPUs here, bounded natively.
    assert.throws(() => new TunnelPump(fd, { planeCpu: Math.max(...allowedCpus()) + 1 }), (e: unknown) => isWolfguardError(e, ErrorCodes.INVALID_ARGUMENT) && /not one this process may run on/.test((e as Error).message));
    assert.throws(() => new TunnelPump(fd, { planeCpu: 0.5 }), (e: unknown) => isWolfguardError(e, ErrorCodes.INVALID_ARGUMENT));
    assert.throws(() => new NativePump(fd, 0, -2, 0, 0), RangeError);
    assert.throws(() => new NativePump(fd, 0, 1 << 20, 0, 0), RangeError);
    assert.throws(() => new NativePump(fd, 0, undefined as unknown as number, 0, 0), TypeError);
    // When it is kept there: 'always' or 'shared' here, 0 or 1 natively.
    assert.throws(() => new TunnelPump(fd, { planeCpuKeep: 'sometimes' as unknown as 'always' }), (e: unknown) => isWolfguardError(e, ErrorCodes.INVALID_ARGUMENT) && /planeCpuKeep/.test((e as Error).message));
    assert.throws(() => new NativePump(fd, 0, -1, 2 as unknown as 0, 0), RangeError);
    assert.throws(() => new NativePump(fd, 0, -1, undefined as unknown as 0, 0), TypeError);
    // The fd's framing: 'plain' or 'uso' here, 0 or 2 natively.
    assert.throws(() => new TunnelPump(fd, { framing: 'gso' as unknown as 'uso' }), (e: unknown) => isWolfguardError(e, ErrorCodes.INVALID_ARGUMENT) && /framing/.test((e as Error).message));
    assert.throws(() => new NativePump(fd, 0, -1, 0, 3), RangeError);
    assert.throws(() => new NativePump(fd, 0, -1, 0, -1), RangeError);
    fs.fstatSync(fd); // still open: none of them took it
  } finally {
    fs.closeSync(fd);
  }
});

test('a DTLS socket gets the receive buffer asked for; a size out of range is refused before a socket exists', () => {
  for (const ok of [0, MIN_DTLS_RCVBUF_BYTES, DEFAULT_DTLS_RCVBUF_BYTES, MAX_DTLS_RCVBUF_BYTES]) assert.equal(dtlsRcvBufProblem(ok), undefined, String(ok));
  for (const bad of [-1, 1, MIN_DTLS_RCVBUF_BYTES - 1, MAX_DTLS_RCVBUF_BYTES + 1, 70_000.5, NaN]) {
    assert.throws(() => udpConnect('127.0.0.1', 0, '127.0.0.1', 9, bad), (e: unknown) => isWolfguardError(e, ErrorCodes.INVALID_ARGUMENT) && /0 \(the kernel's default\) or 65536\.\.67108864 bytes/.test((e as Error).message), String(bad));
  }
  // The native function checks too (it is total): a RangeError or TypeError, no socket left open.
  assert.throws(() => addon().udpConnect('127.0.0.1', 0, '127.0.0.1', 9, -1), RangeError);
  assert.throws(() => addon().udpConnect('127.0.0.1', 0, '127.0.0.1', 9, 2 ** 31), RangeError);
  assert.throws(() => addon().udpConnect('127.0.0.1', 0, '127.0.0.1', 9, '1' as unknown as number), TypeError);
  const kernelDefault = udpConnect('127.0.0.1', 0, '127.0.0.1', 9, 0);
  const chosen = udpConnect('127.0.0.1', 0, '127.0.0.1', 9); // DEFAULT_DTLS_RCVBUF_BYTES
  try {
    // An untouched socket has rmem_default; a set one twice what was asked
    // (the kernel's bookkeeping), capped at rmem_max without CAP_NET_ADMIN.
    const rmemMax = Number(fs.readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
    const rmemDefault = Number(fs.readFileSync('/proc/sys/net/core/rmem_default', 'utf8'));
    assert.equal(rcvBufBytes(kernelDefault), rmemDefault);
    const expected = process.getuid?.() === 0 ? 2 * DEFAULT_DTLS_RCVBUF_BYTES : 2 * Math.min(DEFAULT_DTLS_RCVBUF_BYTES, rmemMax);
    assert.equal(rcvBufBytes(chosen), expected);
  } finally {
    closeFd(kernelDefault);
    closeFd(chosen);
  }
  const file = fs.openSync(__filename, 'r');
  try {
    assert.equal(rcvBufBytes(file), null); // not a socket
    assert.equal(rcvBufBytes(-1), null);
  } finally {
    fs.closeSync(file);
  }
});

test('a pump over an fd epoll cannot watch (a regular file) throws a clear error instead of hanging', () => {
  const fd = fs.openSync(__filename, 'r'); // owned by the pump from here on, even when it throws
  assert.throws(() => new TunnelPump(fd), /(epoll_ctl|uv_poll_init)\(tun\): Operation not permitted/);
});
