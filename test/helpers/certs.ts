// Test PKI made on the fly with the openssl CLI: a CA, server certificates
// (ECDSA P-256 and RSA 2048) and a client certificate, in a temp folder that
// the caller removes.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface TestPki {
  dir: string;
  caCert: string;
  caKey: string;
  ecCert: string;
  ecKey: string;
  rsaCert: string;
  rsaKey: string;
  clientCert: string;
  clientKey: string;
  cleanup(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function issue(dir: string, name: string, keyArgs: string[], subject: string, ext: string): void {
  openssl(['req', '-new', '-newkey', ...keyArgs, '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
  fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.pem`], dir);
}

export function makePki(prefix = 'wg-pki-'): TestPki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30', '-subj', '/CN=wolfguard test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  const serverExt = 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n';
  issue(dir, 'server-ec', ['ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], '/CN=localhost', serverExt);
  issue(dir, 'server-rsa', ['rsa:2048'], '/CN=localhost', serverExt);
  issue(dir, 'client', ['ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], '/CN=alice/O=wolfguard', 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\nsubjectAltName=email:alice@example.test\n');
  const p = (f: string) => path.join(dir, f);
  return {
    dir,
    caCert: p('ca.pem'),
    caKey: p('ca.key'),
    ecCert: p('server-ec.pem'),
    ecKey: p('server-ec.key'),
    rsaCert: p('server-rsa.pem'),
    rsaKey: p('server-rsa.key'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
