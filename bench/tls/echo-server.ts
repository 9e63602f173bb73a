// A 1-byte-echo TLS server for the handshake bench, run as its own process:
// `wolfguard` = the addon (wolfSSL), `node` = Node's built-in tls (OpenSSL).
// Same certificate, same TLS 1.3 defaults, same echo, TCP_NODELAY on both.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { TlsContext, TlsSocket, adoptSocket, newTicketKey } from '../../native/lib';

const [impl, certFile, keyFile] = process.argv.slice(2);
if (!impl || !certFile || !keyFile) {
  process.stderr.write('usage: echo-server <wolfguard|node> <cert.pem> <key.pem>\n');
  process.exit(2);
}

function ready(server: net.Server): void {
  server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as net.AddressInfo).port }));
}

if (impl === 'wolfguard') {
  const ctx = new TlsContext({ role: 'server', cert: { file: certFile }, key: { file: keyFile }, tickets: { keys: [newTicketKey()] } });
  const server = net.createServer({ pauseOnConnect: true, noDelay: true }, (raw) => {
    raw.setNoDelay(true);
    const s = new TlsSocket(ctx, adoptSocket(raw));
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => s.write(d));
    s.on('end', () => s.destroy());
  });
  ready(server);
} else {
  const server = tls.createServer({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile), noDelay: true }, (s) => {
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => s.write(d));
    s.on('end', () => s.destroy());
  });
  ready(server);
}
