// wolfguard-ctl and wolfguard as an operator meets them without a gateway:
// --help on every command, where the admin socket is looked for, and that
// docs/wolfguard-ctl.md describes every command there is.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { socketPath } from '../../src/main/ctl';

const OUT_SRC = path.join(__dirname, '..', '..', 'src', 'main');
const CTL = path.join(OUT_SRC, 'ctl.js');
const CLI = path.join(OUT_SRC, 'cli.js');
/** Every wolfguard-ctl command, as typed. */
const CTL_COMMANDS = ['status', 'show users', 'show user', 'show session', 'show bans', 'show rules', 'disconnect', 'terminate', 'ban', 'block_ip', 'unban', 'reload', 'reload_rules', 'stop'];
const MINIMAL = ['server-cert = /c.pem', 'server-key = /k.pem', 'auth = "plain[passwd=/etc/ocserv/ocpasswd]"', 'ipv4-network = 10.1.0.0/16'];

let dir: string;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-ctl-cli-'));
});

after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function run(file: string, args: string[]) {
  const r = spawnSync(process.execPath, [file, ...args], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, WOLFGUARD_STATE_DIR: path.join(dir, 'state') } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A file of the repository, found upwards from this build (dist/ or a private .build-*). */
function repoFile(...p: string[]): string {
  let d = __dirname;
  while (!fs.existsSync(path.join(d, 'package.json')) && path.dirname(d) !== d) d = path.dirname(d);
  return path.join(d, ...p);
}

test('wolfguard-ctl --help and every command --help print usage and exit 0', () => {
  const top = run(CTL, ['--help']);
  assert.equal(top.code, 0, top.stderr);
  for (const c of ['status', 'show', 'disconnect', 'terminate', 'ban', 'block_ip', 'unban', 'reload', 'reload_rules', 'stop', '--json', '--socket', '--config']) assert.ok(top.stdout.includes(c), `top-level help names ${c}`);
  for (const c of CTL_COMMANDS) {
    const r = run(CTL, [...c.split(' '), '--help']);
    assert.equal(r.code, 0, `${c} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^Usage: wolfguard-ctl ${c} `, 'm'), `${c} --help`);
  }
});

test('wolfguard --help and wolfguard passwd --help print usage and exit 0', () => {
  for (const args of [['--help'], ['passwd', '--help']]) {
    const r = run(CLI, args);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: wolfguard /m);
  }
});

test('a bad command line exits 2 with a message, not a stack trace', () => {
  for (const args of [[], ['frobnicate'], ['show', 'users', '--bogus'], ['disconnect', 'group', 'x'], ['show', 'session']]) {
    const r = run(CTL, ['--socket', path.join(dir, 'none.sock'), ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    // No command at all: the usage text itself, on stderr.
    assert.match(r.stderr, /^(wolfguard-ctl: |Usage: wolfguard-ctl )/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('the socket: --socket wins, else occtl-socket-file of -c FILE, else the default state directory', () => {
  const conf = path.join(dir, 'gw.conf');
  fs.writeFileSync(conf, [...MINIMAL, 'occtl-socket-file = /run/wg-test/occtl.socket', ''].join('\n'));
  assert.equal(socketPath({ socket: '/x.sock', config: conf }), '/x.sock');
  assert.equal(socketPath({ config: conf }), '/run/wg-test/occtl.socket');
  const rel = path.join(dir, 'rel.conf');
  fs.writeFileSync(rel, [...MINIMAL, 'occtl-socket-file = run/ctl.sock', ''].join('\n'));
  assert.equal(socketPath({ config: rel }), path.join(dir, 'run', 'ctl.sock'), 'relative to the configuration file, as the gateway reads it');
  assert.equal(socketPath({}, { WOLFGUARD_STATE_DIR: '/var/lib/wg' }), '/var/lib/wg/occtl.socket');
});

test('-c FILE that enables no socket, or is no configuration, exits 1 naming the file', () => {
  const off = path.join(dir, 'off.conf');
  fs.writeFileSync(off, [...MINIMAL, 'occtl-socket-file = /run/x.sock', 'use-occtl = false', ''].join('\n'));
  let r = run(CTL, ['-c', off, 'status']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /enables no admin socket/);
  r = run(CTL, ['-c', path.join(dir, 'missing.conf'), 'status']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /missing\.conf/);
  const bad = path.join(dir, 'bad.conf');
  fs.writeFileSync(bad, [...MINIMAL, 'tcp-port = banana', ''].join('\n'));
  r = run(CTL, ['-c', bad, 'status']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /tcp-port/);
  assert.match(r.stderr, /--socket PATH reaches the gateway/, 'says how to reach a gateway still running on its last good file');
});

test('a socket nobody listens on, and one not ours to open, are clear errors (exit 1)', () => {
  let r = run(CTL, ['--socket', path.join(dir, 'none.sock'), 'status']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no gateway listening on/);
  // A regular file where the socket should be: connect(2) refuses it.
  const notSock = path.join(dir, 'plain-file');
  fs.writeFileSync(notSock, '');
  r = run(CTL, ['--socket', notSock, '--json', 'status']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^wolfguard-ctl: /);
});

test('docs/wolfguard-ctl.md has a section and a JSON field list for every command', () => {
  const doc = fs.readFileSync(repoFile('docs', 'wolfguard-ctl.md'), 'utf8');
  const sections = doc.split(/^### /m).slice(1);
  for (const c of CTL_COMMANDS) {
    const s = sections.find((x) => x.split('\n')[0]!.split(' / ').some((h) => h.trim() === c));
    assert.ok(s, `a section for ${c}`);
    assert.match(s, /^JSON: `/m, `${c} lists its JSON fields`);
  }
});
