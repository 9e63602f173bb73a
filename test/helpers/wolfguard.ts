// Starts the real gateway (`node dist/src/main/cli.js -c FILE`) inside a test
// namespace, on exactly the configuration file startOcserv writes for ocserv:
// an ocserv user's file must just work, and the comparison bench needs both
// gateways on the same settings. Talks to it through its admin socket.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { spawnInNs } from './netns';
import { ocpasswdText, ocservConfig, type OcservOptions } from './ocserv';
import { exitOf, stopChild, trackProcess, type ExitStatus } from './reaper';

const READY_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;
const MAX_LOG_CHARS = 1 << 20;

export interface WolfguardOptions extends OcservOptions {
  /** WOLFGUARD_WORKERS (default 2: the tests check the spread over shards). */
  workers?: number;
  env?: NodeJS.ProcessEnv;
}

export interface WolfguardHandle {
  pid: number;
  confPath: string;
  adminSocket: string;
  readyMs: number;
  exited: Promise<ExitStatus>;
  log(): string;
  /** JSON from the admin socket. */
  admin<T = unknown>(method: 'GET' | 'POST', p: string): Promise<{ status: number; body: T }>;
  stop(): Promise<ExitStatus>;
}

function repoRoot(): string {
  // dist/test/helpers → repository root
  return path.resolve(__dirname, '..', '..', '..');
}

/** The gateway built alongside this helper (a private build dir), else the one in dist. */
function gatewayCli(): string {
  const own = path.join(__dirname, '..', '..', 'src', 'main', 'cli.js');
  return fs.existsSync(own) ? own : path.join(repoRoot(), 'dist', 'src', 'main', 'cli.js');
}

export function adminRequest<T>(socketPath: string, method: string, p: string): Promise<{ status: number; body: T }> {
  return new Promise((resolve, reject) => {
    // agent: false: no idle keep-alive connection left on the gateway, whose fd count tests compare.
    const req = http.request({ socketPath, method, path: p, agent: false }, (res) => {
      let t = '';
      res.on('data', (d: Buffer) => (t += d.toString()));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(t) as T });
        } catch (e) {
          reject(e as Error);
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

export async function startWolfguard(opts: WolfguardOptions): Promise<WolfguardHandle> {
  const dir = path.resolve(opts.dir);
  fs.mkdirSync(dir, { recursive: true });
  const confPath = path.join(dir, 'wolfguard.conf');
  fs.writeFileSync(path.join(dir, 'ocpasswd'), ocpasswdText(opts.users), { mode: 0o600 });
  // ocserv's own file, plus the one key only wolfguard has.
  fs.writeFileSync(confPath, ocservConfig(opts));
  const adminSocket = path.join(dir, 'occtl.sock');
  const started = Date.now();
  const child = spawnInNs(opts.ns, process.execPath, [gatewayCli(), '-c', confPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WOLFGUARD_WORKERS: String(opts.workers ?? 2), WOLFGUARD_LOG_LEVEL: 'info', ...opts.env },
  });
  if (child.pid === undefined) throw new Error('could not spawn the gateway');
  trackProcess(child.pid);
  let log = '';
  const onData = (d: Buffer) => {
    log += d.toString();
    if (log.length > MAX_LOG_CHARS) log = log.slice(-MAX_LOG_CHARS);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = exitOf(child);
  await new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      if (log.includes('wolfguard listening')) {
        clearInterval(t);
        resolve();
      } else if (Date.now() - started > (opts.readyTimeoutMs ?? READY_TIMEOUT_MS)) {
        clearInterval(t);
        reject(new Error(`wolfguard did not start:\n${log}`));
      }
    }, 50);
    void exited.then((s) => {
      clearInterval(t);
      reject(new Error(`wolfguard exited (code ${s.code}, signal ${s.signal}) during start-up:\n${log}`));
    });
  });
  const pid = child.pid;
  return {
    pid,
    confPath,
    adminSocket,
    readyMs: Date.now() - started,
    exited,
    log: () => log,
    admin: <T>(method: 'GET' | 'POST', p: string) => adminRequest<T>(adminSocket, method, p),
    stop: () => stopChild(child, 'SIGTERM', STOP_GRACE_MS),
  };
}
