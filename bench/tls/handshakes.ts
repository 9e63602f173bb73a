// `npm run bench -- tls`: full and resumed TLS 1.3 handshakes per second of
// the addon's server versus Node's built-in tls server, same ECDSA P-256
// certificate, same client load (tls-client.ts: the addon's wolfSSL client,
// offering one key exchange), measured in one run. Each connection: handshake,
// 1-byte echo (so the TLS 1.3 ticket has arrived), close.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import type { NativeSessionHandle } from '../../native/lib';
import { BENCH_CLIENT_GROUPS, newClientContext, oneConnection } from './tls-client';
import { startNodeChild } from '../lib/child';
import { processCpuSeconds } from '../lib/cpu';
import type { Row, Table } from '../lib/report';

const CONCURRENCY = Number(process.env.BENCH_TLS_CONCURRENCY ?? 16);
const SECONDS = Number(process.env.BENCH_SECONDS ?? (process.env.BENCH_QUICK ? 1 : 5));
const WARMUP_SECONDS = process.env.BENCH_QUICK ? 0.3 : 1;

type Impl = 'wolfguard' | 'node';
/** Server starts per side: 2 (order A B B A), 1 in a quick run. */
const PASSES = process.env.BENCH_QUICK ? 1 : 2;
const TURNS: readonly Impl[] = PASSES === 1 ? ['wolfguard', 'node'] : ['wolfguard', 'node', 'node', 'wolfguard'];

interface Pki {
  dir: string;
  cert: string;
  key: string;
}

function makeCert(): Pki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-bench-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '2', '-subj', '/CN=localhost'], { cwd: dir, stdio: 'ignore' });
  return { dir, cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') };
}

const ECHO_REQUEST = Buffer.from([0x2a]);

interface Measured {
  done: number;
  resumedCount: number;
  seconds: number;
  cpuSeconds: number;
}

async function measure(port: number, pid: number, resumed: boolean, seconds: number): Promise<Measured> {
  const ctx = newClientContext();
  try {
    let session: NativeSessionHandle | undefined;
    if (resumed) {
      // Prime: the first connection fetches a ticket, the second proves it resumes.
      session = (await oneConnection(ctx, '127.0.0.1', port, undefined, ECHO_REQUEST)).session ?? undefined;
      if (!session) throw new Error('no session ticket received');
    }
    const run = async (secs: number) => {
      let done = 0;
      let resumedCount = 0;
      const deadline = Date.now() + secs * 1000;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (Date.now() < deadline) {
            const r = await oneConnection(ctx, '127.0.0.1', port, session, ECHO_REQUEST);
            done++;
            if (r.resumed) resumedCount++;
          }
        }),
      );
      return { done, resumedCount };
    };
    await run(WARMUP_SECONDS);
    const cpu0 = processCpuSeconds(pid);
    const t0 = process.hrtime.bigint();
    const { done, resumedCount } = await run(seconds);
    return { done, resumedCount, seconds: Number(process.hrtime.bigint() - t0) / 1e9, cpuSeconds: processCpuSeconds(pid) - cpu0 };
  } finally {
    ctx.close();
  }
}

/** A side's passes added up: handshakes over the time and CPU of all of them. */
function total(runs: readonly Measured[]): { perSecond: number; cpuUsPerHandshake: number; resumedShare: number } {
  const sum = (k: keyof Measured) => runs.reduce((a, r) => a + r[k], 0);
  const done = sum('done');
  return { perSecond: done / sum('seconds'), cpuUsPerHandshake: (sum('cpuSeconds') / done) * 1e6, resumedShare: sum('resumedCount') / done };
}

export async function benchTls(): Promise<Table> {
  const pki = makeCert();
  const script = path.join(__dirname, 'echo-server.js');
  const runs: Record<Impl, { full: Measured[]; resumed: Measured[] }> = { wolfguard: { full: [], resumed: [] }, node: { full: [], resumed: [] } };
  try {
    // Turns A B B A, each pass a fresh server process and half the seconds,
    // so a noisy spell of the shared machine lands on both servers.
    for (const impl of TURNS) {
      const child = await startNodeChild(script, [impl, pki.cert, pki.key], 0);
      try {
        const port = (child.message as { port: number }).port;
        runs[impl].full.push(await measure(port, child.pid, false, SECONDS / PASSES));
        runs[impl].resumed.push(await measure(port, child.pid, true, SECONDS / PASSES));
      } finally {
        await child.stop();
      }
    }
  } finally {
    fs.rmSync(pki.dir, { recursive: true, force: true });
  }
  const results = { wolfguard: { full: total(runs.wolfguard.full), resumed: total(runs.wolfguard.resumed) }, node: { full: total(runs.node.full), resumed: total(runs.node.resumed) } };
  const w = results.wolfguard!;
  const n = results.node!;
  const rows: Row[] = [
    { metric: 'TLS 1.3 full handshakes/s', unit: '1/s', ours: w.full.perSecond, theirs: n.full.perSecond, higherIsBetter: true },
    { metric: 'server CPU per full handshake', unit: 'µs', ours: w.full.cpuUsPerHandshake, theirs: n.full.cpuUsPerHandshake, higherIsBetter: false },
    { metric: 'TLS 1.3 resumed handshakes/s', unit: '1/s', ours: w.resumed.perSecond, theirs: n.resumed.perSecond, higherIsBetter: true },
    { metric: 'server CPU per resumed handshake', unit: 'µs', ours: w.resumed.cpuUsPerHandshake, theirs: n.resumed.cpuUsPerHandshake, higherIsBetter: false },
  ];
  return {
    title: 'TLS handshakes: addon (wolfSSL) server vs Node tls (OpenSSL) server',
    oursName: 'wolfguard addon',
    theirsName: 'node:tls',
    rows,
    notes: [
      `ECDSA P-256 certificate, TLS 1.3 defaults of each library, key exchange ${BENCH_CLIENT_GROUPS.join(', ')} (the only group the client offers; left to itself wolfSSL picks the X25519MLKEM768 hybrid, OpenSSL 3.0 cannot: bench/tls/tls-client.ts), ${CONCURRENCY} concurrent client connections from one wolfSSL client process, ${SECONDS} s per measurement after ${WARMUP_SECONDS} s warm-up, in ${PASSES} pass(es) per server taken in turns (${TURNS.join(', ')}), each a fresh server process; the figures add the passes up.`,
      'Each connection: handshake, 1-byte echo, close. Server pinned to CPU 0, client to CPU 1 (taskset) when available.',
      `Share of handshakes actually resumed: wolfguard ${(w.resumed.resumedShare * 100).toFixed(0)}%, node ${(n.resumed.resumedShare * 100).toFixed(0)}%.`,
      'Handshakes/s is capped by the single client core when the client is slower than the server; server CPU per handshake is the cost figure that does not depend on the client.',
    ],
  };
}
