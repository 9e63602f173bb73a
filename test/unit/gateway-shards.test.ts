// The thread shape of design.md: the main thread accepts and posts raw fds;
// shards (worker_threads) adopt them in native code, run the TLS handshake
// with their own wolfSSL context and Node's http.Server over it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as tls from 'node:tls';
import { once } from 'node:events';
import { ShardPool } from '../../src/main/shard-pool';
import { startAcceptor } from '../../src/main/acceptor';
import { makePki } from '../helpers/certs';

async function getOverTls(sock: tls.TLSSocket, path: string): Promise<string> {
  sock.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
  let text = '';
  while (!text.includes('\r\n\r\n')) {
    const [d] = (await once(sock, 'data')) as [Buffer];
    text += d.toString();
  }
  return text.split('\r\n')[0]!;
}

test('connections are spread over 2 shards by least-loaded choice and released when they close', { timeout: 30_000 }, async () => {
  const pki = makePki();
  const pool = new ShardPool({ workers: 2, certFile: pki.ecCert, keyFile: pki.ecKey });
  try {
    await pool.ready();
    const acc = await startAcceptor(pool, '127.0.0.1', 0);
    const clients: tls.TLSSocket[] = [];
    for (let i = 0; i < 10; i++) {
      const c = tls.connect({ host: '127.0.0.1', port: acc.port, ca: fs.readFileSync(pki.caCert), servername: 'localhost' });
      await once(c, 'secureConnect');
      assert.equal(await getOverTls(c, '/no-such-page'), 'HTTP/1.1 404 Not Found');
      clients.push(c);
    }
    assert.deepEqual(
      pool.stats().map((s) => [s.live, s.total]),
      [
        [5, 5],
        [5, 5],
      ],
    );
    for (const c of clients) c.destroy();
    for (let i = 0; i < 100 && pool.stats().some((s) => s.live > 0); i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(pool.stats().map((s) => s.live), [0, 0]);
    // Garbage HTTP over TLS: a 400 for that client, the shard keeps serving.
    const bad = tls.connect({ host: '127.0.0.1', port: acc.port, ca: fs.readFileSync(pki.caCert), servername: 'localhost' });
    await once(bad, 'secureConnect');
    bad.write('\x00\x01 not http at all\r\n\r\n');
    const [reply] = (await once(bad, 'data')) as [Buffer];
    assert.match(reply.toString(), /^HTTP\/1.1 400/);
    bad.destroy();
    const ok = tls.connect({ host: '127.0.0.1', port: acc.port, ca: fs.readFileSync(pki.caCert), servername: 'localhost' });
    await once(ok, 'secureConnect');
    assert.equal(await getOverTls(ok, '/'), 'HTTP/1.1 404 Not Found');
    ok.destroy();
    await acc.close();
  } finally {
    await pool.close();
    pki.cleanup();
  }
});
