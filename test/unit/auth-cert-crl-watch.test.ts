// The shard's CRL follows its file: a replaced file is loaded again, a load
// that fails is reported (the old CRL stays), a removed file changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { watchCrl } from '../../src/workers/crl-watch';
import type { TlsContext, PemSource } from '../../native/lib';

const POLL_MS = 20;

async function until(f: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) assert.fail('timed out');
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

test('a replaced CRL file is reloaded; a failing load is reported; removal keeps the last CRL', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-crlwatch-'));
  const file = path.join(dir, 'crl.pem');
  fs.writeFileSync(file, 'v1');
  const loads: string[] = [];
  let failNext = false;
  const ctx = {
    reloadCrl(src: PemSource) {
      const text = fs.readFileSync((src as { file: string }).file, 'utf8');
      if (failNext) throw new Error(`bad CRL ${text}`);
      loads.push(text);
    },
  } as unknown as TlsContext;
  const reports: string[] = [];
  const stop = watchCrl(ctx, file, (m) => reports.push(m), POLL_MS);
  try {
    await new Promise((r) => setTimeout(r, POLL_MS * 5));
    assert.deepEqual(loads, [], 'nothing changed yet');
    fs.writeFileSync(file, 'v2-longer');
    await until(() => loads.length === 1);
    assert.deepEqual(loads, ['v2-longer']);
    failNext = true;
    fs.writeFileSync(file, 'v3-broken!');
    await until(() => reports.length === 1);
    assert.match(reports[0]!, /not reloaded: bad CRL v3-broken!/);
    failNext = false;
    fs.rmSync(file);
    await new Promise((r) => setTimeout(r, POLL_MS * 5));
    assert.deepEqual(loads, ['v2-longer']);
    assert.equal(reports.length, 1);
  } finally {
    stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
