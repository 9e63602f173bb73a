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

// --- Client certificates for certificate login (issue 6) --------------------
// Issued with `openssl ca` (the only openssl 3.0 command that can back-date a
// certificate and revoke one), from the test CA or from a second, unrelated CA.

export interface ClientCert {
  cert: string;
  key: string;
}

export interface ClientIssueOptions {
  /** Validity already over (January 2020). */
  expired?: boolean;
  /** subjectAltName value, e.g. "email:alice@example.test". */
  san?: string;
}

export interface ClientCa {
  /** The CA's certificate (PEM file). */
  caCert: string;
  /** `subject` as openssl -subj takes it, e.g. "/CN=alice/OU=eng". */
  issue(name: string, subject: string, opts?: ClientIssueOptions): ClientCert;
  revoke(c: ClientCert): void;
  /** Writes the CA's current CRL (PEM) and returns its path. */
  crl(): string;
}

const CA_CONFIG = `[ ca ]
default_ca = test_ca
[ test_ca ]
dir = .
database = index.txt
new_certs_dir = newcerts
certificate = ca.pem
private_key = ca.key
serial = serial
crlnumber = crlnumber
default_md = sha256
default_days = 30
default_crl_days = 30
policy = policy_any
unique_subject = no
copy_extensions = none
[ policy_any ]
commonName = optional
`;

function caIn(dir: string): ClientCa {
  if (!fs.existsSync(path.join(dir, 'ca.cnf'))) {
    fs.writeFileSync(path.join(dir, 'ca.cnf'), CA_CONFIG);
    fs.writeFileSync(path.join(dir, 'index.txt'), '');
    // A serial far from the x509 -CAcreateserial ones of the server certificates.
    fs.writeFileSync(path.join(dir, 'serial'), '7000000000000001\n');
    fs.writeFileSync(path.join(dir, 'crlnumber'), '01\n');
    fs.mkdirSync(path.join(dir, 'newcerts'), { recursive: true });
  }
  return {
    caCert: path.join(dir, 'ca.pem'),
    issue(name, subject, opts = {}) {
      openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject, '-utf8'], dir);
      const ext = ['basicConstraints=CA:FALSE', 'keyUsage=digitalSignature', 'extendedKeyUsage=clientAuth', ...(opts.san ? [`subjectAltName=${opts.san}`] : [])];
      fs.writeFileSync(path.join(dir, `${name}.ext`), `${ext.join('\n')}\n`);
      const dates = opts.expired ? ['-startdate', '20200101000000Z', '-enddate', '20200201000000Z'] : [];
      openssl(['ca', '-batch', '-config', 'ca.cnf', '-notext', '-preserveDN', '-utf8', '-extfile', `${name}.ext`, '-in', `${name}.csr`, '-out', `${name}.pem`, ...dates], dir);
      return { cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}.key`) };
    },
    revoke(c) {
      openssl(['ca', '-batch', '-config', 'ca.cnf', '-revoke', c.cert], dir);
    },
    crl() {
      openssl(['ca', '-batch', '-config', 'ca.cnf', '-gencrl', '-out', 'crl.pem'], dir);
      return path.join(dir, 'crl.pem');
    },
  };
}

/** Client certificates from the test PKI's own CA. */
export function clientCa(pki: TestPki): ClientCa {
  return caIn(pki.dir);
}

/** A second CA, unrelated to the test PKI's (its certificates must be refused), in a subfolder of pki.dir. */
export function otherClientCa(pki: TestPki, name = 'other-ca'): ClientCa {
  const dir = path.join(pki.dir, name);
  if (!fs.existsSync(path.join(dir, 'ca.pem'))) {
    fs.mkdirSync(dir, { recursive: true });
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30', '-subj', '/CN=wolfguard test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  }
  return caIn(dir);
}
