// TlsSocket as a Node Duplex: backpressure both ways, and Node's own
// http.Server running over it (how the gateway will parse HTTP: llhttp, not
// a hand-written parser), CONNECT included.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as tls from 'node:tls';
import { once } from 'node:events';
import { TlsContext, type TlsSocket } from '../../native/lib';
import { makePki, type TestPki } from '../helpers/certs';
import { startAddonServer } from '../helpers/tls-pair';

let pki: TestPki;
before(() => {
  pki = makePki();
});
after(() => pki.cleanup());

const MiB = 1 << 20;

test('write backpressure: a client that does not read makes write() return false; all bytes arrive in order once it reads', async () => {
  const ctx = new TlsContext({ role: 'server', cert: { file: pki.ecCert }, key: { file: pki.ecKey } });
  const total = 16 * MiB;
  let sawBackpressure = false;
  let serverSock: TlsSocket | undefined;
  const srv = await startAddonServer(ctx, (s) => {
    serverSock = s;
    s.on('secure', async () => {
      const chunk = Buffer.alloc(64 * 1024);
      for (let off = 0; off < total; off += chunk.length) {
        for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32BE(((off + i) / 4) >>> 0, i);
        if (!s.write(Buffer.from(chunk))) {
          sawBackpressure = true;
          await once(s, 'drain');
        }
      }
      s.end();
    });
  });
  try {
    const c = tls.connect({ host: '127.0.0.1', port: srv.port, ca: fs.readFileSync(pki.caCert), servername: 'localhost' });
    c.pause();
    await once(c, 'secureConnect');
    await new Promise((r) => setTimeout(r, 200)); // let the kernel buffers fill
    assert.ok((serverSock?.stats().queuedOut ?? 0) > 0 || sawBackpressure, 'server saw backpressure while the client did not read');
    let got = 0;
    let bad = -1;
    c.on('data', (d: Buffer) => {
      for (let i = 0; i + 4 <= d.length && bad < 0; i += 4) {
        if (d.readUInt32BE(i) !== (got + i) / 4) bad = got + i;
      }
      got += d.length;
    });
    c.resume();
    await once(c, 'end');
    assert.equal(bad, -1, 'bytes arrive in order');
    assert.equal(got, total);
    assert.ok(sawBackpressure, 'write() returned false at least once');
  } finally {
    await srv.close();
    ctx.close();
  }
});

test('read backpressure: a server that stops reading stops pulling; nothing is lost when it resumes', async () => {
  const ctx = new TlsContext({ role: 'server', cert: { file: pki.ecCert }, key: { file: pki.ecKey } });
  const total = 8 * MiB;
  let received = 0;
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((r) => (resolveDone = r));
  const srv = await startAddonServer(ctx, (s) => {
    s.pause();
    setTimeout(() => {
      s.on('data', (d: Buffer) => {
        received += d.length;
        if (received >= total) resolveDone();
      });
      s.resume();
    }, 300);
  });
  try {
    const c = tls.connect({ host: '127.0.0.1', port: srv.port, ca: fs.readFileSync(pki.caCert), servername: 'localhost' });
    await once(c, 'secureConnect');
    let clientBlocked = false;
    for (let sent = 0; sent < total; sent += MiB) {
      if (!c.write(Buffer.alloc(MiB, 0x5a))) clientBlocked = true;
    }
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(received, 0, 'a paused server delivers nothing');
    assert.ok(clientBlocked, "the client's writes backed up while the server did not read");
    await done;
    assert.equal(received, total);
    c.destroy();
  } finally {
    await srv.close();
    ctx.close();
  }
});

test("Node's http.Server over TlsSocket: POST with keep-alive, then CONNECT with raw bytes after", async () => {
  const ctx = new TlsContext({ role: 'server', cert: { file: pki.ecCert }, key: { file: pki.ecKey } });
  const hs = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      res.setHeader('Content-Type', 'text/xml');
      res.end(`${req.method} ${req.url} ${body}`);
    });
  });
  hs.on('connect', (_req: http.IncomingMessage, sock: import('node:stream').Duplex) => {
    sock.write('HTTP/1.1 200 CONNECTED\r\nX-CSTP-MTU: 1400\r\n\r\n');
    sock.on('data', (d: Buffer) => sock.write(d));
  });
  const srv = await startAddonServer(ctx, (s) => hs.emit('connection', s));
  try {
    const ca = fs.readFileSync(pki.caCert);
    const agent = new https.Agent({ keepAlive: true, ca, servername: 'localhost' });
    for (const body of ['<config-auth/>', 'second request, same connection']) {
      const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = https.request({ host: '127.0.0.1', port: srv.port, method: 'POST', path: '/', agent }, (r) => {
          let b = '';
          r.on('data', (d: Buffer) => (b += d.toString()));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, body: b }));
        });
        req.on('error', reject);
        req.end(body);
      });
      assert.deepEqual(res, { status: 200, body: `POST / ${body}` });
    }
    assert.equal(srv.sockets.length, 1, 'keep-alive reused one TLS connection');
    agent.destroy();
    const req = https.request({ host: '127.0.0.1', port: srv.port, method: 'CONNECT', path: '/CSCOSSLC/tunnel', ca, servername: 'localhost' });
    req.end();
    const [res, sock] = (await once(req, 'connect')) as [http.IncomingMessage, import('node:net').Socket];
    assert.equal(res.statusCode, 200);
    assert.equal(res.statusMessage, 'CONNECTED');
    const frame = Buffer.from([0x53, 0x54, 0x46, 0x01, 0x00, 0x00, 0x03, 0x00]);
    sock.write(frame);
    const [echo] = (await once(sock, 'data')) as [Buffer];
    assert.ok(echo.equals(frame));
    sock.destroy();
  } finally {
    await srv.close();
    ctx.close();
  }
});
