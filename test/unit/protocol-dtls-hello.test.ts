// The session_id of a DTLS ClientHello, from a real one (made by the addon's
// DTLS client) and from hand-built and random bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import { clientHelloPskIdentity, clientHelloSessionId, SESSION_ID_LENGTH_OFFSET } from '../../src/protocol/dtls-hello';
import { DtlsSession, TlsContext, udpConnect } from '../../native/lib';

function hello(id: Buffer, version = [0xfe, 0xfd]): Buffer {
  const b = Buffer.alloc(SESSION_ID_LENGTH_OFFSET + 1 + id.length + 10);
  b[0] = 22;
  b[1] = version[0]!;
  b[2] = version[1]!;
  b[13] = 1;
  b[SESSION_ID_LENGTH_OFFSET] = id.length;
  id.copy(b, SESSION_ID_LENGTH_OFFSET + 1);
  return b;
}

test('reads the session id of DTLS 1.0/1.2 and Cisco 0.9 ClientHellos', () => {
  const id = Buffer.alloc(32, 0xab);
  assert.deepEqual(clientHelloSessionId(hello(id)), id);
  assert.deepEqual(clientHelloSessionId(hello(id, [0xfe, 0xff])), id);
  assert.deepEqual(clientHelloSessionId(hello(id, [0x01, 0x00])), id);
  assert.deepEqual(clientHelloSessionId(hello(Buffer.from([1, 2, 3]))), Buffer.from([1, 2, 3]));
});

test('anything else is not a ClientHello with a session id', () => {
  const id = Buffer.alloc(32, 1);
  const bad = (mut: (b: Buffer) => void) => {
    const b = hello(id);
    mut(b);
    return clientHelloSessionId(b);
  };
  assert.equal(bad((b) => (b[0] = 23)), undefined, 'application data');
  assert.equal(bad((b) => (b[1] = 3)), undefined, 'TLS, not DTLS');
  assert.equal(bad((b) => (b[4] = 1)), undefined, 'epoch 1');
  assert.equal(bad((b) => (b[13] = 2)), undefined, 'ServerHello');
  assert.equal(bad((b) => (b[SESSION_ID_LENGTH_OFFSET] = 0)), undefined, 'empty id');
  assert.equal(bad((b) => (b[SESSION_ID_LENGTH_OFFSET] = 33)), undefined, 'too long');
  assert.equal(clientHelloSessionId(hello(id).subarray(0, SESSION_ID_LENGTH_OFFSET + 10)), undefined, 'truncated');
  assert.equal(clientHelloSessionId(Buffer.alloc(0)), undefined);
});

test('random datagrams never throw', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (d) => {
      const r = clientHelloSessionId(d);
      assert.ok(r === undefined || (r.length >= 1 && r.length <= 32));
    }),
  );
});

/** The first datagram a real DTLS 1.3 PSK client (the addon's) sends, with `identity`. */
async function realDtls13Hello(identity: string): Promise<Buffer> {
  const l = dgram.createSocket('udp4');
  l.bind(0, '127.0.0.1');
  await once(l, 'listening');
  const got = once(l, 'message') as Promise<[Buffer]>;
  const ctx = new TlsContext({ role: 'client', transport: 'dtls', minVersion: 'DTLSv1.3', maxVersion: 'DTLSv1.3', ciphers: 'TLS13-AES256-GCM-SHA384', psk: true });
  const s = new DtlsSession(ctx, udpConnect('127.0.0.1', 0, '127.0.0.1', l.address().port), { pskClient: { identity, key: Buffer.alloc(32, 3) } });
  s.on('error', () => undefined);
  try {
    return (await got)[0];
  } finally {
    s.close();
    ctx.close();
    l.close();
  }
}

test('reads the PSK identity of a real DTLS 1.3 ClientHello (how our 1.3 clients name their session)', async () => {
  const appId = 'ab'.repeat(32);
  const h = await realDtls13Hello(appId);
  assert.equal(clientHelloPskIdentity(h)?.toString(), appId);
  // Every truncation is refused or still right, never a throw.
  for (let n = 0; n < h.length; n++) {
    const r = clientHelloPskIdentity(h.subarray(0, n));
    assert.ok(r === undefined || r.toString() === appId);
  }
  assert.equal(clientHelloPskIdentity(hello(Buffer.alloc(32, 1))), undefined, 'a 1.2 hello without the extension');
});

test('random datagrams never make the PSK identity reader throw', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (d) => {
      const r = clientHelloPskIdentity(d);
      assert.ok(r === undefined || (r.length >= 1 && r.length <= 255));
    }),
  );
});
