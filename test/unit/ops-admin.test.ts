// The parts of issue 7 that need no gateway: status rates (admin/rates.ts),
// the logger's redaction of secret fields (common/log.ts), the admin
// socket's error for a missing directory, and the systemd unit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { RateWindow, tunnelTotals } from '../../src/main/admin/rates';
import { startAdminServer, type AdminContext } from '../../src/main/admin/server';
import { REDACTED_FIELDS } from '../../src/common/log';
import { ErrorCodes, isWolfguardError } from '../../src/common/errors';

test('status totals are what the tunnels carried over TLS and DTLS in every shard, not what was read from the TUN', () => {
  const ch = (bytesIn: number, bytesOut: number) => ({ bytesIn, bytesOut, framesIn: 0, framesOut: 0 });
  const shards = [
    { channels: { tls: ch(100, 10), dtls: ch(1000, 20) }, pump: { tunRxBytes: 96, tunTxBytes: 5 } },
    { channels: { tls: ch(1, 2), dtls: ch(0, 0) }, pump: { tunRxBytes: 7, tunTxBytes: 0 } },
  ];
  assert.deepEqual(tunnelTotals(shards, 3), { bytesFromClients: 1101, bytesToClients: 32, handshakes: 3 });
  assert.deepEqual(tunnelTotals([], 0), { bytesFromClients: 0, bytesToClients: 0, handshakes: 0 });
});

test('rates are measured over the oldest kept sample, not since start', () => {
  const w = new RateWindow(0);
  // 1 MB/s for the first 100 s, then nothing.
  w.add(100_000, { bytesFromClients: 100e6, bytesToClients: 50e6, handshakes: 1000 });
  w.add(105_000, { bytesFromClients: 100e6, bytesToClients: 50e6, handshakes: 1000 });
  w.add(110_000, { bytesFromClients: 100e6, bytesToClients: 50e6, handshakes: 1000 });
  const quiet = w.rates(112_000, { bytesFromClients: 100e6, bytesToClients: 50e6, handshakes: 1000 });
  assert.deepEqual(quiet, { windowSeconds: 12, bytesPerSecondFromClients: 0, bytesPerSecondToClients: 0, handshakesPerSecond: 0 }, 'a gateway gone quiet shows 0, not its lifetime average');
  const busy = w.rates(112_000, { bytesFromClients: 100e6 + 24e6, bytesToClients: 50e6 + 12e6, handshakes: 1060 });
  assert.deepEqual(busy, { windowSeconds: 12, bytesPerSecondFromClients: 2e6, bytesPerSecondToClients: 1e6, handshakesPerSecond: 5 });
});

test('before any sample the rates run since start; a counter that went back (restarted shard) gives 0, never negative', () => {
  const w = new RateWindow(1_000);
  assert.deepEqual(w.rates(11_000, { bytesFromClients: 10_000, bytesToClients: 0, handshakes: 20 }), { windowSeconds: 10, bytesPerSecondFromClients: 1000, bytesPerSecondToClients: 0, handshakesPerSecond: 2 });
  w.add(6_000, { bytesFromClients: 5_000, bytesToClients: 5_000, handshakes: 5 });
  w.add(11_000, { bytesFromClients: 9_000, bytesToClients: 9_000, handshakes: 9 });
  w.add(16_000, { bytesFromClients: 100, bytesToClients: 100, handshakes: 9 });
  const r = w.rates(16_000, { bytesFromClients: 100, bytesToClients: 100, handshakes: 9 });
  assert.equal(r.bytesPerSecondFromClients, 0);
  assert.equal(r.handshakesPerSecond, 0.4);
});

test('the logger writes [redacted] for secret fields, top-level or one level down, in JSON and in text', () => {
  const logJs = path.join(__dirname, '..', '..', 'src', 'common', 'log.js');
  const fields = Object.fromEntries(REDACTED_FIELDS.map((f, i) => [f, `SECRET-${i}`]));
  const script = `const l = require(${JSON.stringify(logJs)}).createLogger('t'); l.info({ user: 'alice', ...${JSON.stringify(fields)}, msg: { ...${JSON.stringify(fields)} } }, 'line'); l.flush?.();`;
  for (const format of ['json', 'text']) {
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, WOLFGUARD_LOG_FORMAT: format, WOLFGUARD_LOG_LEVEL: 'info' } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /alice/, `${format}: the line was written`);
    assert.match(r.stderr, /\[redacted\]/);
    assert.doesNotMatch(r.stderr, /SECRET-/, `${format}: ${r.stderr}`);
  }
});

test('an admin socket whose directory does not exist is a clear error naming the directory', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-ops-admin-'));
  try {
    const ctx = { service: {}, pool: {}, workers: 1 } as unknown as AdminContext;
    await assert.rejects(startAdminServer(path.join(dir, 'missing', 'occtl.socket'), ctx), (e: unknown) => isWolfguardError(e) && e.code === ErrorCodes.SOCKET && e.message.includes(`directory ${path.join(dir, 'missing')} does not exist`));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** src/main/service/wolfguard.service as section → key → values (a key may repeat). */
function unitFile(): Map<string, Map<string, string[]>> {
  let d = __dirname;
  while (!fs.existsSync(path.join(d, 'package.json')) && path.dirname(d) !== d) d = path.dirname(d);
  const out = new Map<string, Map<string, string[]>>();
  let section = '';
  for (const line of fs.readFileSync(path.join(d, 'src', 'main', 'service', 'wolfguard.service'), 'utf8').split('\n')) {
    const h = /^\[(\w+)\]$/.exec(line);
    if (h) out.set((section = h[1]!), new Map());
    const kv = /^(\w+)=(.*)$/.exec(line);
    if (kv && section) {
      const m = out.get(section)!;
      m.set(kv[1]!, [...(m.get(kv[1]!) ?? []), kv[2]!]);
    }
  }
  return out;
}

test('the systemd unit: runs the CLI on a config file, reloads with SIGHUP, drains within its stop timeout, makes the socket directory of the example config', () => {
  const u = unitFile();
  const svc = u.get('Service')!;
  assert.match(svc.get('ExecStart')![0]!, /\/dist\/src\/main\/cli\.js -c \S+\.conf$/);
  assert.equal(svc.get('ExecReload')![0], '/bin/kill -HUP $MAINPID');
  assert.equal(svc.get('KillSignal')![0], 'SIGTERM');
  const env = new Map(svc.get('Environment')!.map((e) => e.split('=') as [string, string]));
  const drain = Number(env.get('WOLFGUARD_DRAIN_SECONDS'));
  assert.ok(drain > 0 && Number(svc.get('TimeoutStopSec')![0]) > drain, 'systemd waits longer than the drain');
  assert.match(env.get('WOLFGUARD_METRICS') ?? '', /^127\.0\.0\.1:\d+$/, 'metrics on loopback only');
  for (const cap of ['CAP_NET_ADMIN', 'CAP_NET_BIND_SERVICE']) assert.ok(svc.get('AmbientCapabilities')![0]!.split(' ').includes(cap));
  let d = __dirname;
  while (!fs.existsSync(path.join(d, 'package.json')) && path.dirname(d) !== d) d = path.dirname(d);
  const example = fs.readFileSync(path.join(d, 'src', 'main', 'config', 'example.conf'), 'utf8');
  const socket = /^occtl-socket-file = (\S+)$/m.exec(example)![1]!;
  assert.equal(path.dirname(socket), `/run/${svc.get('RuntimeDirectory')![0]}`, 'systemd creates the directory of the admin socket');
  assert.equal(u.get('Install')!.get('WantedBy')![0], 'multi-user.target');
});
