// The TLS side of certificate login, on the addon over loopback: a server
// context as the shard builds it (ca-cert, crl, verifyPeer 'optional') lets a
// client without a certificate in, hands over the verified certificate of
// one that has it, and fails the handshake of a certificate from another CA,
// an expired one and a revoked one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TlsContext, newTicketKey, type TlsSocket } from '../../native/lib';
import { makePki, clientCa, otherClientCa, type ClientCert, type TestPki } from '../helpers/certs';
import { startAddonServer, addonConnect, echoRoundTrip, type AddonServer } from '../helpers/tls-pair';
import { certificateOf } from '../../src/workers/auth-routes';
import { certUser } from '../../src/main/auth/cert-backend';
import { OID_CN } from '../../src/main/auth/cert-fields';

let pki: TestPki;
let server: AddonServer;
const accepted: TlsSocket[] = [];
const certs = new Map<string, ClientCert>();

before(async () => {
  pki = makePki('wg-certtls-');
  const ca = clientCa(pki);
  certs.set('good', ca.issue('alice', '/CN=alice/OU=eng', { san: 'email:alice@example.test' }));
  certs.set('expired', ca.issue('old', '/CN=old', { expired: true }));
  certs.set('revoked', ca.issue('gone', '/CN=gone'));
  ca.revoke(certs.get('revoked')!);
  certs.set('other', otherClientCa(pki).issue('mallory', '/CN=alice'));
  const ctx = new TlsContext({ role: 'server', cert: { file: pki.ecCert }, key: { file: pki.ecKey }, ca: { file: pki.caCert }, crl: { file: ca.crl() }, verifyPeer: 'optional' });
  server = await startAddonServer(ctx, (s) => accepted.push(s));
});

after(async () => {
  await server?.close();
  pki?.cleanup();
});

function clientCtx(c?: ClientCert): TlsContext {
  const o: ConstructorParameters<typeof TlsContext>[0] = { role: 'client', ca: { file: pki.caCert } };
  if (c) {
    o.cert = { file: c.cert };
    o.key = { file: c.key };
  }
  return new TlsContext(o);
}

/** The server's socket of the newest connection, once its handshake is over. */
async function serverSide(): Promise<TlsSocket> {
  const s = accepted[accepted.length - 1]!;
  if (s.peerCertificates().length === 0) await new Promise((r) => setTimeout(r, 20));
  return s;
}

test('a certificate from ca-cert: the handshake completes and the shard reads the verified leaf', async () => {
  const c = await addonConnect(clientCtx(certs.get('good')), server.port);
  try {
    c.write('x');
    const s = await serverSide();
    const id = certificateOf(s);
    assert.ok(id);
    assert.equal(certUser(id, { userOid: OID_CN }), 'alice');
    assert.deepEqual(id.emails, ['alice@example.test']);
    assert.equal(certificateOf(s), id, 'parsed once per connection');
  } finally {
    c.destroy();
  }
});

test('no certificate: the handshake still completes (password users), and there is no identity', async () => {
  const c = await addonConnect(clientCtx(), server.port);
  try {
    const s = await serverSide();
    assert.equal(certificateOf(s), undefined);
  } finally {
    c.destroy();
  }
});

for (const name of ['other', 'expired', 'revoked']) {
  test(`a certificate ${name === 'other' ? 'from another CA (same CA name)' : name} fails the handshake`, async () => {
    await assert.rejects(async () => {
      const c = await addonConnect(clientCtx(certs.get(name)), server.port);
      // TLS 1.3: the client may finish before the server's verdict arrives; the alert then ends the connection.
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => {
          c.destroy();
          resolve();
        }, 1000);
        c.once('error', (e) => {
          clearTimeout(t);
          reject(e);
        });
        c.once('close', () => {
          clearTimeout(t);
          reject(new Error('closed by the server'));
        });
        c.resume();
        c.write('hello');
      });
    });
    const s = accepted[accepted.length - 1]!;
    assert.equal(certificateOf(s), undefined);
  });
}

test('control: without the CRL the revoked certificate is accepted, so the CRL is what refuses it', async () => {
  const ctx = new TlsContext({ role: 'server', cert: { file: pki.ecCert }, key: { file: pki.ecKey }, ca: { file: pki.caCert }, verifyPeer: 'optional' });
  const seen: TlsSocket[] = [];
  const plain = await startAddonServer(ctx, (s) => seen.push(s));
  try {
    const c = await addonConnect(clientCtx(certs.get('revoked')), plain.port);
    c.write('x');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(certificateOf(seen[0]!)?.subject[0]?.value, 'gone');
    c.destroy();
  } finally {
    await plain.close();
  }
});

test('reloadCrl: a certificate revoked after start is refused once the new CRL is loaded', async () => {
  const ca = clientCa(pki);
  const late = ca.issue('late', '/CN=late');
  const ctx = new TlsContext({ role: 'server', cert: { file: pki.ecCert }, key: { file: pki.ecKey }, ca: { file: pki.caCert }, crl: { file: ca.crl() }, verifyPeer: 'optional' });
  const seen: TlsSocket[] = [];
  const srv = await startAddonServer(ctx, (s) => seen.push(s));
  const attempt = async (): Promise<'ok' | 'refused'> => {
    const serverErr = new Promise<'refused'>((resolve) => {
      const wait = setInterval(() => {
        const s = seen[seen.length - 1];
        if (!s) return;
        clearInterval(wait);
        s.once('error', () => resolve('refused'));
        s.once('close', () => resolve('refused'));
      }, 5);
    });
    const c = await addonConnect(clientCtx(late), srv.port).catch(() => undefined);
    if (!c) return 'refused';
    c.resume();
    c.write('x');
    const r = await Promise.race([serverErr, new Promise<'ok'>((r) => setTimeout(() => r('ok'), 300))]);
    const chain = seen[seen.length - 1]!.peerCertificates().length;
    c.destroy();
    return r === 'ok' && chain === 1 ? 'ok' : 'refused';
  };
  try {
    assert.equal(await attempt(), 'ok');
    ca.revoke(late);
    ctx.reloadCrl({ file: ca.crl() });
    assert.equal(await attempt(), 'refused');
    const other = ca.issue('fresh', '/CN=fresh');
    const c = await addonConnect(clientCtx(other), srv.port);
    c.resume();
    c.write('x');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(certificateOf(seen[seen.length - 1]!)?.subject[0]?.value, 'fresh', 'certificates not on the CRL still pass');
    c.destroy();
  } finally {
    await srv.close();
  }
});

/**
 * Two connections from one client context over a server with shard-shared
 * ticket keys: what the server saw on the second (resumed? certificate?).
 */
async function reconnect(version: 'TLSv1.3' | 'TLSv1.2', cert?: ClientCert): Promise<{ resumed: boolean; certs: number }> {
  const sctx = new TlsContext({ role: 'server', cert: { file: pki.ecCert }, key: { file: pki.ecKey }, ca: { file: pki.caCert }, verifyPeer: 'optional', tickets: { keys: [newTicketKey()] }, maxVersion: version });
  const seen: Array<{ resumed: boolean; certs: number }> = [];
  const srv = await startAddonServer(sctx, (s) => {
    s.once('secure', () => seen.push({ resumed: s.info()?.resumed ?? false, certs: s.peerCertificates().length }));
    s.pipe(s);
  });
  const cctx = new TlsContext({ role: 'client', ca: { file: pki.caCert }, maxVersion: version, ...(cert ? { cert: { file: cert.cert }, key: { file: cert.key } } : {}) });
  try {
    const first = await addonConnect(cctx, srv.port);
    // TLS 1.3 tickets come after the handshake: one echo makes sure the client has read them.
    await echoRoundTrip(first, Buffer.from('1'));
    const session = first.session();
    first.destroy();
    assert.ok(session, 'the first connection left a session to resume');
    const second = await addonConnect(cctx, srv.port, { session });
    await echoRoundTrip(second, Buffer.from('2'));
    second.destroy();
    assert.equal(seen.length, 2);
    assert.deepEqual(seen[0], { resumed: false, certs: cert ? 1 : 0 });
    return seen[1]!;
  } finally {
    await srv.close();
    sctx.close();
    cctx.close();
  }
}

test('resumption never yields a connection without the certificate it logged in with: TLS 1.3 certificate clients get a full handshake, others resume', async () => {
  // A TLS 1.3 ticket does not carry the client's certificate: resuming would hand a certificate login a connection without one.
  assert.deepEqual(await reconnect('TLSv1.3', certs.get('good')), { resumed: false, certs: 1 });
  // Password users keep TLS 1.3 resumption.
  assert.deepEqual(await reconnect('TLSv1.3'), { resumed: true, certs: 0 });
  // TLS 1.2 resumption keeps the certificate, so it stays.
  assert.deepEqual(await reconnect('TLSv1.2', certs.get('good')), { resumed: true, certs: 1 });
});

test('ticket keys: a key name of all 0xff (the never-resume marker) is refused', () => {
  const key = newTicketKey();
  key.fill(0xff, 0, 16);
  assert.throws(() => new TlsContext({ role: 'server', cert: { file: pki.ecCert }, key: { file: pki.ecKey }, tickets: { keys: [key] } }), /must not be all 0xff/);
});
