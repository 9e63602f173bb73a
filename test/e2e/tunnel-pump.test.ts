// The native data plane end to end in a network namespace of its own:
//
//   addon TLS client ──CSTP over TLS (loopback)──► addon TLS server
//                                                   │ tunnel mode, native
//                                                   ▼
//                                     pump ⇄ wgtun0 (TUN) ⇄ namespace kernel
//
// Pings (IPv4 and IPv6) framed as CSTP DATA go into the TUN device; the
// kernel's echo replies come back through the pump as CSTP DATA frames; DPD is
// answered natively; DISCONNECT reaches JavaScript. Needs root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';

const NS = `wgpump${process.pid}`;

test('TUN ⇄ CSTP pump: pings through the tunnel, DPD answered natively, DISCONNECT to JavaScript', { timeout: 60_000 }, () => {
  assert.equal(process.getuid?.(), 0, 'end-to-end tests need root (network namespaces, TUN)');
  execFileSync('ip', ['netns', 'add', NS]);
  try {
    execFileSync('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
    const child = path.join(__dirname, '..', 'helpers', 'pump-child.js');
    const r = spawnSync('ip', ['netns', 'exec', NS, process.execPath, child], { encoding: 'utf8', timeout: 45_000 });
    assert.equal(r.status, 0, `child failed: ${r.stderr}`);
    const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
      dpdPayload: string;
      reply4: { src: string; dst: string; data: string };
      reply6: { data: string };
      controls: Array<[number, string]>;
      pump: { tunRxPackets: number; tunTxPackets: number; routes: number };
      conn: { dpdAnswered: number; framesIn: number };
    };
    assert.equal(res.dpdPayload, 'dpd-probe-payload');
    assert.deepEqual(res.reply4, { src: '10.201.0.1', dst: '10.201.0.2', data: 'hello v4' });
    assert.equal(res.reply6.data, 'hello v6');
    assert.deepEqual(res.controls, [[5, 'b0627965']]);
    assert.ok(res.pump.tunTxPackets >= 2, 'two packets written to the TUN');
    assert.ok(res.pump.tunRxPackets >= 2, 'two replies read from the TUN');
    assert.equal(res.conn.dpdAnswered, 1);
    assert.ok(res.conn.framesIn >= 5);
  } finally {
    execFileSync('ip', ['netns', 'del', NS]);
  }
});
