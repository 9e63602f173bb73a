// The admin socket with both protocols on one Unix socket: HTTP (as
// wolfguard-ctl speaks it) and one JSON command a line (as an operator types
// into socat, and with the real socat). The admission side is the real
// GatewayAdmission with a geofilter file, so block_ip / unblock_ip /
// reload_rules change what connects. Garbage gets error lines, never a
// crash or a hang, and HTTP keeps working next to it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import fc from 'fast-check';
import { startAdminServer, type AdminContext, type AdminServer } from '../../src/main/admin/server';
import { GatewayAdmission } from '../../src/main/admission/gateway-admission';
import { MAX_JSON_LINE } from '../../src/main/admin/json-session';
import type { GatewayConfig } from '../../src/main/config/types';

/** An answer slower than this over a local socket is a hang. */
const ANSWER_TIMEOUT_MS = 3000;
const runs = Number(process.env.FUZZ_RUNS ?? 100);

let dir: string;
let sock: string;
let geoFile: string;
let adm: GatewayAdmission;
let admin: AdminServer;

function fakeContext(): AdminContext {
  const session = { id: 'ab12', user: 'alice', groups: [], state: 'connected', addresses: { ipv4: '192.168.90.2' }, shard: 0, peer: '10.0.0.1', createdAt: 0, tunnels: 1 };
  const sessions = new Map([[session.id, session]]);
  const registry = { size: sessions.size, sessions: () => sessions.values(), byId: (id: string) => sessions.get(id) };
  return {
    service: { registry, end: () => true, disconnect: () => true } as unknown as AdminContext['service'],
    pool: { shardStats: async () => [], stats: () => [{ shard: 0, live: 0, total: 0 }], restarts: () => [0], post: () => undefined } as unknown as AdminContext['pool'],
    workers: 1,
    admission: adm,
  };
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-admin-'));
  sock = path.join(dir, 'admin.sock');
  geoFile = path.join(dir, 'geofilter.conf');
  fs.writeFileSync(geoFile, 'block 203.0.113.0/24 "test range"\n');
  adm = new GatewayAdmission({ maxClients: 0, maxSameClients: 0, cookieTimeout: 300, geofilterFile: geoFile } as GatewayConfig);
  admin = await startAdminServer(sock, fakeContext());
});

after(async () => {
  await admin?.close();
  adm?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function httpRequest(method: string, p: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: sock, method, path: p, timeout: ANSWER_TIMEOUT_MS }, (res) => {
      let t = '';
      res.on('data', (d: Buffer) => (t += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(t) as unknown }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${p}: no answer`)));
    req.on('error', reject);
    req.end();
  });
}

/** Writes `input` (in the given pieces), half-closes, and collects everything until the server closes. */
function lineSession(pieces: (string | Buffer)[], halfClose = true): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(sock);
    let out = '';
    const timer = setTimeout(() => {
      c.destroy();
      reject(new Error(`no close within ${ANSWER_TIMEOUT_MS} ms; got ${JSON.stringify(out)}`));
    }, ANSWER_TIMEOUT_MS);
    c.on('data', (d: Buffer) => (out += d.toString()));
    c.on('error', reject);
    c.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    c.on('connect', () => {
      void (async () => {
        for (const p of pieces) {
          c.write(p);
          await new Promise((r) => setTimeout(r, 5));
        }
        if (halfClose) c.end();
      })();
    });
  });
}

function replies(text: string): Record<string, unknown>[] {
  assert.ok(text.endsWith('\n') || text === '', `answers end with a newline: ${JSON.stringify(text)}`);
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('HTTP still works on the socket, and GET /rules shows the geofilter', async () => {
  const s = await httpRequest('GET', '/sessions');
  assert.equal(s.status, 200);
  assert.equal((s.body as { user: string }[])[0]!.user, 'alice');
  const r = await httpRequest('GET', '/rules');
  assert.equal(r.status, 200);
  const g = (r.body as { geofilter: { file: string; prefixes: { prefix: string; description: string }[] } }).geofilter;
  assert.equal(g.file, geoFile);
  assert.deepEqual(g.prefixes.map((p) => [p.prefix, p.description]), [['203.0.113.0/24', 'test range']]);
  assert.equal((await httpRequest('GET', '/nope')).status, 404);
});

test('JSON lines: block_ip refuses the address, unblock_ip lets it in, one answer a line, ids echoed', async () => {
  const ip = '198.51.100.23';
  assert.equal(adm.checkConnect(ip).allow, true);
  const out = replies(
    await lineSession([
      `{"command":"block_ip","ip":"${ip}","reason":"brute force","id":1}\n`,
      '{"command":"show_rules","id":2}\n',
    ]),
  );
  assert.equal(out.length, 2);
  assert.deepEqual(out[0], { status: 'ok', command: 'block_ip', id: 1, ip: `${ip}/32`, until: null, reason: 'brute force' });
  const bans = (out[1] as { bans: { prefix: string; note?: string }[] }).bans;
  assert.deepEqual(bans, [{ prefix: `${ip}/32`, reason: 'manual', until: null, note: 'brute force' }]);
  assert.equal(adm.checkConnect(ip).reason, 'banned');
  const viaHttp = (await httpRequest('GET', '/bans')).body as { prefix: string; note?: string }[];
  assert.equal(viaHttp[0]!.note, 'brute force');

  const again = replies(await lineSession([`{"command":"unblock_ip","ip":"${ip}"}\n{"command":"unblock_ip","ip":"${ip}"}\n`]));
  assert.deepEqual(again[0], { status: 'ok', command: 'unblock_ip', ip: `${ip}/32` });
  assert.deepEqual(again[1], { status: 'error', command: 'unblock_ip', message: `${ip}/32 is not blocked` });
  assert.equal(adm.checkConnect(ip).allow, true);
  assert.deepEqual(adm.banNotes.size, 0);
});

test('JSON lines: timed block, bad prefix, show_users', async () => {
  const out = replies(
    await lineSession(['{"command":"block_ip","ip":"2001:db8::/48","seconds":60}\n{"command":"block_ip","ip":"10.0.0.1/8"}\n{"command":"show_users"}\n{"command":"unblock_ip","ip":"2001:db8::/48"}\n']),
  );
  assert.equal(out[0]!.status, 'ok');
  assert.ok(Date.parse(out[0]!.until as string) > Date.now() + 55_000);
  assert.equal(out[1]!.status, 'error');
  assert.match(out[1]!.message as string, /host bits set/);
  assert.deepEqual((out[2]!.users as { user: string }[]).map((u) => u.user), ['alice']);
  assert.equal(out[3]!.status, 'ok');
});

test('JSON lines: reload_rules picks up an edited geofilter; a broken file is an error line and the old rules stay', async () => {
  assert.equal(adm.checkConnect('203.0.113.5').reason, 'geo_blocked');
  fs.writeFileSync(geoFile, 'allow 203.0.113.0/28\nblock 203.0.113.0/24\nblock 2001:db8:dead::/48 "v6"\n');
  let out = replies(await lineSession(['{"command":"reload_rules"}\n']));
  assert.deepEqual(out[0], { status: 'ok', command: 'reload_rules', rules: 0, geofilter: { prefixes: 3, countries: 0, warnings: [] } });
  assert.equal(adm.checkConnect('203.0.113.5').allow, true);
  assert.equal(adm.checkConnect('203.0.113.50').reason, 'geo_blocked');
  assert.equal(adm.checkConnect('2001:db8:dead::1').reason, 'geo_blocked');

  fs.writeFileSync(geoFile, 'allow 203.0.113.0/28\nblok 203.0.113.0/24\n');
  out = replies(await lineSession(['{"command":"reload_rules"}\n']));
  assert.equal(out[0]!.status, 'error');
  assert.match(out[0]!.message as string, /geofilter\.conf:2: unknown directive .*\(at "blok"\)/);
  assert.equal(adm.checkConnect('203.0.113.50').reason, 'geo_blocked', 'old rules stay');
});

test('garbage lines get error lines, the connection keeps working, over-long lines are refused once', async () => {
  const long = `{"command":"show_users","pad":"${'x'.repeat(MAX_JSON_LINE)}"}\n`;
  const out = replies(
    await lineSession(['not json\n', '{"command":\n', '[1]\r\n', '\n', '{"command":"nope"}\n', long.slice(0, 3000), long.slice(3000), '\u0000\u00ff\n', '{"command":"show_users"}']),
  );
  assert.deepEqual(
    out.map((o) => o.status),
    ['error', 'error', 'error', 'error', 'error', 'error', 'ok'],
  );
  assert.match(out[0]!.message as string, /^not JSON/);
  assert.match(out[3]!.message as string, /unknown command "nope"/);
  assert.match(out[4]!.message as string, new RegExp(`line longer than ${MAX_JSON_LINE} bytes`));
  assert.equal(out[6]!.command, 'show_users', 'a last line without newline is answered at end of input');
});

test('a line client may stay open: answers come while it is connected', async () => {
  const c = net.connect(sock);
  try {
    await new Promise<void>((r) => c.once('connect', () => r()));
    const read = () =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no answer')), ANSWER_TIMEOUT_MS);
        c.once('data', (d: Buffer) => {
          clearTimeout(t);
          resolve(JSON.parse(d.toString()) as Record<string, unknown>);
        });
      });
    c.write('{"command":"show_users"}\n');
    assert.equal((await read()).status, 'ok');
    c.write('garbage\n');
    assert.equal((await read()).status, 'error');
  } finally {
    c.destroy();
  }
});

test('the real socat: one command a line, answers on stdout', async () => {
  const input = ['{"command":"block_ip","ip":"192.0.2.99","reason":"socat"}', 'this is not json', '{"command":"unblock_ip","ip":"192.0.2.99"}', ''].join('\n');
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = execFile('socat', ['-t', '2', '-', `UNIX-CONNECT:${sock}`], { timeout: 10_000 }, (err, out) => (err ? reject(err) : resolve(out)));
    child.stdin!.end(input);
  });
  const out = replies(stdout);
  assert.deepEqual(
    out.map((o) => [o.status, o.command]),
    [
      ['ok', 'block_ip'],
      ['error', undefined],
      ['ok', 'unblock_ip'],
    ],
  );
});

test('fuzz: random bytes on fresh connections never crash or wedge the socket', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.string({ maxLength: 80 }).map((s) => Buffer.from(s)), fc.constantFrom(Buffer.from('GET '), Buffer.from('{'), Buffer.from('\n'), Buffer.from('POST /reload HTTP/1.1\r\n\r\n'))), { maxLength: 5 }), async (pieces) => {
      const c = net.connect(sock);
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          c.destroy();
          resolve();
        }, 200);
        c.on('error', () => undefined);
        c.on('connect', () => {
          for (const p of pieces) c.write(Buffer.from(p));
          c.end();
        });
        c.on('close', () => {
          clearTimeout(t);
          resolve();
        });
        c.resume();
      });
    }),
    { numRuns: runs },
  );
  assert.equal((await httpRequest('GET', '/sessions')).status, 200);
  assert.equal(replies(await lineSession(['{"command":"show_users"}\n']))[0]!.status, 'ok');
});

test('the socket is root-only (0600) by default; with a socket group it is 0660 and owned by that group', async () => {
  assert.equal(fs.statSync(sock).mode & 0o777, 0o600);
  const grouped = path.join(dir, 'grouped.sock');
  const gid = Number(fs.readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.startsWith('nogroup:'))?.split(':')[2] ?? '65534');
  const s = await startAdminServer(grouped, { ...fakeContext(), socketGid: gid });
  try {
    const st = fs.statSync(grouped);
    assert.equal(st.mode & 0o777, 0o660);
    assert.equal(st.gid, gid);
  } finally {
    await s.close();
  }
});
