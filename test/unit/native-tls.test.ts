// The addon as a TLS server against real clients (Node's OpenSSL-based tls
// client in this very process, and the openssl CLI), for every suite of the
// Cisco-compatible list, with data echoed both ways.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import * as fs from 'node:fs';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { TlsContext, newTicketKey } from '../../native/lib';
import { makePki, type TestPki } from '../helpers/certs';
import { startAddonServer, echoRoundTrip, addonConnect } from '../helpers/tls-pair';

let pki: TestPki;
before(() => {
  pki = makePki();
});
after(() => pki.cleanup());

function serverCtx(kind: 'ec' | 'rsa', extra: Partial<ConstructorParameters<typeof TlsContext>[0]> = {}) {
  return new TlsContext({
    role: 'server',
    cert: { file: kind === 'ec' ? pki.ecCert : pki.rsaCert },
    key: { file: kind === 'ec' ? pki.ecKey : pki.rsaKey },
    ...extra,
  });
}

async function nodeConnect(port: number, opts: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  const c = tls.connect({ host: '127.0.0.1', port, ca: fs.readFileSync(pki.caCert), servername: 'localhost', ...opts });
  await once(c, 'secureConnect');
  return c;
}

// [wolfSSL name on the server, OpenSSL name for Node's client, version, certificate kind]
const SUITES: Array<[string, string, 'TLSv1.2' | 'TLSv1.3', 'ec' | 'rsa']> = [
  ['TLS13-AES128-GCM-SHA256', 'TLS_AES_128_GCM_SHA256', 'TLSv1.3', 'ec'],
  ['TLS13-AES256-GCM-SHA384', 'TLS_AES_256_GCM_SHA384', 'TLSv1.3', 'ec'],
  ['TLS13-CHACHA20-POLY1305-SHA256', 'TLS_CHACHA20_POLY1305_SHA256', 'TLSv1.3', 'rsa'],
  ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES128-GCM-SHA256', 'TLSv1.2', 'ec'],
  ['ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'TLSv1.2', 'ec'],
  ['ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'TLSv1.2', 'rsa'],
  ['ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384', 'TLSv1.2', 'rsa'],
  // Static-RSA suites: what Cisco's legacy DTLS resumes with, and old clients' TLS.
  ['AES128-GCM-SHA256', 'AES128-GCM-SHA256', 'TLSv1.2', 'rsa'],
  ['AES256-GCM-SHA384', 'AES256-GCM-SHA384', 'TLSv1.2', 'rsa'],
  ['AES128-SHA', 'AES128-SHA', 'TLSv1.2', 'rsa'],
  ['AES256-SHA', 'AES256-SHA', 'TLSv1.2', 'rsa'],
];

for (const [wolfName, osslName, version, kind] of SUITES) {
  test(`Node tls client negotiates ${wolfName} (${version}, ${kind} cert)`, async () => {
    const ctx = serverCtx(kind, { ciphers: wolfName, minVersion: version, maxVersion: version });
    let serverInfo: unknown;
    const srv = await startAddonServer(ctx, (s) => {
      s.on('secure', () => (serverInfo = s.info()));
      s.pipe(s);
    });
    try {
      const opts: tls.ConnectionOptions =
        version === 'TLSv1.3'
          ? { ciphers: osslName, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' }
          : { ciphers: osslName, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' };
      const c = await nodeConnect(srv.port, opts);
      assert.equal(c.getProtocol(), version);
      assert.equal(c.getCipher().name, osslName);
      const data = Buffer.from(`hello over ${wolfName}`);
      assert.deepEqual(await echoRoundTrip(c, data), data);
      // The key-exchange group: the one Node's client preferred (X25519) with ECDHE and TLS 1.3, none with static RSA.
      const ephemeral = version === 'TLSv1.3' || wolfName.startsWith('ECDHE-');
      assert.deepEqual(serverInfo, { version, cipher: wolfName, resumed: false, group: ephemeral ? 'X25519' : null });
      c.destroy();
    } finally {
      await srv.close();
      ctx.close();
    }
  });
}

test('echo of 1 byte to 1 MiB both ways, TLS 1.3 and 1.2', async () => {
  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    const ctx = serverCtx('ec', { minVersion: version, maxVersion: version });
    const srv = await startAddonServer(ctx, (s) => s.pipe(s));
    try {
      const c = await nodeConnect(srv.port);
      for (const size of [1, 2, 1000, 16384, 16385, 65537, 1 << 20]) {
        const data = Buffer.alloc(size);
        for (let i = 0; i < size; i++) data[i] = (i * 31 + size) & 0xff;
        const back = await echoRoundTrip(c, data);
        assert.equal(back.length, size, `${version} size ${size}`);
        assert.ok(back.equals(data), `${version} size ${size} content`);
      }
      c.destroy();
    } finally {
      await srv.close();
      ctx.close();
    }
  }
});

function sClientEcho(port: number, version: '-tls1_2' | '-tls1_3', line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, version, '-quiet', '-CAfile', pki.caCert, '-servername', 'localhost'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    const timer = setTimeout(() => {
      p.kill();
      reject(new Error(`s_client timed out; got: ${out}`));
    }, 10_000);
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(line)) {
        clearTimeout(timer);
        p.stdin.end();
        p.kill();
        resolve(out);
      }
    });
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.stdin.write(`${line}\n`);
  });
}

for (const version of ['-tls1_3', '-tls1_2'] as const) {
  test(`openssl s_client ${version} handshakes and gets its line echoed`, async () => {
    const ctx = serverCtx('ec');
    let info: unknown;
    const srv = await startAddonServer(ctx, (s) => {
      s.on('secure', () => (info = s.info()));
      s.pipe(s);
    });
    try {
      const out = await sClientEcho(srv.port, version, 'ping-from-s_client');
      assert.match(out, /ping-from-s_client/);
      assert.equal((info as { version: string }).version, version === '-tls1_3' ? 'TLSv1.3' : 'TLSv1.2');
    } finally {
      await srv.close();
      ctx.close();
    }
  });
}

test('client certificates: subject and SAN reach TypeScript; required means required', async () => {
  const ctx = serverCtx('ec', { ca: { file: pki.caCert }, verifyPeer: 'require' });
  const seen: string[] = [];
  const srv = await startAddonServer(ctx, (s) => {
    s.on('secure', () => {
      const [leaf] = s.peerCertificates();
      seen.push(`${leaf?.subject}|${leaf?.subjectAltName}`);
      s.end('bye');
    });
  });
  try {
    const c = await nodeConnect(srv.port, { cert: fs.readFileSync(pki.clientCert), key: fs.readFileSync(pki.clientKey) });
    c.resume();
    await once(c, 'end');
    assert.equal(seen.length, 1);
    assert.match(seen[0]!, /CN=alice/);
    assert.match(seen[0]!, /email:alice@example\.test/);
    // Without a certificate the handshake must fail.
    const bad = tls.connect({ host: '127.0.0.1', port: srv.port, ca: fs.readFileSync(pki.caCert), servername: 'localhost' });
    bad.resume();
    const [err] = (await Promise.race([once(bad, 'error'), once(bad, 'close').then(() => [undefined])])) as [Error | undefined];
    assert.ok(err !== undefined || bad.destroyed, 'handshake without client certificate must not succeed');
    assert.equal(seen.length, 1);
  } finally {
    await srv.close();
    ctx.close();
  }
});

test('TLS 1.3 resumption with tickets, also across two contexts sharing ticket keys (two shards)', async () => {
  const keys = [newTicketKey()];
  const ctxA = serverCtx('ec', { tickets: { keys } });
  const ctxB = serverCtx('ec', { tickets: { keys } });
  const infos: Array<{ resumed: boolean }> = [];
  const onSocket = (s: import('../../native/lib').TlsSocket) => {
    s.on('secure', () => infos.push(s.info()!));
    s.pipe(s);
  };
  const a = await startAddonServer(ctxA, onSocket);
  const b = await startAddonServer(ctxB, onSocket);
  try {
    const c1 = tls.connect({ host: '127.0.0.1', port: a.port, ca: fs.readFileSync(pki.caCert), servername: 'localhost' });
    // Node's client queues writes made between 'session' and 'secureConnect'
    // forever; wait for both.
    const sessionP = once(c1, 'session');
    await once(c1, 'secureConnect');
    await echoRoundTrip(c1, Buffer.from('x'));
    const [session] = (await sessionP) as [Buffer];
    c1.destroy();
    const c2 = await nodeConnect(b.port, { session });
    assert.equal(c2.isSessionReused(), true);
    await echoRoundTrip(c2, Buffer.from('y'));
    c2.destroy();
    assert.deepEqual(infos.map((i) => i.resumed), [false, true]);
  } finally {
    await a.close();
    await b.close();
    ctxA.close();
    ctxB.close();
  }
});

test('addon client to addon server, TLS 1.2 session resumption with the session handle', async () => {
  const sctx = serverCtx('ec', { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', sessionCache: { enabled: true, timeoutSec: 60 } });
  const cctx = new TlsContext({ role: 'client', ca: { file: pki.caCert }, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
  const srv = await startAddonServer(sctx, (s) => s.pipe(s));
  try {
    const c1 = await addonConnect(cctx, srv.port);
    await echoRoundTrip(c1, Buffer.from('one'));
    const session = c1.session();
    assert.ok(session);
    c1.destroy();
    const c2 = await addonConnect(cctx, srv.port, { session: session! });
    assert.equal(c2.info()?.resumed, true);
    assert.deepEqual(await echoRoundTrip(c2, Buffer.from('two')), Buffer.from('two'));
    c2.destroy();
  } finally {
    await srv.close();
    sctx.close();
    cctx.close();
  }
});

// wolfSSL's default wrote each handshake message with its own send(): five
// for a TLS 1.3 server's first flight. Grouped, a flight is one send(), so a
// full handshake costs each side at most two (TLS 1.3 server: flight, then
// the ticket; TLS 1.2: two flights each way).
for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
  test(`${version}: each handshake flight is one send() at both ends`, async () => {
    const sctx = serverCtx('ec', { minVersion: version, maxVersion: version });
    const cctx = new TlsContext({ role: 'client', ca: { file: pki.caCert }, minVersion: version, maxVersion: version });
    let server: import('../../native/lib').TlsSocket | undefined;
    const srv = await startAddonServer(sctx, (s) => {
      server = s;
      s.pipe(s);
    });
    try {
      const client = await addonConnect(cctx, srv.port);
      assert.deepEqual(await echoRoundTrip(client, Buffer.from('z')), Buffer.from('z'));
      const serverSends = server!.stats().sendCalls! - 1; // the echo
      const clientSends = client.stats().sendCalls! - 1;
      assert.ok(serverSends >= 1 && serverSends <= 2, `server: ${serverSends} send() calls in the handshake`);
      assert.ok(clientSends >= 1 && clientSends <= 2, `client: ${clientSends} send() calls in the handshake`);
      client.destroy();
    } finally {
      await srv.close();
      sctx.close();
      cctx.close();
    }
  });
}
