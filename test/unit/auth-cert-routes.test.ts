// The shard's HTTP face of certificate login, with a stand-in certificate per
// request and a stand-in main thread: certificate only logs in on the init
// (no form), "either" does so only with a certificate, "both" shows the form
// and sends the certificate with every round.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAuthRoutes } from '../../src/workers/auth-routes';
import type { MainRpc } from '../../src/workers/rpc';
import type { LoginReply, LoginRequest } from '../../src/workers/messages';
import type { CertMode } from '../../src/main/auth/cert-backend';
import type { CertIdentity } from '../../src/main/auth/cert-fields';

type Login = Omit<LoginRequest, 'id' | 'type' | 'shard'>;
type Res = { status: number; headers: http.IncomingHttpHeaders; body: string };

const ALICE: CertIdentity = { subject: [{ oid: '2.5.4.3', value: 'alice' }], emails: [], fingerprint: 'ab'.repeat(32) };
const INIT = '<?xml version="1.0"?><config-auth client="vpn" type="init"><version who="vpn">v9.01</version></config-auth>';
const REPLY = '<?xml version="1.0"?><config-auth client="vpn" type="auth-reply"><auth><username>alice</username><password>pw</password></auth></config-auth>';

async function withServer(mode: CertMode, withCert: boolean, f: (post: (body: string) => Promise<Res>, seen: Login[]) => Promise<void>): Promise<void> {
  const seen: Login[] = [];
  const rpc = { login: (l: Login) => (seen.push(l), Promise.resolve<LoginReply>({ ok: true, cookie: 'COOKIE', user: 'alice' })) } as unknown as MainRpc;
  const server = http.createServer(createAuthRoutes({ rpc, loginMessage: 'Please enter your username and password.', certificate: { mode, identity: () => (withCert ? ALICE : undefined) } }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const post = (body: string) =>
    new Promise<Res>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/', agent: false, headers: { 'Content-Type': 'application/xml' } }, (res) => {
        let t = '';
        res.on('data', (d: Buffer) => (t += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: t }));
      });
      req.on('error', reject);
      req.end(body);
    });
  try {
    await f(post, seen);
  } finally {
    await new Promise((r) => server.close(r));
  }
}

test('the init of each mode: a login straight away (certificate alone) or the form', async () => {
  const table: Array<[CertMode, boolean, 'login' | 'form']> = [
    ['certificate', true, 'login'],
    ['certificate', false, 'login'], // the main thread refuses it: no certificate
    ['certificate|password', true, 'login'],
    ['certificate|password', false, 'form'],
    ['certificate+password', true, 'form'],
    ['certificate+password', false, 'form'],
  ];
  for (const [mode, withCert, want] of table) {
    await withServer(mode, withCert, async (post, seen) => {
      const r = await post(INIT);
      assert.equal(r.status, 200);
      if (want === 'form') {
        assert.match(r.body, /name="username"/, `${mode} ${withCert}`);
        assert.equal(seen.length, 0);
        return;
      }
      assert.match(r.body, /type="complete"/, `${mode} ${withCert}`);
      const l: Login = { username: '', password: '', peer: '127.0.0.1' };
      if (withCert) l.cert = ALICE;
      assert.deepEqual(seen, [l]);
    });
  }
});

test('certificate only: a typed user name and password are not passed on; the certificate decides', async () => {
  await withServer('certificate', true, async (post, seen) => {
    await post(REPLY);
    assert.deepEqual(seen, [{ username: '', password: '', peer: '127.0.0.1', cert: ALICE }]);
  });
});

test('both: the answer to the form goes with the certificate, or without one when none was presented', async () => {
  for (const withCert of [true, false]) {
    await withServer('certificate+password', withCert, async (post, seen) => {
      await post(REPLY);
      const l: Login = { username: 'alice', password: 'pw', peer: '127.0.0.1' };
      if (withCert) l.cert = ALICE;
      assert.deepEqual(seen, [l]);
    });
  }
});
