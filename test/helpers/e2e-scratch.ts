// What every end-to-end file owns besides its namespaces: a test PKI and a
// work folder, both registered with the reaper (removed on any exit), and the
// one way to release them with the gateway and the topology.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makePki, type TestPki } from './certs';
import type { Topology } from './netns';
import { trackPath, untrackPath } from './reaper';
import type { WolfguardHandle } from './wolfguard';

export interface E2eScratch {
  pki: TestPki;
  workDir: string;
}

/** A PKI (wg-<name>-pki-*) and a work folder (wg-<name>-e2e-*) under the system temp dir. */
export function openScratch(name: string): E2eScratch {
  const pki = makePki(`wg-${name}-pki-`);
  trackPath(pki.dir);
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `wg-${name}-e2e-`));
  trackPath(workDir);
  return { pki, workDir };
}

/**
 * Stops the gateway (its log kept in WG_E2E_KEEP_LOG when set), removes the
 * namespaces, the PKI and the work folder; any of them may be missing (a
 * before() that failed half-way).
 */
export async function closeScratch(o: { gw?: WolfguardHandle | undefined; topo?: Topology | undefined; pki?: TestPki | undefined; workDir?: string | undefined }): Promise<void> {
  if (process.env.WG_E2E_KEEP_LOG && o.gw) fs.writeFileSync(process.env.WG_E2E_KEEP_LOG, o.gw.log());
  await o.gw?.stop();
  await o.topo?.destroy();
  o.pki?.cleanup();
  if (o.pki) untrackPath(o.pki.dir);
  if (o.workDir) {
    fs.rmSync(o.workDir, { recursive: true, force: true });
    untrackPath(o.workDir);
  }
}
