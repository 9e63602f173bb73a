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
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { kernelHasCustomSlices } from '../helpers/thread-stats';
import { allowedCpus } from '../../native/lib';

/**
 * Runs test/helpers/<childFile> in a namespace of its own (lo up, removed
 * after) and returns the last line it printed, parsed.
 */
function runInNamespace<T>(ns: string, childFile: string, env: NodeJS.ProcessEnv, prefix: readonly string[] = []): T {
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const child = path.join(__dirname, '..', 'helpers', childFile);
    const r = spawnSync('ip', ['netns', 'exec', ns, ...prefix, process.execPath, child], { encoding: 'utf8', timeout: 45_000, env });
    assert.equal(r.status, 0, `child failed: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as T;
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
}

interface PumpResult {
  dpdPayload: string;
  reply4: { src: string; dst: string; data: string };
  reply6: { data: string };
  controls: Array<[number, string]>;
  spaced: { pings: number; early: number; replies: number };
  burst: { pings: number; early: number; read: number; replies: number };
  pump: { tunRxPackets: number; tunTxPackets: number; routes: number; planeSliceUs: number; planeCpu: number };
  conn: { dpdAnswered: number; framesIn: number };
  threads: string[];
  planeSchedSliceNs: Array<string | null>;
  planePolicy: number[];
  planeCpusAllowed: number[][];
}

for (const dataThread of [true, false]) {
  test(`TUN ⇄ CSTP pump: pings through the tunnel, DPD answered natively, DISCONNECT to JavaScript (${dataThread ? 'on the data-plane thread' : 'on the loop, WOLFGUARD_DATA_THREAD=0'})`, { timeout: 60_000 }, () => {
    assert.equal(process.getuid?.(), 0, 'end-to-end tests need root (network namespaces, TUN)');
    const res = runInNamespace<PumpResult>(`wgpump${process.pid}`, 'pump-child.js', { ...process.env, WOLFGUARD_DATA_THREAD: dataThread ? '1' : '0' });
    assert.equal(res.threads.filter((t) => t === 'wg-plane').length, dataThread ? 1 : 0, `threads: ${res.threads.join(', ')}`);
    assert.equal(res.dpdPayload, 'dpd-probe-payload');
    assert.deepEqual(res.reply4, { src: '10.201.0.1', dst: '10.201.0.2', data: 'hello v4' });
    assert.equal(res.reply6.data, 'hello v6');
    assert.deepEqual(res.controls, [[5, 'b0627965']]);
    assert.ok(res.pump.tunTxPackets >= 2, 'two packets written to the TUN');
    assert.ok(res.pump.tunRxPackets >= 2, 'two replies read from the TUN');
    // Light traffic goes out before the read that finds the TUN queue empty;
    // a burst still goes out together. The kernel's own IPv6 packets on the
    // device (MLD, say) may end a quiet spell just before a reply now and
    // then, hence "most" of the spaced pings.
    assert.equal(res.spaced.replies, res.spaced.pings);
    assert.ok(res.spaced.early >= res.spaced.pings - 3, `spaced pings sent early: ${JSON.stringify(res.spaced)}`);
    assert.equal(res.burst.replies, res.burst.pings);
    assert.ok(res.burst.read >= res.burst.pings, `burst: ${JSON.stringify(res.burst)}`);
    assert.ok(res.burst.early <= 1, `burst: at most its first packet early, ${JSON.stringify(res.burst)}`);
    assert.equal(res.conn.dpdAnswered, 1);
    assert.ok(res.conn.framesIn >= 5);
    // The plane thread asked for the default 100 µs slice; the loop mode has no thread to ask for.
    const slice = dataThread && kernelHasCustomSlices() ? 100 : 0;
    assert.equal(res.pump.planeSliceUs, slice);
    if (slice !== 0) assert.deepEqual(res.planeSchedSliceNs, [String(slice * 1000)]);
    // No CPU asked: the thread may run wherever the process may.
    if (allowedCpus().length > 1) assert.equal(res.pump.planeCpu, -1);
  });
}

test('TUN ⇄ CSTP pump: the data-plane thread takes the slice and the CPU it is given, and slice 0 leaves the kernel\'s default', { timeout: 60_000 }, () => {
  assert.equal(process.getuid?.(), 0, 'end-to-end tests need root (network namespaces, TUN)');
  const custom = kernelHasCustomSlices();
  const cpu = allowedCpus().at(-1)!;
  const given = runInNamespace<PumpResult>(`wgpumps${process.pid}`, 'pump-child.js', { ...process.env, WOLFGUARD_DATA_THREAD: '1', PUMP_SLICE_US: '2000', PUMP_CPU: String(cpu) });
  assert.equal(given.pump.planeSliceUs, custom ? 2000 : 0);
  if (custom) assert.deepEqual(given.planeSchedSliceNs, ['2000000']);
  assert.equal(given.pump.planeCpu, cpu);
  assert.deepEqual(given.planeCpusAllowed, [[cpu]]);
  assert.deepEqual(given.reply4, { src: '10.201.0.1', dst: '10.201.0.2', data: 'hello v4' });
  const none = runInNamespace<PumpResult>(`wgpumpz${process.pid}`, 'pump-child.js', { ...process.env, WOLFGUARD_DATA_THREAD: '1', PUMP_SLICE_US: '0' });
  assert.equal(none.pump.planeSliceUs, 0);
  if (custom) assert.ok(none.planeSchedSliceNs[0] !== '2000000' && none.planeSchedSliceNs[0] !== '100000', `kernel default expected, got ${String(none.planeSchedSliceNs[0])} ns`);
  assert.equal(none.dpdPayload, 'dpd-probe-payload');
  assert.deepEqual(none.reply4, { src: '10.201.0.1', dst: '10.201.0.2', data: 'hello v4' });
});

interface KeepPhase {
  end: number[];
  samples: number[][];
  rx: number[];
}

interface KeepResult {
  cpus: number[];
  assigned: number[];
  idle: KeepPhase;
  one: KeepPhase;
  both: KeepPhase;
  oneAgain: KeepPhase;
}

test('planeCpuKeep shared (WOLFGUARD_PLANE_CPUS=auto): two planes are kept on their CPUs while both carry packets, and one carrying alone may run anywhere', { timeout: 60_000 }, () => {
  assert.equal(process.getuid?.(), 0, 'end-to-end tests need root (network namespaces, TUN)');
  const r = runInNamespace<KeepResult>(`wgkeep${process.pid}`, 'plane-keep-child.js', { ...process.env, WOLFGUARD_DATA_THREAD: '1' });
  const [a, b] = r.cpus as [number, number];
  assert.deepEqual(r.assigned, [a, b]);
  // The replies came back on the queue each ping was written to.
  assert.ok(r.one.rx[0]! > 0 && r.one.rx[1] === r.idle.rx[1], `one: ${JSON.stringify(r.one.rx)}, before ${JSON.stringify(r.idle.rx)}`);
  assert.ok(r.both.rx[1]! > r.one.rx[1]!, `both: ${JSON.stringify(r.both.rx)}`);
  if (a === b) {
    // One CPU: kept there or not, that is the only one the threads may use.
    for (const p of [r.idle, r.one, r.both, r.oneAgain]) for (const s of p.samples) assert.deepEqual(s, [a, a]);
    return;
  }
  for (const s of [...r.idle.samples, ...r.one.samples]) assert.deepEqual(s, [-1, -1], 'no plane kept while at most one carries packets');
  assert.deepEqual(r.both.end, [a, b], `both carrying: ${JSON.stringify(r.both.samples)}`);
  assert.equal(r.oneAgain.end[0], -1, `one carrying again: ${JSON.stringify(r.oneAgain.samples)}`);
});

interface UsoResult {
  framing: string;
  sent: number;
  received: number;
  mismatches: number[];
  checksumsOk: boolean[];
  written: number;
  writes: number;
  coalesced: number;
  drops: number;
}

/** GSO_UDP_L4 writes to a TUN: Linux 6.2 and later. */
function kernelHasTunUso(): boolean {
  const [major, minor] = os.release().split('.').map(Number) as [number, number];
  return major > 6 || (major === 6 && minor >= 2);
}

for (const dataThread of [true, false]) {
  test(`TUN framing uso: a run of one flow's UDP datagrams is written as one, and what the kernel forwards is what the client sent (IPv4 and IPv6; checksums, IP IDs, order; a bad or missing UDP checksum left as it was) (${dataThread ? 'data-plane thread' : 'loop'})`, { timeout: 60_000 }, () => {
    assert.equal(process.getuid?.(), 0, 'end-to-end tests need root (network namespaces, TUN)');
    const r = runInNamespace<UsoResult>(`wguso${process.pid}${dataThread ? 'p' : 'l'}`, 'uso-child.js', { ...process.env, WOLFGUARD_DATA_THREAD: dataThread ? '1' : '0' });
    const uso = kernelHasTunUso();
    assert.equal(r.framing, uso ? 'uso' : 'plain');
    assert.equal(r.received, r.sent);
    assert.deepEqual(r.mismatches, [], 'each datagram forwarded as sent, in order');
    // The datagram sent with a wrong UDP checksum and the one sent without one.
    assert.deepEqual(r.checksumsOk.flatMap((ok, i) => (ok ? [] : [i])), [20, 28]);
    assert.equal(r.written, r.sent);
    assert.equal(r.drops, 0);
    // One write for the IPv4 run of 20, one for each of the other 10 IPv4
    // packets (the run after the skipped IP ID is a lone datagram, the two
    // flows taking turns too), one for the IPv6 run of 10, one for the
    // IPv6 datagram of another flow label.
    assert.deepEqual({ coalesced: r.coalesced, writes: r.writes }, uso ? { coalesced: 30, writes: 13 } : { coalesced: 0, writes: 41 });
  });
}

test('TUN ⇄ CSTP pump: the slice keeps the policy an operator set (chrt): SCHED_BATCH gets it, SCHED_IDLE is left alone', { timeout: 60_000 }, () => {
  assert.equal(process.getuid?.(), 0, 'end-to-end tests need root (network namespaces, TUN)');
  const env = { ...process.env, WOLFGUARD_DATA_THREAD: '1' };
  const batch = runInNamespace<PumpResult>(`wgpumpb${process.pid}`, 'pump-child.js', env, ['chrt', '--batch', '0']);
  assert.deepEqual(batch.planePolicy, [3]);
  assert.equal(batch.pump.planeSliceUs, kernelHasCustomSlices() ? 100 : 0);
  const idle = runInNamespace<PumpResult>(`wgpumpi${process.pid}`, 'pump-child.js', env, ['chrt', '--idle', '0']);
  assert.deepEqual(idle.planePolicy, [5]);
  assert.equal(idle.pump.planeSliceUs, 0);
  assert.deepEqual(idle.reply4, { src: '10.201.0.1', dst: '10.201.0.2', data: 'hello v4' });
});

interface OverloadResult {
  sent: number;
  during: { pump: { tunRxPackets: number; throttledReads: number }; conn: { txDrops: number; drainPauses: number; drainProbeResumes: number } };
  after: { pump: { tunRxPackets: number; throttledReads: number }; conn: { drainPauses: number; drainProbeResumes: number } };
  dataFrames: number;
}

function runOverload(throttle: boolean, client: 'silent' | 'answers' = 'silent', dataThread = true): OverloadResult {
  const env = { ...process.env, WOLFGUARD_TUN_THROTTLE: throttle ? '1' : '0', OVERLOAD_CLIENT: client, WOLFGUARD_DATA_THREAD: dataThread ? '1' : '0' };
  return runInNamespace<OverloadResult>(`wgovl${process.pid}${throttle ? 't' : 'n'}${client[0]}${dataThread ? 'p' : 'l'}`, 'overload-child.js', env);
}

test('a client that stops reading: its tunnel pauses instead of queueing without end, the TUN queue is read on a throttle meanwhile (the kernel drops the rest), and the tunnel works again once the client reads', { timeout: 120_000 }, () => {
  assert.equal(process.getuid?.(), 0, 'end-to-end tests need root (network namespaces, TUN)');
  const on = runOverload(true);
  assert.ok(on.during.conn.drainPauses >= 1, `no overload pause: ${JSON.stringify(on.during)}`);
  assert.ok(on.during.conn.txDrops > 0, 'packets for the paused tunnel are dropped, not queued');
  assert.ok(on.during.pump.throttledReads > 0, `TUN never read on the throttle: ${JSON.stringify(on.during.pump)}`);
  assert.ok(on.during.pump.tunRxPackets < on.sent, `the gateway read all ${on.sent} packets itself; the kernel should have dropped some`);
  assert.ok(on.dataFrames >= 1, 'echo reply after the flood');
  // The same flood with the throttle off: the pump reads every packet (the pause still holds the queue bound).
  const off = runOverload(false);
  assert.equal(off.during.pump.throttledReads, 0);
  assert.ok(off.during.conn.drainPauses >= 1);
  assert.ok(off.dataFrames >= 1);
  assert.ok(on.during.pump.tunRxPackets < off.during.pump.tunRxPackets, `throttled reads ${on.during.pump.tunRxPackets} vs unthrottled ${off.during.pump.tunRxPackets}`);
  // A client that never answers DPD: no pause ended by an answer.
  assert.equal(on.after.conn.drainProbeResumes, 0);
});

for (const dataThread of [true, false]) {
  test(`an overload pause ends as soon as the client answers the pause's DPD probe (openconnect answers only once its read loop has emptied the socket) (${dataThread ? 'on the data-plane thread' : 'on the loop, WOLFGUARD_DATA_THREAD=0'})`, { timeout: 120_000 }, () => {
    assert.equal(process.getuid?.(), 0, 'end-to-end tests need root (network namespaces, TUN)');
    const r = runOverload(true, 'answers', dataThread);
    assert.ok(r.during.conn.drainPauses >= 1, `no overload pause: ${JSON.stringify(r.during)}`);
    assert.equal(r.during.conn.drainProbeResumes, 0);
    assert.ok(r.after.conn.drainProbeResumes >= 1, JSON.stringify(r.after.conn));
    assert.ok(r.dataFrames >= 1, 'echo reply after the pause');
  });
}
