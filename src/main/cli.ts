#!/usr/bin/env node
// `wolfguard` / `npm start`.
//   wolfguard [-c FILE] [-f] [-t]     run the gateway (ocserv's -c/-f/-t)
//   wolfguard passwd [-c FILE] [-g GROUP] [-d|-l|-u] USER    ocpasswd
// Exit codes: 0 done, 1 failure, 2 bad command line. Messages, never stack
// traces (WOLFGUARD_DEBUG=1 adds them for internal errors).
import * as os from 'node:os';
import { Command, CommanderError } from 'commander';
import { isWolfguardError } from '../common/errors';
import { defaultStateDir, ensureDefaultConfig } from './config/default-config';
import { loadConfigFile } from './config/load';
import type { GatewayConfig } from './config/types';
import { checkSupConfigOf } from './auth/sup-pool';
import { passwdArgsFrom, runPasswdCommand, type PasswdArgs } from './users/passwd-command';
import { stdinPasswordSource } from './users/read-password';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

const NAME = 'wolfguard';

class UsageError extends Error {}

function say(line: string): void {
  process.stderr.write(`${NAME}: ${line}\n`);
}

async function loadConfig(file: string | undefined): Promise<GatewayConfig> {
  if (file !== undefined) {
    const { config, warnings } = loadConfigFile(file);
    for (const w of warnings) say(`warning: ${w}`);
    return config;
  }
  const d = await ensureDefaultConfig(defaultStateDir());
  for (const w of d.warnings) say(`warning: ${w}`);
  if (d.createdUser) {
    say(`first start — user "${d.createdUser.username}", password "${d.createdUser.password}" (shown once; stored hashed in ${d.passwdFile})`);
  }
  return d.config;
}

function program(run: { action?: () => Promise<void> }): Command {
  const root = new Command(NAME)
    .description('OpenConnect/AnyConnect-compatible VPN gateway (ocserv configuration syntax)')
    .option('-c, --config <file>', 'configuration file in ocserv syntax (default: an embedded configuration kept in $WOLFGUARD_STATE_DIR or ./.wolfguard-state)')
    .option('-f, --foreground', 'run in the foreground (wolfguard always does; accepted for ocserv compatibility)')
    .option('-t, --test-config', 'check the configuration and exit')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(`${NAME}: ${str}`) });
  root.action(() => {
    const opts = root.opts<{ config?: string; testConfig?: boolean }>();
    run.action = async () => {
      const config = await loadConfig(opts.config);
      if (opts.testConfig) {
        checkSupConfigOf(config);
        say(`configuration ${config.source} is valid`);
        return;
      }
      // Loaded only here: `wolfguard passwd` should not pull in the whole gateway.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { runGateway } = require('./gateway') as typeof import('./gateway');
      await runGateway(config);
    };
  });
  root
    .command('passwd')
    .description("manage an ocpasswd-format password file, like ocserv's ocpasswd")
    .argument('[user]', 'user name')
    .option('-c, --passwd <file>', 'password file (default: /etc/ocserv/ocpasswd, as ocpasswd)')
    .option('-g, --groupname <group>', 'group(s) of the user, comma-separated (default for a new user: "*", none)')
    .option('-d, --delete', 'delete the user')
    .option('-l, --lock', 'lock the user (refuse its logins)')
    .option('-u, --unlock', 'unlock the user')
    .option('--totp <otp-file>', "give the user a new TOTP secret in this OTP users file (auth = \"plain[otp=FILE]\") and print its otpauth:// URI; the password is left alone")
    .option('--issuer <name>', 'issuer shown by authenticator apps (with --totp)', 'wolfguard')
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(`${NAME} passwd: ${str}`) })
    .action((user: string | undefined, opts: { passwd?: string; groupname?: string; delete?: boolean; lock?: boolean; unlock?: boolean; totp?: string; issuer: string }) => {
      if (opts.totp !== undefined) {
        if (user === undefined) throw new UsageError('missing user name');
        if (opts.delete || opts.lock || opts.unlock || opts.groupname !== undefined) throw new UsageError('--totp cannot be combined with -d, -l, -u or -g');
        const { totp: file, issuer } = opts;
        run.action = async () => {
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          const { enrolTotp, qrForTerminal } = require('./users/totp-enrol') as typeof import('./users/totp-enrol');
          const r = enrolTotp(file, user, issuer);
          process.stdout.write(`enrolled "${user}" in ${file}\n${r.uri}\n`);
          if (process.stdout.isTTY) process.stdout.write(await qrForTerminal(r.uri));
        };
        return;
      }
      let args: PasswdArgs;
      try {
        args = passwdArgsFrom({ ...opts, group: opts.groupname }, user);
      } catch (e) {
        throw new UsageError(isWolfguardError(e) ? e.message : String(e));
      }
      run.action = async () => {
        process.stdout.write(`${await runPasswdCommand(args, stdinPasswordSource())}\n`);
      };
    });
  return root;
}

export async function main(argv: string[]): Promise<number> {
  // crypt(3) for logins runs on libuv's threadpool (4 threads by default):
  // one per core, set before anything starts the pool.
  process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, os.availableParallelism()));
  const run: { action?: () => Promise<void> } = {};
  try {
    await program(run).parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version are "errors" to commander; they are success to us.
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version' ? EXIT_OK : EXIT_USAGE;
    }
    if (e instanceof UsageError) {
      say(`passwd: ${e.message} (see wolfguard passwd --help)`);
      return EXIT_USAGE;
    }
    throw e;
  }
  if (!run.action) return EXIT_OK;
  try {
    await run.action();
    return EXIT_OK;
  } catch (e) {
    if (isWolfguardError(e)) {
      say(e.message);
    } else {
      say(`internal error: ${e instanceof Error ? e.message : String(e)}`);
      if (process.env.WOLFGUARD_DEBUG && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
    }
    return EXIT_FAILURE;
  }
}

if (require.main === module) {
  main(process.argv).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      say(`internal error: ${e instanceof Error ? e.message : String(e)}`);
      process.exitCode = EXIT_FAILURE;
    },
  );
}
