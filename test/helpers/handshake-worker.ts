// Runs inside a worker_thread for native-workers.test: a server and a client
// context of this thread's own, N sequential handshakes with an echo each.
import { parentPort, workerData } from 'node:worker_threads';
import { TlsContext } from '../../native/lib';
import { startAddonServer, addonConnect, echoRoundTrip } from './tls-pair';

interface Data {
  id: number;
  count: number;
  pki: { ecCert: string; ecKey: string; caCert: string };
}

async function main(): Promise<void> {
  const { id, count, pki } = workerData as Data;
  const sctx = new TlsContext({ role: 'server', cert: { file: pki.ecCert }, key: { file: pki.ecKey } });
  const cctx = new TlsContext({ role: 'client', ca: { file: pki.caCert } });
  const srv = await startAddonServer(sctx, (s) => s.pipe(s));
  let ok = 0;
  const versions: string[] = [];
  for (let i = 0; i < count; i++) {
    const c = await addonConnect(cctx, srv.port);
    const msg = Buffer.from(`worker ${id} handshake ${i}`);
    const back = await echoRoundTrip(c, msg);
    if (back.equals(msg)) ok++;
    versions.push(c.info()?.version ?? '?');
    c.destroy();
  }
  await srv.close();
  parentPort!.postMessage({ id, ok, versions });
}

main().catch((e) => {
  throw e;
});
