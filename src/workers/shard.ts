// A shard: one worker_thread that owns its connections from the TLS
// handshake on, with its own wolfSSL context, on its own libuv loop. The main
// thread accepts and posts fds; the shard adopts them in native code.
import * as http from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import { TlsContext, TlsSocket } from '../../native/lib';
import type { FromShard, ShardConfig, ToShard } from './messages';
import { routeRequest } from './http-routes';

const config = workerData as ShardConfig;
const port = parentPort!;
const send = (m: FromShard) => port.postMessage(m);

const ctx = new TlsContext({ role: 'server', cert: { file: config.certFile }, key: { file: config.keyFile } });
const server = http.createServer(routeRequest);
// Clients that speak garbage HTTP get a 400 and are closed; nobody else notices.
server.on('clientError', (_err, socket) => {
  if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  socket.destroy();
});

// Released-connection reports are batched per loop turn: the main thread
// only needs the count for its least-loaded choice.
let released = 0;
let flushScheduled = false;
function noteReleased(): void {
  released++;
  if (flushScheduled) return;
  flushScheduled = true;
  setImmediate(() => {
    send({ type: 'released', shard: config.shard, count: released });
    released = 0;
    flushScheduled = false;
  });
}

port.on('message', (m: ToShard) => {
  if (m.type === 'stop') {
    server.close();
    port.close();
    return;
  }
  if (m.type !== 'adopt') return;
  let sock: TlsSocket;
  try {
    sock = new TlsSocket(ctx, m.fd, { handshakeTimeoutMs: config.handshakeTimeoutMs });
  } catch (e) {
    noteReleased();
    send({ type: 'error', shard: config.shard, message: (e as Error).message });
    return;
  }
  sock.once('close', noteReleased);
  sock.on('error', () => sock.destroy());
  server.emit('connection', sock);
});

send({ type: 'ready', shard: config.shard });
