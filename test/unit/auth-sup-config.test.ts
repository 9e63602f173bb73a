// Per-user/per-group configuration files (ocserv's config-per-user/-group).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { effectiveNetwork, loadSupConfig, parseSupConfig } from '../../src/main/auth/sup-config';

test('keys read, repeated keys add up, bad and unimplemented keys warned about', () => {
  const table: Array<[string, object, number]> = [
    ['route = 10.1.0.0/16\nroute = 10.2.0.0/255.255.0.0\n', { routes: ['10.1.0.0/16', '10.2.0.0/16'] }, 0],
    ['route = default\nroute = 10.1.0.0/16\n', { routes: [], fullTunnel: true }, 0],
    ['no-route = 10.3.0.0/16\n', { noRoutes: ['10.3.0.0/16'] }, 0],
    ['dns = 10.0.0.53\nipv6-dns = fd00::53\ndns = 10.0.0.53\n', { dns: ['10.0.0.53', 'fd00::53'] }, 0],
    ['route = 10.1.0.1/16\n', {}, 1],
    ['dns = nonsense\n', {}, 1],
    ['no-route = default\n', {}, 1],
    ['mtu = 1400\n', {}, 1],
    ['frobnicate = 1\n', {}, 1],
  ];
  for (const [text, want, warnings] of table) {
    const r = parseSupConfig(text, 'f');
    assert.deepEqual(r.config, want, text);
    assert.equal(r.warnings.length, warnings, `${text}: ${r.warnings.join('; ')}`);
  }
});

test('fuzz: any text gives a config and warnings, never a throw', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (s) => {
      parseSupConfig(s, 'f');
    }),
    { numRuns: 1000 },
  );
});

test('group then user file; defaults when no file matches; names cannot leave the directory', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-sup-'));
  try {
    const users = path.join(dir, 'users');
    const groups = path.join(dir, 'groups');
    fs.mkdirSync(users);
    fs.mkdirSync(groups);
    fs.writeFileSync(path.join(groups, 'eng'), 'route = 10.1.0.0/16\n');
    fs.writeFileSync(path.join(users, 'alice'), 'route = 10.9.0.0/16\ndns = 10.0.0.53\n');
    fs.writeFileSync(path.join(dir, 'default-user'), 'dns = 10.0.0.1\n');
    fs.writeFileSync(path.join(dir, 'secret'), 'route = 10.66.0.0/16\n');
    const dirs = { perUser: users, perGroup: groups, defaultUser: path.join(dir, 'default-user') };
    assert.deepEqual(loadSupConfig(dirs, 'alice', 'eng').config, { routes: ['10.1.0.0/16', '10.9.0.0/16'], dns: ['10.0.0.53'] });
    assert.deepEqual(loadSupConfig(dirs, 'bob', 'eng').config, { routes: ['10.1.0.0/16'], dns: ['10.0.0.1'] });
    assert.deepEqual(loadSupConfig(dirs, 'bob', undefined).config, { dns: ['10.0.0.1'] });
    assert.deepEqual(loadSupConfig({ perUser: users }, '../secret', undefined).config, {});
    assert.deepEqual(loadSupConfig({ perGroup: groups }, 'x', '../secret').config, {});
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('effective network: replace by default, append with append-routes', () => {
  const global = { routes: ['10.0.0.0/8'], noRoutes: ['10.5.0.0/16'], dns: ['10.0.0.1'] };
  assert.deepEqual(effectiveNetwork({}, global, false), global);
  assert.deepEqual(effectiveNetwork({ routes: ['192.168.0.0/16'] }, global, false), { routes: ['192.168.0.0/16'], noRoutes: ['10.5.0.0/16'], dns: ['10.0.0.1'] });
  assert.deepEqual(effectiveNetwork({ routes: ['192.168.0.0/16'], noRoutes: ['10.6.0.0/16'] }, global, true), { routes: ['192.168.0.0/16', '10.0.0.0/8'], noRoutes: ['10.6.0.0/16', '10.5.0.0/16'], dns: ['10.0.0.1'] });
  assert.deepEqual(effectiveNetwork({ dns: ['10.0.0.53'] }, global, true).dns, ['10.0.0.53']);
});
