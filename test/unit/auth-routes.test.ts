// The shard's HTTP face of a login over a plain HTTP server and a stand-in
// for the main thread: the group list (default first, the chosen group
// first), a further round under the context the main thread chose, the
// answer of that round carrying the context back, and 401 + close on failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAuthRoutes } from '../../src/workers/auth-routes';
import type { MainRpc } from '../../src/workers/rpc';
import type { LoginReply, LoginRequest } from '../../src/workers/messages';

type Login = Omit<LoginRequest, 'id' | 'type' | 'shard'>;

async function withServer(answer: (l: Login) => LoginReply, f: (post: (body: string, cookie?: string) => Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>, seen: Login[]) => Promise<void>): Promise<void> {
  const seen: Login[] = [];
  const rpc = { login: (l: Login) => (seen.push(l), Promise.resolve(answer(l))) } as unknown as MainRpc;
  const server = http.createServer(createAuthRoutes({ rpc, loginMessage: 'Please enter your username and password.', groups: [{ value: 'eng', label: 'Engineering' }, { value: 'ops', label: 'ops' }], defaultGroup: 'DEFAULT' }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const post = (body: string, cookie?: string) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/', agent: false, headers: { 'Content-Type': 'application/xml', ...(cookie ? { Cookie: cookie } : {}) } }, (res) => {
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

const INIT = '<?xml version="1.0"?><config-auth client="vpn" type="init"><version who="vpn">v9.01</version><group-select>ops</group-select></config-auth>';
const reply = (auth: string, group?: string) => `<?xml version="1.0"?><config-auth client="vpn" type="auth-reply"><auth>${auth}</auth>${group ? `<group-select>${group}</group-select>` : ''}</config-auth>`;

test('the group list: the chosen group, then the default, then the rest', async () => {
  await withServer(
    () => ({ ok: false, reason: 'x' }),
    async (post) => {
      const r = await post(INIT);
      assert.equal(r.status, 200);
      const options = [...r.body.matchAll(/<option value="([^"]+)">([^<]+)<\/option>/g)].map((m) => `${m[1]}=${m[2]}`);
      assert.deepEqual(options, ['ops=ops', 'DEFAULT=DEFAULT', 'eng=Engineering']);
      assert.match(r.body, /<select name="group_list" label="Group:">/);
    },
  );
});

test('a further round: the context the main thread chose goes out as webvpncontext and comes back with the answer', async () => {
  await withServer(
    (l) => (l.secondaryPassword === undefined ? { ok: false, reason: 'more', next: { context: 'CTX123', message: 'Please enter your OTP password.', fields: [{ type: 'password', name: 'secondary_password', label: 'Password1:' }] } } : { ok: true, cookie: 'COOKIE', user: 'alice' }),
    async (post, seen) => {
      const r1 = await post(reply('<username>alice</username><password>pw</password>', 'eng'));
      assert.equal(r1.status, 200);
      assert.match(String(r1.headers['set-cookie']), /webvpncontext=CTX123; Max-Age=\d+; Secure; HttpOnly/);
      assert.match(r1.body, /<message>Please enter your OTP password.<\/message>/);
      assert.match(r1.body, /<input type="password" name="secondary_password" label="Password1:" \/>/);
      assert.deepEqual(seen[0], { username: 'alice', password: 'pw', peer: '127.0.0.1', group: 'eng' });
      const r2 = await post(reply('<secondary_password>123456</secondary_password>'), 'webvpncontext=CTX123');
      assert.equal(r2.status, 200);
      assert.match(r2.body, /type="complete"/);
      assert.match(String(r2.headers['set-cookie']), /webvpn=COOKIE/);
      assert.deepEqual(seen[1], { username: '', password: '', peer: '127.0.0.1', context: 'CTX123', secondaryPassword: '123456' });
    },
  );
});

test('an answer of a further round without its context is a fresh login form; a refusal is 401 and close', async () => {
  await withServer(
    () => ({ ok: false, reason: 'wrong OTP code' }),
    async (post, seen) => {
      const r = await post(reply('<secondary_password>123456</secondary_password>'));
      assert.equal(r.status, 200);
      assert.match(r.body, /name="username"/);
      assert.equal(seen.length, 0);
      const f = await post(reply('<secondary_password>123456</secondary_password>'), 'webvpncontext=CTX');
      assert.equal(f.status, 401);
      assert.equal(f.headers.connection, 'close');
      assert.equal(f.body, '');
    },
  );
});
