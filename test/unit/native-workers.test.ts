// The addon loaded in four worker_threads at once (plus the main thread),
// each with its own contexts and connections on its own libuv loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { makePki } from '../helpers/certs';

const WORKERS = 4;
const HANDSHAKES_PER_WORKER = 25;

test(`${WORKERS} worker_threads each run ${HANDSHAKES_PER_WORKER} TLS handshakes with their own contexts`, { timeout: 60_000 }, async () => {
  const pki = makePki();
  try {
    const script = path.join(__dirname, '..', 'helpers', 'handshake-worker.js');
    const results = await Promise.all(
      Array.from({ length: WORKERS }, (_, id) =>
        new Promise<{ id: number; ok: number; versions: string[] }>((resolve, reject) => {
          const w = new Worker(script, { workerData: { id, count: HANDSHAKES_PER_WORKER, pki: { ecCert: pki.ecCert, ecKey: pki.ecKey, caCert: pki.caCert } } });
          w.once('message', resolve);
          w.once('error', reject);
          w.once('exit', (code) => code !== 0 && reject(new Error(`worker ${id} exited with ${code}`)));
        }),
      ),
    );
    for (const r of results) {
      assert.equal(r.ok, HANDSHAKES_PER_WORKER, `worker ${r.id}`);
      assert.deepEqual([...new Set(r.versions)], ['TLSv1.3']);
    }
  } finally {
    pki.cleanup();
  }
});
