// DTLS 1.2 and 1.3 between the addon's client and server over loopback UDP,
// including openconnect's PSK-NEGOTIATE shape: a DTLS 1.2 PSK-only
// handshake whose key comes from the TLS session's exporter.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TlsContext } from '../../native/lib';
import { makePki, type TestPki } from '../helpers/certs';
import { startDtlsServer, dtlsConnect, nextMessage } from '../helpers/dtls-pair';
import { startAddonServer, addonConnect } from '../helpers/tls-pair';
import { GATEWAY_DTLS_CIPHERS } from '../../src/workers/dtls-context';

let pki: TestPki;
before(() => {
  pki = makePki();
});
after(() => pki.cleanup());

const PSK_LABEL = 'EXPORTER-openconnect-psk';

for (const version of ['DTLSv1.2', 'DTLSv1.3'] as const) {
  test(`${version}: certificate handshake, datagrams both ways keep their boundaries`, async () => {
    const sctx = new TlsContext({ role: 'server', transport: 'dtls', cert: { file: pki.ecCert }, key: { file: pki.ecKey }, minVersion: version, maxVersion: version });
    const cctx = new TlsContext({ role: 'client', transport: 'dtls', ca: { file: pki.caCert }, minVersion: version, maxVersion: version });
    const srv = await startDtlsServer(sctx, (s) => s.on('message', (m: Buffer) => s.send(Buffer.concat([Buffer.from('echo:'), m]))));
    try {
      const c = await dtlsConnect(cctx, srv.port, { mtu: 1400 });
      assert.equal(c.info()?.version, version);
      for (const size of [1, 100, 1200]) {
        const payload = Buffer.alloc(size, size & 0xff);
        const reply = nextMessage(c);
        assert.equal(c.send(payload), true);
        const got = await reply;
        assert.equal(got.length, size + 5, `one record per datagram, size ${size}`);
        assert.ok(got.subarray(5).equals(payload));
      }
      assert.equal(srv.sessions[0]?.info()?.version, version);
      c.close();
    } finally {
      srv.close();
      sctx.close();
      cctx.close();
    }
  });
}

for (const version of ['DTLSv1.2', 'DTLSv1.3'] as const) {
  test(`${version} PSK-only with the key from the TLS exporter (PSK-NEGOTIATE shape)`, async () => {
    // 1. A TLS session between addon client and server; both export the PSK.
    const tlsServer = new TlsContext({ role: 'server', cert: { file: pki.ecCert }, key: { file: pki.ecKey } });
    const tlsClient = new TlsContext({ role: 'client', ca: { file: pki.caCert } });
    let gotServerKey: (k: Buffer) => void = () => undefined;
    const serverKeyP = new Promise<Buffer>((r) => (gotServerKey = r));
    const tsrv = await startAddonServer(tlsServer, (s) => s.on('secure', () => gotServerKey(s.exportKeyingMaterial(32, PSK_LABEL))));
    const tcli = await addonConnect(tlsClient, tsrv.port);
    const clientKey = tcli.exportKeyingMaterial(32, PSK_LABEL);
    const serverKey = await serverKeyP;
    assert.ok(serverKey.equals(clientKey), 'both ends export the same PSK');

    // 2. DTLS with plain PSK key exchange and identity "psk".
    const ciphers = version === 'DTLSv1.2' ? 'PSK-AES128-GCM-SHA256:PSK-AES256-GCM-SHA384' : 'TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384';
    const sctx = new TlsContext({ role: 'server', transport: 'dtls', minVersion: version, maxVersion: version, ciphers, psk: true });
    const cctx = new TlsContext({ role: 'client', transport: 'dtls', minVersion: version, maxVersion: version, ciphers, psk: true });
    const identities: string[] = [];
    const srv = await startDtlsServer(
      sctx,
      (s) => s.on('message', (m: Buffer) => s.send(m)),
      () => ({ psk: { lookup: (id) => (identities.push(id), id === 'psk' ? serverKey : undefined) } }),
    );
    try {
      const c = await dtlsConnect(cctx, srv.port, { pskClient: { identity: 'psk', key: clientKey } });
      assert.equal(c.info()?.version, version);
      if (version === 'DTLSv1.2') assert.match(c.info()?.cipher ?? '', /^PSK-AES(128|256)-GCM/);
      // DTLS 1.3 may ask twice (binder check, then key schedule); always for 'psk'.
      assert.ok(identities.length >= 1 && identities.every((i) => i === 'psk'), identities.join(','));
      const reply = nextMessage(c);
      c.send(Buffer.from('tunnel packet'));
      assert.equal((await reply).toString(), 'tunnel packet');
      c.close();

      // A client holding another key does not get in.
      const wrong = Buffer.alloc(32, 1);
      // DTLS drops records it cannot authenticate instead of alerting, so the
      // client learns it only by its handshake timeout.
      await assert.rejects(dtlsConnect(cctx, srv.port, { pskClient: { identity: 'psk', key: wrong }, handshakeTimeoutMs: 1500 }), {
        code: 'WG_TLS_HANDSHAKE',
      });
    } finally {
      srv.close();
      sctx.close();
      cctx.close();
      tcli.destroy();
      await tsrv.close();
      tlsServer.close();
      tlsClient.close();
    }
  });
}

test('DTLS server offering 1.2 and 1.3 serves a 1.2-only client and a 1.3 client', async () => {
  const sctx = new TlsContext({ role: 'server', transport: 'dtls', cert: { file: pki.ecCert }, key: { file: pki.ecKey } });
  const c12 = new TlsContext({ role: 'client', transport: 'dtls', ca: { file: pki.caCert }, maxVersion: 'DTLSv1.2' });
  const c13 = new TlsContext({ role: 'client', transport: 'dtls', ca: { file: pki.caCert } });
  const srv = await startDtlsServer(sctx, (s) => s.on('message', (m: Buffer) => s.send(m)));
  try {
    const a = await dtlsConnect(c12, srv.port);
    const b = await dtlsConnect(c13, srv.port);
    assert.equal(a.info()?.version, 'DTLSv1.2');
    assert.equal(b.info()?.version, 'DTLSv1.3');
    a.close();
    b.close();
  } finally {
    srv.close();
    sctx.close();
    c12.close();
    c13.close();
  }
});

test('the gateway DTLS context (PSK, DTLS 1.2 and 1.3): openconnect-shaped 1.2 PSK clients get 1.2, our 1.3 clients get 1.3 with the same PSK', async () => {
  const key = Buffer.alloc(32, 7);
  const sctx = new TlsContext({ role: 'server', transport: 'dtls', minVersion: 'DTLSv1.2', maxVersion: 'DTLSv1.3', ciphers: GATEWAY_DTLS_CIPHERS, psk: true });
  const c12 = new TlsContext({ role: 'client', transport: 'dtls', minVersion: 'DTLSv1.2', maxVersion: 'DTLSv1.2', ciphers: 'PSK-AES256-GCM-SHA384:PSK-AES128-GCM-SHA256', psk: true });
  const c13 = new TlsContext({ role: 'client', transport: 'dtls', minVersion: 'DTLSv1.3', maxVersion: 'DTLSv1.3', ciphers: 'TLS13-AES256-GCM-SHA384:TLS13-AES128-GCM-SHA256', psk: true });
  const srv = await startDtlsServer(
    sctx,
    (s) => s.on('message', (m: Buffer) => s.send(m)),
    () => ({ psk: { lookup: (id) => (id === 'psk' ? key : undefined) } }),
  );
  try {
    for (const [cctx, version] of [
      [c12, 'DTLSv1.2'],
      [c13, 'DTLSv1.3'],
    ] as const) {
      const c = await dtlsConnect(cctx, srv.port, { pskClient: { identity: 'psk', key } });
      assert.equal(c.info()?.version, version);
      const reply = nextMessage(c);
      c.send(Buffer.from(`over ${version}`));
      assert.equal((await reply).toString(), `over ${version}`);
      c.close();
    }
  } finally {
    srv.close();
    sctx.close();
    c12.close();
    c13.close();
  }
});
