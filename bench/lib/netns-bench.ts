// The set-up every gateway-vs-ocserv bench row shares: root, no CPU pinning
// inherited from run.ts (the gateways, client and load must use every core),
// a test PKI, a work folder ocserv's unprivileged workers can reach, and a
// one-client namespace topology; all removed afterwards.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { makePki, type TestPki } from '../../test/helpers/certs';
import { createTopology, type Topology } from '../../test/helpers/netns';

export interface BenchEnv {
  pki: TestPki;
  work: string;
  topo: Topology;
}

export async function withNetnsBench<T>(row: string, tag: string, body: (env: BenchEnv) => Promise<T>): Promise<T> {
  if (process.getuid?.() !== 0) throw new Error(`the ${row} bench needs root (network namespaces, TUN)`);
  try {
    execFileSync('taskset', ['-cp', `0-${os.cpus().length - 1}`, String(process.pid)], { stdio: 'ignore' });
  } catch {
    /* no taskset: nothing was pinned either */
  }
  const pki = makePki('wg-bench-pki-');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `wg-bench-${row}-`));
  fs.chmodSync(work, 0o755); // ocserv's workers (nobody) reach sec-mod's socket below it
  const topo = await createTopology({ clients: 1, tag });
  try {
    return await body({ pki, work, topo });
  } finally {
    await topo.destroy();
    pki.cleanup();
    fs.rmSync(work, { recursive: true, force: true });
  }
}
