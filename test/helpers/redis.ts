// A private redis-server for a test: no persistence (--save "" --appendonly
// no), its files in a temp dir, listening on a unix socket there (unit tests)
// or on 127.0.0.1:<port> inside a test namespace (end-to-end), stopped by
// pid on every exit path (the reaper kills it if the test process dies).
// redis-server is a declared dependency (native/scripts/system-deps.sh): a
// missing binary fails the test with a clear message.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnInNs } from './netns';
import { exitOf, stopChild, trackPath, trackProcess, untrackPath, type ExitStatus } from './reaper';

const READY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 3_000;
/** Redis 7 prints "Ready to accept connections tcp"; Debian's 7.0 "...ready to accept connections at <socket>". */
const READY_LINE = /ready to accept connections/i;

export interface RedisOptions {
  /** Run inside this namespace, on 127.0.0.1:`port` (default: unix socket in the temp dir, no TCP). */
  ns?: string;
  /** TCP port on 127.0.0.1 (in `ns`, or here when `tcp` is set). */
  port?: number;
  /** Listen on 127.0.0.1:`port` in this namespace instead of a unix socket. */
  tcp?: boolean;
  /** A one-node Redis Cluster owning every slot (url: redis-cluster://). */
  cluster?: boolean;
}

/** A free TCP port on 127.0.0.1 (bound and released: a small race, fine for a test). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (typeof a === 'object' && a !== null ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

function redisCli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', args, { timeout: READY_TIMEOUT_MS, encoding: 'utf8' }, (err, stdout, stderr) => (err ? reject(new Error(`redis-cli ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout)));
  });
}

export interface RedisHandle {
  /** The `state` URL a gateway or RedisStore uses. */
  readonly url: string;
  readonly pid: number;
  readonly dir: string;
  log(): string;
  /** Stops the server (by pid); the temp dir stays for a restart. */
  stop(): Promise<ExitStatus>;
  /** A new server on the same address (empty: nothing is persisted). */
  restart(): Promise<void>;
  /** Stops it and removes its dir. */
  close(): Promise<void>;
}

export interface SentinelHandle {
  /** redis-sentinel://127.0.0.1:<port>/<master> */
  readonly url: string;
  close(): Promise<void>;
}

/** A Sentinel (redis-server --sentinel) watching the master on 127.0.0.1:`masterPort` under the name `master`. */
export async function startSentinel(masterPort: number, master: string): Promise<SentinelHandle> {
  const bin = redisServerPath();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-sentinel-'));
  trackPath(dir);
  const port = await freePort();
  const conf = path.join(dir, 'sentinel.conf');
  fs.writeFileSync(conf, [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor ${master} 127.0.0.1 ${masterPort} 1`, ''].join('\n'));
  const child = spawn(bin, [conf, '--sentinel'], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error('could not spawn redis-server --sentinel');
  trackProcess(child.pid);
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  const close = async (): Promise<void> => {
    await stopChild(child, 'SIGTERM', STOP_GRACE_MS);
    fs.rmSync(dir, { recursive: true, force: true });
    untrackPath(dir);
  };
  // Ready when it answers with the master's address.
  const end = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const out = await redisCli(['-p', String(port), 'sentinel', 'get-master-addr-by-name', master]).catch(() => '');
    if (out.includes(String(masterPort))) break;
    if (Date.now() > end || child.exitCode !== null) {
      await close();
      throw new Error(`redis sentinel did not start:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `redis-sentinel://127.0.0.1:${port}/${master}`, close };
}

export function redisServerPath(): string {
  const r = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const p = r.stdout.trim();
  if (r.status !== 0 || p === '') throw new Error('redis-server is not installed: it is a declared dependency (apt-get install redis-server; see native/scripts/system-deps.sh)');
  return p;
}

export async function startRedis(opts: RedisOptions = {}): Promise<RedisHandle> {
  const bin = redisServerPath();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-redis-'));
  trackPath(dir);
  const sock = path.join(dir, 'redis.sock');
  const args = ['--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', '', '--daemonize', 'no'];
  const tcp = opts.ns !== undefined || opts.tcp === true || opts.cluster === true;
  const port = tcp ? (opts.port ?? (opts.ns !== undefined ? 6379 : await freePort())) : 0;
  if (tcp) args.push('--port', String(port), '--bind', '127.0.0.1');
  else args.push('--port', '0', '--unixsocket', sock, '--unixsocketperm', '700');
  if (opts.cluster === true) args.push('--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, 'nodes.conf'), '--cluster-announce-ip', '127.0.0.1');
  const url = opts.cluster === true ? `redis-cluster://127.0.0.1:${port}` : tcp ? `redis://127.0.0.1:${port}/0` : `redis+unix://${sock}`;
  let child: ChildProcess;
  let text = '';
  const launch = async (): Promise<void> => {
    text = '';
    child = opts.ns !== undefined ? spawnInNs(opts.ns, bin, args, { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid === undefined) throw new Error('could not spawn redis-server');
    trackProcess(child.pid);
    const onData = (d: Buffer) => (text += d.toString());
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    const exited = exitOf(child);
    await new Promise<void>((resolve, reject) => {
      const started = Date.now();
      const t = setInterval(() => {
        if (READY_LINE.test(text)) {
          clearInterval(t);
          resolve();
        } else if (Date.now() - started > READY_TIMEOUT_MS) {
          clearInterval(t);
          reject(new Error(`redis-server did not start:\n${text}`));
        }
      }, 20);
      void exited.then((s) => {
        clearInterval(t);
        reject(new Error(`redis-server exited (code ${s.code}, signal ${s.signal}) during start-up:\n${text}`));
      });
    });
  };
  await launch();
  if (opts.cluster === true) {
    await redisCli(['-p', String(port), 'cluster', 'addslotsrange', '0', '16383']);
    const end = Date.now() + READY_TIMEOUT_MS;
    while (!/cluster_state:ok/.test(await redisCli(['-p', String(port), 'cluster', 'info']))) {
      if (Date.now() > end) throw new Error('the one-node Redis Cluster did not come up');
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url,
    get pid() {
      return child.pid!;
    },
    dir,
    log: () => text,
    stop: () => stopChild(child, 'SIGTERM', STOP_GRACE_MS),
    restart: launch,
    close: async () => {
      await stopChild(child, 'SIGTERM', STOP_GRACE_MS);
      fs.rmSync(dir, { recursive: true, force: true });
      untrackPath(dir);
    },
  };
}
