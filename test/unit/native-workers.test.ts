// The addon loaded in four worker_threads at once (plus the main thread),
// each with its own contexts and connections on its own libuv loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { makePki } from '../helpers/certs';
import { TlsContext } from '../../native/lib';
import { startAddonServer, addonConnect, echoRoundTrip } from '../helpers/tls-pair';

const WORKERS = 4;
const HANDSHAKES_PER_WORKER = 25;

test(`${WORKERS} worker_threads and the main thread each run ${HANDSHAKES_PER_WORKER} TLS handshakes at once, with their own contexts`, { timeout: 60_000 }, async () => {
  const pki = makePki();
  try {
    const script = path.join(__dirname, '..', 'helpers', 'handshake-worker.js');
    // The main thread works at the same time as the workers.
    const mainThread = (async () => {
      const sctx = new TlsContext({ role: 'server', cert: { file: pki.ecCert }, key: { file: pki.ecKey } });
      const cctx = new TlsContext({ role: 'client', ca: { file: pki.caCert } });
      const srv = await startAddonServer(sctx, (s) => s.pipe(s));
      let ok = 0;
      for (let i = 0; i < HANDSHAKES_PER_WORKER; i++) {
        const c = await addonConnect(cctx, srv.port);
        if ((await echoRoundTrip(c, Buffer.from(`main ${i}`))).toString() === `main ${i}`) ok++;
        c.destroy();
      }
      await srv.close();
      return ok;
    })();
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
    assert.equal(await mainThread, HANDSHAKES_PER_WORKER, 'main thread');
    for (const r of results) {
      assert.equal(r.ok, HANDSHAKES_PER_WORKER, `worker ${r.id}`);
      assert.deepEqual([...new Set(r.versions)], ['TLSv1.3']);
    }
  } finally {
    pki.cleanup();
  }
});

test('a worker exits while its data-plane thread has events queued for JavaScript: the process lives on', { timeout: 30_000 }, async () => {
  const pki = makePki();
  try {
    const w = new Worker(path.join(__dirname, '..', 'helpers', 'plane-teardown-worker.js'), { workerData: { ecCert: pki.ecCert, ecKey: pki.ecKey, caCert: pki.caCert } });
    const [code] = (await once(w, 'exit')) as [number];
    assert.equal(code, 0);
  } finally {
    pki.cleanup();
  }
});
