// The example configuration shipped with the repository loads, with no
// warnings: an operator copying it starts from a file that is all meaning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseConfig } from '../../src/main/config/load';

test('src/main/config/example.conf loads cleanly', () => {
  const file = path.join(__dirname, '..', '..', '..', 'src', 'main', 'config', 'example.conf');
  const { config, warnings } = parseConfig(fs.readFileSync(file, 'utf8'), { source: file, baseDir: '/etc/wolfguard' });
  assert.deepEqual(warnings, []);
  assert.equal(config.tcpPort, 443);
  assert.equal(config.udpPort, 443);
  assert.deepEqual(config.ipv4Pool, { network: '10.77.0.0', prefix: 20 });
  assert.equal(config.adminSocket, '/run/wolfguard/occtl.socket');
  assert.equal(config.maxSameClients, 2);
});
