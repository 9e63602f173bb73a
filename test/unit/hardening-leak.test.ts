// A closed TLS connection must become garbage: the native side holds the
// socket's event callback strongly, so anything the callback reaches that
// reaches the native connection back keeps both forever (found by the flood
// e2e test: ~35 KB per handshake, unbounded under a handshake flood).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as tls from 'node:tls';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { once } from 'node:events';
import { TlsContext, TlsSocket, adoptSocket } from '../../native/lib';
import { makePki } from '../helpers/certs';

const CONNECTIONS = 200;
/** Some may still be in flight of collection; a leak keeps every one. */
const MIN_COLLECTED = CONNECTIONS * 0.75;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

test(`${CONNECTIONS} closed TlsSockets are collected`, { timeout: 60_000 }, async () => {
  const pki = makePki('wg-leak-pki-');
  let collected = 0;
  let closed = 0;
  const registry = new FinalizationRegistry(() => collected++);
  const ctx = new TlsContext({ role: 'server', cert: { file: pki.ecCert }, key: { file: pki.ecKey } });
  const server = net.createServer({ pauseOnConnect: true }, (raw) => {
    const s = new TlsSocket(ctx, adoptSocket(raw), { handshakeTimeoutMs: 5000 });
    registry.register(s, 0);
    s.on('error', () => s.destroy());
    s.on('close', () => closed++);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  try {
    for (let i = 0; i < CONNECTIONS; i++) {
      await new Promise<void>((resolve) => {
        const c = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => {
          c.destroy();
          resolve();
        });
        c.on('error', () => resolve());
      });
    }
    for (let i = 0; i < 50 && (closed < CONNECTIONS || collected < MIN_COLLECTED); i++) {
      gc();
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(closed, CONNECTIONS);
    assert.ok(collected >= MIN_COLLECTED, `only ${collected} of ${CONNECTIONS} closed sockets were collected`);
  } finally {
    server.close();
    pki.cleanup();
  }
});
