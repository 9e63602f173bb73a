// The CLI as a user runs it: `wolfguard passwd` (ocpasswd's options, password
// on stdin) and config checking with -t; exit codes 0/1/2 and messages
// without stack traces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PasswordFile, verifyUser } from '../../src/main/users/password-file';

// The compiled CLI next to this compiled test (dist/ or a private build dir).
const CLI = path.resolve(__dirname, '../../src/main/cli.js');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], input = '', env: NodeJS.ProcessEnv = {}): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function withDir(f: (dir: string) => Promise<void> | void): () => Promise<void> {
  return async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-cli-'));
    try {
      await f(dir);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
}

function assertNoStack(r: Run): void {
  assert.doesNotMatch(r.stderr, /^\s+at /m, `stack trace in: ${r.stderr}`);
}

test(
  'passwd: add, change with -g, lock, unlock, delete',
  withDir(async (dir) => {
    const file = path.join(dir, 'ocpasswd');
    let r = run(['passwd', '-c', file, 'alice'], 'first-pw\n');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /added user "alice"/);
    assert.match(fs.readFileSync(file, 'utf8'), /^alice:\*:\$6\$[^:\n]+\n$/);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(await verifyUser(PasswordFile.load(file), 'alice', 'first-pw'), { ok: true, groups: [] });

    r = run(['passwd', '-c', file, '-g', 'admins,ops', 'alice'], 'second-pw\r\n');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /changed the password of "alice"/);
    const pf = PasswordFile.load(file);
    assert.deepEqual(await verifyUser(pf, 'alice', 'second-pw'), { ok: true, groups: ['admins', 'ops'] }, 'CRLF from stdin is not part of the password');

    r = run(['passwd', '-c', file, 'bob'], 'bob-pw');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(run(['passwd', '-c', file, '-l', 'alice']).status, 0);
    assert.match(fs.readFileSync(file, 'utf8'), /^alice:admins,ops:!\$6\$/m);
    assert.deepEqual(await verifyUser(pf, 'alice', 'second-pw'), { ok: false });
    assert.equal(run(['passwd', '--passwd', file, '--unlock', 'alice']).status, 0);
    assert.deepEqual(await verifyUser(pf, 'alice', 'second-pw'), { ok: true, groups: ['admins', 'ops'] });
    r = run(['passwd', '-c', file, '-d', 'bob']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /deleted user "bob"/);
    assert.doesNotMatch(fs.readFileSync(file, 'utf8'), /^bob:/m);
    assert.equal(fs.existsSync(`${file}.tmp`), false);
  }),
);

const usageCases: Array<{ name: string; args: (file: string) => string[]; match: RegExp }> = [
  { name: 'no user', args: (f) => ['passwd', '-c', f], match: /missing user name/ },
  { name: 'two actions', args: (f) => ['passwd', '-c', f, '-d', '-l', 'alice'], match: /only one of -d, -l and -u/ },
  { name: '-g with -d', args: (f) => ['passwd', '-c', f, '-g', 'x', '-d', 'alice'], match: /-g applies only/ },
  { name: 'colon in the user name', args: (f) => ['passwd', '-c', f, 'a:b'], match: /may not contain ":"/ },
  { name: 'colon in the group', args: (f) => ['passwd', '-c', f, '-g', 'a:b', 'alice'], match: /group may not contain/ },
  { name: 'unknown option', args: (f) => ['passwd', '-c', f, '--frobnicate', 'alice'], match: /unknown option/ },
  { name: 'two user names', args: (f) => ['passwd', '-c', f, 'alice', 'bob'], match: /too many arguments|excess/i },
  { name: '-c without a file', args: () => ['passwd', '-c'], match: /argument missing|-c/ },
  { name: 'unknown top-level option', args: () => ['--frobnicate'], match: /unknown option/ },
  { name: 'unknown command', args: () => ['frobnicate'], match: /unknown command|too many arguments|excess/i },
];

for (const c of usageCases) {
  test(
    `bad command line exits 2 with a message: ${c.name}`,
    withDir((dir) => {
      const file = path.join(dir, 'ocpasswd');
      const r = run(c.args(file), 'pw\n');
      assert.equal(r.status, 2, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stderr, c.match);
      assert.match(r.stderr, /^wolfguard/m);
      assertNoStack(r);
      assert.equal(fs.existsSync(file), false, 'nothing written');
    }),
  );
}

const failureCases: Array<{ name: string; setup?: (file: string) => void; args: (file: string) => string[]; input?: string; match: RegExp }> = [
  { name: 'empty password on stdin', args: (f) => ['passwd', '-c', f, 'alice'], input: '\n', match: /password/ },
  { name: 'no stdin at all', args: (f) => ['passwd', '-c', f, 'alice'], input: '', match: /password/ },
  { name: 'delete from a missing file', args: (f) => ['passwd', '-c', f, '-d', 'alice'], match: /does not exist/ },
  { name: 'lock a user not in the file', setup: (f) => fs.writeFileSync(f, 'bob:*:$6$a$b\n'), args: (f) => ['passwd', '-c', f, '-l', 'alice'], match: /no user "alice"/ },
  { name: 'malformed file is not rewritten', setup: (f) => fs.writeFileSync(f, 'bob:*:$6$a$b\nbroken\n'), args: (f) => ['passwd', '-c', f, 'alice'], input: 'pw\n', match: /line 2/ },
  { name: 'locked by a .tmp file', setup: (f) => (fs.writeFileSync(f, 'bob:*:$6$a$b\n'), fs.writeFileSync(`${f}.tmp`, '')), args: (f) => ['passwd', '-c', f, 'alice'], input: 'pw\n', match: /locked/ },
];

for (const c of failureCases) {
  test(
    `failure exits 1 with a message: ${c.name}`,
    withDir((dir) => {
      const file = path.join(dir, 'ocpasswd');
      c.setup?.(file);
      const before = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
      const r = run(c.args(file), c.input ?? '');
      assert.equal(r.status, 1, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stderr, c.match);
      assertNoStack(r);
      assert.equal(fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null, before, 'file unchanged');
    }),
  );
}

test(
  '-t checks a configuration: warnings and success, or the failing key and line',
  withDir((dir) => {
    const good = path.join(dir, 'good.conf');
    fs.writeFileSync(good, ['server-cert = c.pem', 'server-key = k.pem', 'auth = "plain[passwd=ocpasswd]"', 'ipv4-network = 10.8.0.0/24', 'pid-file = /run/ocserv.pid'].join('\n'));
    let r = run(['-c', good, '-t']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /key pid-file is an ocserv option wolfguard does not implement; ignored/);
    assert.match(r.stderr, /is valid/);

    const bad = path.join(dir, 'bad.conf');
    fs.writeFileSync(bad, ['server-cert = c.pem', 'server-key = k.pem', 'tcp-port = 99999', 'auth = "plain[passwd=ocpasswd]"', 'ipv4-network = 10.8.0.0/24'].join('\n'));
    r = run(['--config', bad, '--test-config']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /line 3: tcp-port: 99999 is outside 1\.\.65535/);
    assertNoStack(r);

    r = run(['-c', path.join(dir, 'missing.conf'), '-t']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /does not exist/);
  }),
);

test(
  '-t checks the per-group/user files too: a group pool outside ipv4-network fails naming file and line',
  withDir((dir) => {
    const groups = path.join(dir, 'groups');
    fs.mkdirSync(groups);
    fs.writeFileSync(path.join(groups, 'eng'), 'ipv4-network = 10.8.0.128/25\n');
    const conf = path.join(dir, 'gw.conf');
    fs.writeFileSync(conf, ['server-cert = c.pem', 'server-key = k.pem', 'auth = "plain[passwd=ocpasswd]"', 'ipv4-network = 10.8.0.0/24', `config-per-group = ${groups}`].join('\n'));
    let r = run(['-c', conf, '-t']);
    assert.equal(r.status, 0, r.stderr);
    fs.writeFileSync(path.join(groups, 'ops'), '# ops\nipv4-network = 10.9.0.0/24\n');
    r = run(['-c', conf, '-t']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`${groups}/ops:2: ipv4-network: 10\\.9\\.0\\.0/24 is not inside the gateway's ipv4-network 10\\.8\\.0\\.0/24`));
    assertNoStack(r);
  }),
);

test(
  '-t without -c makes the embedded default once and prints the admin password once',
  withDir((dir) => {
    const env = { WOLFGUARD_STATE_DIR: path.join(dir, 'state') };
    let r = run(['-t', '-f'], '', env);
    assert.equal(r.status, 0, r.stderr);
    const m = /first start — user "admin", password "([A-Za-z0-9_-]{24})" \(shown once; stored hashed in (.+)\)/.exec(r.stderr);
    assert.ok(m, r.stderr);
    assert.equal(m[2], path.join(dir, 'state', 'ocpasswd'));
    r = run(['-t'], '', env);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /first start/);
  }),
);
