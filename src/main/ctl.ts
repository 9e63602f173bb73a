#!/usr/bin/env node
// `wolfguard-ctl`: the operator's commands over the gateway's admin socket
// (src/main/admin/server.ts), as occtl is to ocserv. The socket comes from
// --socket, else from the config file (-c, its occtl-socket-file), else from
// the embedded default's state directory. Tables on a terminal, --json for
// scripts. Exit codes: 0 done, 1 the gateway said no (or is not there),
// 2 bad command line.
import * as http from 'node:http';
import * as path from 'node:path';
import { Command, CommanderError } from 'commander';
import { isWolfguardError } from '../common/errors';
import { loadConfigFile } from './config/load';
import { STATE_FILES, defaultStateDir } from './config/default-config';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** The gateway answers from its main loop; a socket silent this long is wedged. */
const REQUEST_TIMEOUT_MS = 10_000;

class CtlError extends Error {}

interface Globals {
  socket?: string;
  config?: string;
  json?: boolean;
}

export function socketPath(g: Globals, env: NodeJS.ProcessEnv = process.env): string {
  if (g.socket) return g.socket;
  if (g.config) {
    let config;
    try {
      ({ config } = loadConfigFile(g.config));
    } catch (e) {
      // The running gateway may still have the last good file: say how to reach it anyway.
      throw new CtlError(`cannot take the admin socket from ${g.config}: ${(e as Error).message} (--socket PATH reaches the gateway without reading it)`);
    }
    if (!config.adminSocket) throw new CtlError(`${g.config} enables no admin socket (occtl-socket-file / use-occtl)`);
    return config.adminSocket;
  }
  return path.join(defaultStateDir(env), STATE_FILES.adminSocket);
}

function request(socket: string, method: 'GET' | 'POST', p: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, method, path: p, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      let t = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (t += d));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(t) as unknown });
        } catch {
          reject(new CtlError(`the admin socket answered something that is not JSON (HTTP ${res.statusCode})`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new CtlError(`no answer from ${socket} within ${REQUEST_TIMEOUT_MS / 1000} s`)));
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e instanceof CtlError) reject(e);
      else if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') reject(new CtlError(`no gateway listening on ${socket} (is it running? --socket / -c to choose)`));
      else if (e.code === 'EACCES') reject(new CtlError(`permission denied on ${socket} (the admin socket is root's)`));
      else reject(new CtlError(`${socket}: ${e.message}`));
    });
    req.end();
  });
}

type Print = (body: unknown) => void;

interface RateFields {
  max_connections_per_minute?: number;
  penalty_duration_sec?: number;
}

/** GET /rules (admin/views.ts rulesView), as far as the table printer reads it. */
interface RulesBody {
  rules: {
    default_action: string;
    default_rate_limit?: RateFields;
    dtls_handshakes_per_second: number;
    rules: Array<{ id: string; remote_addr: string; action: string } & RateFields>;
  };
  geofilter: null | {
    file: string;
    prefixes: Array<{ action: string; prefix: string; description?: string; line: number }>;
    countries: Array<{ action: string; country: string; description?: string; line: number }>;
    warnings: string[];
  };
}

function table(rows: Array<Record<string, unknown>>, columns: string[]): string {
  if (rows.length === 0) return '(none)\n';
  const cells = rows.map((r) => columns.map((c) => (r[c] === undefined || r[c] === null ? '' : Array.isArray(r[c]) ? (r[c] as unknown[]).join(',') : String(r[c]))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns), ...cells.map(line)].join('\n') + '\n';
}

const SESSION_COLUMNS = ['id', 'user', 'state', 'ipv4', 'ipv6', 'shard', 'peer', 'tunnels', 'createdAt'];

const printers = {
  sessions: ((b) => process.stdout.write(table(b as Array<Record<string, unknown>>, SESSION_COLUMNS))) as Print,
  session: ((b) => process.stdout.write(table([b as Record<string, unknown>], SESSION_COLUMNS))) as Print,
  bans: ((b) => process.stdout.write(table(b as Array<Record<string, unknown>>, ['prefix', 'reason', 'until', 'score']))) as Print,
  status: ((b) => {
    const s = b as Record<string, unknown> & { shards: Array<Record<string, unknown>> };
    // Nested facts (fips: { enabled, validatedModule, module }) as one line each, "fips.enabled".
    const flat = (prefix: string, o: Record<string, unknown>): Array<[string, unknown]> =>
      Object.entries(o).flatMap(([k, v]) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? flat(`${prefix}${k}.`, v as Record<string, unknown>) : [[`${prefix}${k}`, v] as [string, unknown]]));
    const lines = flat('', s)
      .filter(([k]) => k !== 'shards')
      .map(([k, v]) => `${k.padEnd(22)} ${String(v)}`);
    process.stdout.write(`${lines.join('\n')}\n\n${table(s.shards, ['shard', 'live', 'total', 'restarts', 'tunnels', 'dtls'])}`);
  }) as Print,
  rules: ((b) => {
    const r = b as RulesBody;
    const out: string[] = [];
    const rate = (x: { max_connections_per_minute?: number; penalty_duration_sec?: number }) =>
      x.max_connections_per_minute === undefined ? '' : `${x.max_connections_per_minute}/min, penalty ${x.penalty_duration_sec} s`;
    out.push(`default ${r.rules.default_action}${r.rules.default_rate_limit ? ` (${rate(r.rules.default_rate_limit)})` : ''}`);
    out.push(`dtls handshakes per second per address: ${r.rules.dtls_handshakes_per_second || 'unlimited'}`, '');
    out.push(table(r.rules.rules.map((x) => ({ ...x, rate: rate(x) })), ['id', 'remote_addr', 'action', 'rate']).trimEnd(), '');
    if (r.geofilter === null) out.push('geofilter: none');
    else {
      out.push(`geofilter ${r.geofilter.file}`);
      const lines = [...r.geofilter.prefixes.map((p) => ({ line: p.line, action: p.action, target: p.prefix, description: p.description })), ...r.geofilter.countries.map((c) => ({ line: c.line, action: `${c.action}-country`, target: c.country, description: c.description }))];
      out.push(table(lines.sort((x, y) => x.line - y.line), ['line', 'action', 'target', 'description']).trimEnd());
      for (const w of r.geofilter.warnings) out.push(`warning: ${w}`);
    }
    process.stdout.write(`${out.join('\n')}\n`);
  }) as Print,
  // What a command did, one fact a line ("disconnected  3f9a..., 77c1...").
  done: ((b) => {
    const o = b as Record<string, unknown>;
    const text = (v: unknown) => (Array.isArray(v) ? (v.length === 0 ? '(none)' : v.join(', ')) : v === null ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v));
    const width = Math.max(...Object.keys(o).map((k) => k.length));
    process.stdout.write(Object.entries(o).map(([k, v]) => `${k.padEnd(width)}  ${text(v)}`).join('\n') + '\n');
  }) as Print,
};

function program(run: { action?: () => Promise<number> }): Command {
  const root = new Command('wolfguard-ctl')
    .description("control a running wolfguard gateway over its admin socket (like ocserv's occtl)")
    .option('-s, --socket <path>', 'admin socket (default: from -c, else the embedded default state directory)')
    .option('-c, --config <file>', 'the gateway configuration file (its occtl-socket-file)')
    .option('-j, --json', 'print JSON instead of tables')
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(`wolfguard-ctl: ${str}`) });

  const call = (method: 'GET' | 'POST', p: string, print: Print) => {
    run.action = async () => {
      const g = root.opts<Globals>();
      const r = await request(socketPath(g), method, p);
      if (r.status >= 400) {
        const err = (r.body as { error?: string }).error ?? `HTTP ${r.status}`;
        process.stderr.write(`wolfguard-ctl: ${err}\n`);
        return EXIT_FAILURE;
      }
      if (g.json) process.stdout.write(`${JSON.stringify(r.body, null, 2)}\n`);
      else print(r.body);
      return EXIT_OK;
    };
  };
  const enc = encodeURIComponent;
  const kind = (k: string) => {
    if (k !== 'user' && k !== 'id') throw new CtlError(`expected "user" or "id", got ${JSON.stringify(k)}`);
    return k === 'user' ? 'users' : 'sessions';
  };

  root.command('status').description('uptime, sessions, shards, traffic').action(() => call('GET', '/status', printers.status));
  const show = root.command('show').description('show users, a user, a session, bans, rules');
  show.command('users').description('every session').action(() => call('GET', '/sessions', printers.sessions));
  show.command('user').argument('<name>').description("a user's sessions").action((n: string) => call('GET', `/users/${enc(n)}`, printers.sessions));
  show.command('session').argument('<id>').description('one session').action((id: string) => call('GET', `/sessions/${enc(id)}`, printers.session));
  show.command('bans').description('banned addresses').action(() => call('GET', '/bans', printers.bans));
  show.command('rules').description('the admission rules and the geofilter in force').action(() => call('GET', '/rules', printers.rules));
  root
    .command('disconnect')
    .argument('<user|id>', '"user" or "id"')
    .argument('<value>')
    .description('close the connection(s); the cookie stays valid and the client reconnects')
    .action((k: string, v: string) => call('POST', `/${kind(k)}/${enc(v)}/disconnect`, printers.done));
  root
    .command('terminate')
    .argument('<user|id>', '"user" or "id"')
    .argument('<value>')
    .description('end the session(s) for good; the cookie stops working')
    .action((k: string, v: string) => call('POST', `/${kind(k)}/${enc(v)}/terminate`, printers.done));
  for (const name of ['ban', 'block_ip']) {
    root
      .command(name)
      .argument('<ip>', 'address or prefix')
      .option('--seconds <n>', 'how long (default: until unbanned)')
      .description('refuse connections from an address or prefix')
      .action((ip: string, o: { seconds?: string }) => call('POST', `/bans?prefix=${enc(ip)}${o.seconds ? `&seconds=${enc(o.seconds)}` : ''}`, printers.done));
  }
  root.command('unban').argument('<ip>').description('lift a ban').action((ip: string) => call('POST', `/unban?prefix=${enc(ip)}`, printers.done));
  root.command('reload').description('re-read the configuration file and the admission rules, as SIGHUP (sessions stay)').action(() => call('POST', '/reload-config', printers.done));
  root.command('reload_rules').description('re-read the admission rules and the geofilter alone').action(() => call('POST', '/reload', printers.done));
  root.command('stop').description('stop the gateway').action(() => call('POST', '/stop', printers.done));
  return root;
}

export async function main(argv: string[]): Promise<number> {
  const run: { action?: () => Promise<number> } = {};
  try {
    await program(run).parseAsync(argv);
    if (!run.action) {
      process.stderr.write('wolfguard-ctl: no command (see --help)\n');
      return EXIT_USAGE;
    }
    return await run.action();
  } catch (e) {
    // --help is success; help shown because a command was missing ("show" alone) is a usage error.
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    if (e instanceof CtlError || isWolfguardError(e)) {
      process.stderr.write(`wolfguard-ctl: ${(e as Error).message}\n`);
      return e instanceof CtlError && /expected "user"/.test(e.message) ? EXIT_USAGE : EXIT_FAILURE;
    }
    throw e;
  }
}

if (require.main === module) {
  main(process.argv).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`wolfguard-ctl: internal error: ${(e as Error).message}\n`);
      process.exit(EXIT_FAILURE);
    },
  );
}
