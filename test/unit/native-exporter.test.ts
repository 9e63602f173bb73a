// RFC 5705 exporter: the addon's output equals what Node's OpenSSL computes
// for the same session, with and without context, TLS 1.2 and 1.3.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import * as fs from 'node:fs';
import { once } from 'node:events';
import { TlsContext, type TlsSocket } from '../../native/lib';
import { makePki, type TestPki } from '../helpers/certs';
import { startAddonServer } from '../helpers/tls-pair';

let pki: TestPki;
before(() => {
  pki = makePki();
});
after(() => pki.cleanup());

const CASES: Array<[string, number, Buffer | undefined]> = [
  ['EXPORTER-openconnect-psk', 32, undefined],
  ['EXPORTER-test-label', 48, Buffer.from('some context')],
  ['EXPORTER-test-label', 100, Buffer.alloc(0)],
];

for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
  test(`${version}: addon exporter == Node's exportKeyingMaterial`, async () => {
    const ctx = new TlsContext({ role: 'server', cert: { file: pki.ecCert }, key: { file: pki.ecKey }, minVersion: version, maxVersion: version });
    let server: TlsSocket | undefined;
    let serverSecure: () => void = () => undefined;
    const serverReady = new Promise<void>((r) => (serverSecure = r));
    const srv = await startAddonServer(ctx, (s) => {
      server = s;
      s.on('secure', () => serverSecure());
    });
    const client = tls.connect({ host: '127.0.0.1', port: srv.port, ca: fs.readFileSync(pki.caCert), servername: 'localhost' });
    await once(client, 'secureConnect');
    await serverReady;
    try {
      for (const [label, len, context] of CASES) {
        const ours = server!.exportKeyingMaterial(len, label, context);
        const theirs = context ? client.exportKeyingMaterial(len, label, context) : client.exportKeyingMaterial(len, label, undefined as unknown as Buffer);
        assert.equal(ours.length, len);
        assert.ok(ours.equals(theirs), `${label}/${len}/${context ? 'ctx' : 'no ctx'}`);
      }
      // Different labels give different keys.
      assert.ok(!server!.exportKeyingMaterial(32, 'EXPORTER-a').equals(server!.exportKeyingMaterial(32, 'EXPORTER-b')));
      server!.releaseSecrets();
      assert.throws(() => server!.exportKeyingMaterial(32, 'EXPORTER-a'), { code: 'WG_TLS_EXPORTER' });
    } finally {
      client.destroy();
      await srv.close();
      ctx.close();
    }
  });
}
