// The configuration `npm start` runs with when no -c is given: everything it
// needs lives in a state directory (WOLFGUARD_STATE_DIR, else
// ./.wolfguard-state): a self-signed ECDSA P-256 certificate made once with
// the openssl CLI, and an ocpasswd file with one user, "admin", whose random
// password is returned on the start that creates it so the caller can print
// it once. Later starts reuse both.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCodes, WolfguardError } from '../../common/errors';
import { hashPassword } from '../../../native/lib/wolfcrypt';
import { PasswordFile } from '../users/password-file';
import { emptyPasswd, setUser } from '../users/ocpasswd';
import { parseConfig } from './load';
import type { GatewayConfig } from './types';
import { MAX_PORT } from './values';

export const DEFAULT_STATE_DIR_NAME = '.wolfguard-state';
export const EMBEDDED_SOURCE = '<embedded default>';
export const DEFAULT_ADMIN_USER = 'admin';
/** 18 random bytes = 24 base64url characters. */
const PASSWORD_BYTES = 18;
const CERT_DAYS = 3650;
const STATE_DIR_MODE = 0o700;
const KEY_MODE = 0o600;
/** sun_path is 108 bytes on Linux; leave room for the NUL. */
const MAX_SOCKET_PATH = 107;

export const STATE_FILES = {
  cert: 'server-cert.pem',
  key: 'server-key.pem',
  passwd: 'ocpasswd',
  adminSocket: 'occtl.socket',
} as const;

/** The state directory the environment asks for. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  const fromEnv = env.WOLFGUARD_STATE_DIR;
  return path.resolve(cwd, fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_STATE_DIR_NAME);
}

function portFromEnv(env: NodeJS.ProcessEnv): number {
  const raw = env.WOLFGUARD_PORT;
  if (raw === undefined || raw === '') return 443;
  const n = Number(raw);
  if (!/^[0-9]+$/.test(raw) || n < 1 || n > MAX_PORT) {
    throw new WolfguardError(ErrorCodes.CONFIG_INVALID, `WOLFGUARD_PORT must be a port number 1..${MAX_PORT}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** The embedded configuration, in the same syntax as a file (so it goes through the same checks). */
export function defaultConfigText(port: number, withAdminSocket: boolean): string {
  return [
    '# wolfguard embedded default configuration',
    `tcp-port = ${port}`,
    `udp-port = ${port}`,
    `server-cert = ${STATE_FILES.cert}`,
    `server-key = ${STATE_FILES.key}`,
    `auth = "plain[passwd=./${STATE_FILES.passwd}]"`,
    'ipv4-network = 10.77.0.0/20',
    // fd77:77::/64 is in the unique-local range fc00::/7 (RFC 4193).
    'ipv6-network = fd77:77::/64',
    'ipv6-subnet-prefix = 128',
    'device = wolfguard0',
    'dpd = 90',
    'mobile-dpd = 1800',
    'keepalive = 32400',
    'cookie-timeout = 300',
    ...(withAdminSocket ? [`occtl-socket-file = ${STATE_FILES.adminSocket}`] : []),
    '',
  ].join('\n');
}

function makeCertificate(dir: string): void {
  const cert = path.join(dir, STATE_FILES.cert);
  const key = path.join(dir, STATE_FILES.key);
  if (fs.existsSync(cert) && fs.existsSync(key)) return;
  // Written under temporary names and renamed, so a crash never leaves half a pair.
  const tmpCert = `${cert}.new`;
  const tmpKey = `${key}.new`;
  const cn = os.hostname() || 'wolfguard';
  try {
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
        '-keyout', tmpKey, '-out', tmpCert, '-days', String(CERT_DAYS), '-sha256',
        '-subj', `/CN=${cn.replace(/[/=\\]/g, '-')}`,
        '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
        '-addext', 'extendedKeyUsage=serverAuth',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    fs.chmodSync(tmpKey, KEY_MODE);
    fs.renameSync(tmpKey, key);
    fs.renameSync(tmpCert, cert);
  } catch (e) {
    fs.rmSync(tmpKey, { force: true });
    fs.rmSync(tmpCert, { force: true });
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    const detail = err.code === 'ENOENT' ? 'the openssl command is not installed' : (err.stderr?.toString().trim() || err.message);
    throw new WolfguardError(ErrorCodes.CONFIG_INVALID, `cannot create the default certificate in ${dir}: ${detail} (install openssl, or run with -c CONFIG)`, { dir }, { cause: e });
  }
}

async function makePasswdFile(dir: string): Promise<{ username: string; password: string } | undefined> {
  const file = path.join(dir, STATE_FILES.passwd);
  if (fs.existsSync(file)) return undefined;
  const password = randomBytes(PASSWORD_BYTES).toString('base64url');
  const hash = await hashPassword(password, 'sha512');
  const pf = new PasswordFile(file);
  pf.document = setUser(emptyPasswd(), DEFAULT_ADMIN_USER, hash).doc;
  pf.save();
  return { username: DEFAULT_ADMIN_USER, password };
}

export interface DefaultConfig {
  config: GatewayConfig;
  /** Set on the start that created the password file: print it once. */
  createdUser?: { username: string; password: string };
  /** The password file, for the first-start message. */
  passwdFile: string;
  warnings: string[];
}

export async function ensureDefaultConfig(stateDir: string, env: NodeJS.ProcessEnv = process.env): Promise<DefaultConfig> {
  const dir = path.resolve(stateDir);
  const port = portFromEnv(env);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: STATE_DIR_MODE });
  } catch (e) {
    throw new WolfguardError(ErrorCodes.FILE_UNWRITABLE, `cannot create the state directory ${dir}: ${(e as Error).message}`, { dir }, { cause: e });
  }
  makeCertificate(dir);
  const createdUser = await makePasswdFile(dir);
  const withAdminSocket = path.join(dir, STATE_FILES.adminSocket).length <= MAX_SOCKET_PATH;
  const { config, warnings } = parseConfig(defaultConfigText(port, withAdminSocket), { source: EMBEDDED_SOURCE, baseDir: dir });
  const out: DefaultConfig = { config, passwdFile: path.join(dir, STATE_FILES.passwd), warnings };
  if (createdUser) out.createdUser = createdUser;
  return out;
}
