// The example configuration shipped with the repository loads, with no
// warnings: an operator copying it starts from a file that is all meaning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseConfig } from '../../src/main/config/load';
import { GatewayAdmission } from '../../src/main/admission/gateway-admission';

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

test("ocserv's ban keys are read (not ignored) and become the admission engine's ban points", () => {
  const text = fs.readFileSync(path.join(__dirname, '..', '..', '..', 'src', 'main', 'config', 'example.conf'), 'utf8');
  const { config, warnings } = parseConfig(`${text}max-ban-score = 0\nban-reset-time = 600\nban-points-connection = 2\n`, { source: 'x.conf', baseDir: '/etc/wolfguard' });
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.banScore, { maxBanScore: 0, banResetTime: 600, pointsConnection: 2 });
  const adm = new GatewayAdmission(config);
  try {
    assert.equal(adm.engine.activeRules.banScore.maxBanScore, 0, 'max-ban-score = 0 turns ban points off, as in ocserv');
    assert.equal(adm.engine.activeRules.banScore.pointsConnection, 2);
    for (let i = 0; i < 200; i++) assert.equal(adm.checkConnect('192.0.2.1').allow, true);
  } finally {
    adm.close();
  }
});
