// Runs inside a worker_thread for native-workers.test: a tunnel served by
// this thread's data-plane thread loses its peer while JavaScript is busy,
// and the worker exits at once. The plane's events for it (end, or error and
// release) are still queued when Node tears the environment down and runs
// the loop's pending callbacks with JavaScript disallowed; that must not be
// fatal.
import { workerData } from 'node:worker_threads';
import { TunnelPump, createWakeFd } from '../../native/lib';
import type { TestPki } from './certs';
import { tunnelPair } from './tls-pair';

/** Long enough for the plane thread to see the close and queue its events. */
const BUSY_MS = 300;

async function main(): Promise<void> {
  // An eventfd nobody writes stands in for the TUN queue: never readable.
  const pump = new TunnelPump(createWakeFd());
  // Only the file names cross to a worker (TestPki's cleanup cannot).
  const { client } = await tunnelPair(workerData as TestPki, (s) => s.startTunnel(pump));
  client.destroy();
  const until = Date.now() + BUSY_MS;
  while (Date.now() < until) {
    // JavaScript stays busy: the plane's uv_async cannot be served before the exit.
  }
  process.exit(0);
}

void main();
