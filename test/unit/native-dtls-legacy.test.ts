// Cisco's legacy DTLS through the addon: a server connection given (session
// id, master secret, suite) lets a client that "resumes" exactly that session
// finish an abbreviated DTLS 1.2 handshake, and nothing else.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { TlsContext, legacyClientSession, type DtlsSession, type LegacySessionParams } from '../../native/lib';
import { makePki, type TestPki } from '../helpers/certs';
import { startDtlsServer, dtlsConnect, nextMessage } from '../helpers/dtls-pair';
import { LEGACY_SUITES, LEGACY_WOLFSSL_CIPHERS } from '../../src/workers/dtls-legacy';
import { createDtlsLegacyContext } from '../../src/workers/dtls-legacy-context';

let pki: TestPki;
before(() => {
  pki = makePki('wg-legacy-');
});
after(() => pki.cleanup());

const HANDSHAKE_MS = 3000;

function params(cipherSuite: string): LegacySessionParams {
  return { sessionId: randomBytes(32), masterSecret: randomBytes(48), cipherSuite };
}

function clientContext(suite: string): TlsContext {
  return new TlsContext({ role: 'client', transport: 'dtls', minVersion: 'DTLSv1.2', maxVersion: 'DTLSv1.2', ciphers: suite, legacyResume: true });
}

/** Server gets `server`, client resumes `client`; resolves with both ends or the first error. */
async function pair(server: LegacySessionParams, client: LegacySessionParams, suite: string) {
  const sctx = createDtlsLegacyContext();
  const cctx = clientContext(suite);
  const serverErrors: Error[] = [];
  const srv = await startDtlsServer(
    sctx,
    (s) => {
      s.on('error', (e: Error) => serverErrors.push(e));
      s.on('message', (m: Buffer) => s.send(Buffer.concat([Buffer.from('echo:'), m])));
    },
    () => ({ legacySession: server, handshakeTimeoutMs: HANDSHAKE_MS }),
  );
  let c: DtlsSession | undefined;
  let error: Error | undefined;
  try {
    c = await dtlsConnect(cctx, srv.port, { resumeSession: legacyClientSession(client), handshakeTimeoutMs: HANDSHAKE_MS });
  } catch (e) {
    error = e as Error;
  }
  return {
    c,
    error,
    srv,
    serverErrors,
    close() {
      c?.close();
      srv.close();
      sctx.close();
      cctx.close();
    },
  };
}

for (const suite of LEGACY_WOLFSSL_CIPHERS.split(':')) {
  test(`${suite}: the client resumes the session the server was given, records flow both ways`, async () => {
    const p = params(suite);
    const r = await pair(p, p, suite);
    try {
      assert.equal(r.error, undefined, `handshake failed: ${r.error?.message}`);
      const info = r.c!.info();
      assert.equal(info?.version, 'DTLSv1.2');
      assert.equal(info?.cipher, suite);
      assert.equal(info?.resumed, true, 'abbreviated handshake');
      // In an abbreviated handshake the client's Finished comes last.
      const s = r.srv.sessions[0]!;
      if (!s.secure) await once(s, 'secure');
      assert.equal(s.info()?.resumed, true);
      const reply = nextMessage(r.c!);
      assert.equal(r.c!.send(Buffer.from([0, 1, 2, 3])), true);
      assert.deepEqual([...(await reply)], [...Buffer.from('echo:'), 0, 1, 2, 3]);
    } finally {
      r.close();
    }
  });
}

const mismatches: Array<[string, (p: LegacySessionParams) => LegacySessionParams]> = [
  ['another master secret', (p) => ({ ...p, masterSecret: randomBytes(48) })],
  ['another session id', (p) => ({ ...p, sessionId: randomBytes(32) })],
];
for (const [what, change] of mismatches) {
  test(`a client resuming with ${what} gets no DTLS session`, async () => {
    const suite = 'AES256-GCM-SHA384';
    const p = params(suite);
    const r = await pair(p, change(p), suite);
    try {
      assert.ok(r.error, 'the handshake must fail');
      assert.equal(r.c, undefined);
      assert.ok(!r.srv.sessions.some((s) => s.secure), 'no server session came up');
    } finally {
      r.close();
    }
  });
}

test('every legacy suite name maps to a wolfSSL suite the legacy context accepts', () => {
  const ctx = createDtlsLegacyContext();
  try {
    for (const s of LEGACY_SUITES) assert.doesNotThrow(() => legacyClientSession(params(s.wolfssl)), s.name);
  } finally {
    ctx.close();
  }
});

test('bad parameters are refused with a WolfguardError', () => {
  const cases: LegacySessionParams[] = [
    { sessionId: randomBytes(31), masterSecret: randomBytes(48), cipherSuite: 'AES256-GCM-SHA384' },
    { sessionId: randomBytes(32), masterSecret: randomBytes(47), cipherSuite: 'AES256-GCM-SHA384' },
    { sessionId: randomBytes(32), masterSecret: randomBytes(48), cipherSuite: 'NOT-A-SUITE' },
    { sessionId: randomBytes(32), masterSecret: randomBytes(48), cipherSuite: '' },
  ];
  for (const c of cases) assert.throws(() => legacyClientSession(c), (e: Error) => e.name === 'WolfguardError');
});
