// TLS 1.3 tickets across shards: the pool gives every shard the same ticket
// keys, so a client that reconnects to another shard still resumes; after two
// rotations its ticket is too old and it gets a full handshake.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { ShardPool } from '../../src/main/shard-pool';
import { startAcceptor } from '../../src/main/acceptor';
import { TlsContext, TlsSocket, adoptSocket, type NativeSessionHandle } from '../../native/lib';
import { makePki } from '../helpers/certs';

const REQUEST = Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');

interface Opened {
  socket: TlsSocket;
  session: NativeSessionHandle | null;
  resumed: boolean;
}

// Handshake, one request, first reply byte (the TLS 1.3 ticket precedes it); the socket stays open.
function open(ctx: TlsContext, port: number, session?: NativeSessionHandle): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const raw = net.connect(port, '127.0.0.1');
    raw.once('error', reject);
    raw.once('connect', () => {
      const s = new TlsSocket(ctx, adoptSocket(raw), session ? { session } : {});
      s.once('error', reject);
      s.once('secure', () => s.write(REQUEST));
      s.once('data', () => resolve({ socket: s, session: s.session(), resumed: s.info()?.resumed ?? false }));
    });
  });
}

test('a ticket issued by one shard resumes on the other, and stops resuming two key rotations later', { timeout: 30_000 }, async () => {
  const pki = makePki();
  const pool = new ShardPool({ workers: 2, certFile: pki.ecCert, keyFile: pki.ecKey, ticketKeyRotateMs: 0 });
  const ctx = new TlsContext({ role: 'client', tickets: true });
  const held: TlsSocket[] = [];
  try {
    await pool.ready();
    const acc = await startAcceptor(pool, '127.0.0.1', 0);
    // Least-loaded dispatch: while the first stays open, the second lands on the other shard.
    const first = await open(ctx, acc.port);
    held.push(first.socket);
    assert.equal(first.resumed, false);
    assert.ok(first.session, 'the first shard sent a ticket');
    const cases: { rotations: number; resumed: boolean }[] = [
      { rotations: 0, resumed: true },
      { rotations: 1, resumed: true }, // the previous key still decrypts
      { rotations: 1, resumed: false }, // two rotations: the issuing key is gone
    ];
    for (const c of cases) {
      for (let i = 0; i < c.rotations; i++) pool.rotateTicketKeys();
      const before = pool.stats().map((s) => s.total);
      const next = await open(ctx, acc.port, first.session!);
      held.push(next.socket);
      const landed = pool.stats().map((s, i) => s.total - before[i]!);
      assert.equal(next.resumed, c.resumed, `after ${c.rotations} more rotation(s)`);
      if (c.rotations === 0) assert.deepEqual(landed, [0, 1], 'resumed on the shard that did not issue the ticket');
    }
    for (const s of held.splice(0)) s.destroy();
    await acc.close();
  } finally {
    for (const s of held) s.destroy();
    await pool.close();
    ctx.close();
    pki.cleanup();
  }
});
