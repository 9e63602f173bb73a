// Resource limits: defaults, configuration keys with their ranges, and
// environment overrides that are checked, not trusted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LIMITS, LIMIT_RANGES, effectiveLimits } from '../../src/main/limits';
import { parseConfig } from '../../src/main/config/load';
import { ErrorCodes, isWolfguardError } from '../../src/common/errors';

const conf = (extra: string) => parseConfig(`auth = "plain[passwd=/x]"\nserver-cert = /c\nserver-key = /k\nipv4-network = 192.168.90.0/24\n${extra}`, { source: '<t>', baseDir: '/' }).config;

test('defaults apply when nothing is set', () => {
  assert.deepEqual(effectiveLimits(conf(''), {}), DEFAULT_LIMITS);
  assert.deepEqual(effectiveLimits(undefined, {}), DEFAULT_LIMITS);
});

test('configuration keys set each limit, within its range', () => {
  const c = conf('handshake-timeout = 5\nmax-header-size = 8192\nmax-pending-handshakes = 64\ntunnel-queue-bytes = 262144\n');
  assert.deepEqual(effectiveLimits(c, {}), { handshakeTimeout: 5, maxHeaderBytes: 8192, maxPendingHandshakes: 64, tunnelQueueBytes: 262144 });
  const bad = ['handshake-timeout = 0', 'handshake-timeout = 301', 'max-header-size = 100', 'max-pending-handshakes = 0', 'tunnel-queue-bytes = 1', 'max-header-size = lots'];
  for (const line of bad) assert.throws(() => conf(`${line}\n`), (e: unknown) => isWolfguardError(e, ErrorCodes.CONFIG_INVALID), line);
});

test('environment overrides the file, and a bad value is refused', () => {
  const c = conf('max-pending-handshakes = 64\n');
  assert.equal(effectiveLimits(c, { WOLFGUARD_MAX_PENDING_HANDSHAKES: '8' }).maxPendingHandshakes, 8);
  assert.equal(effectiveLimits(c, { WOLFGUARD_HANDSHAKE_TIMEOUT: '' }).handshakeTimeout, DEFAULT_LIMITS.handshakeTimeout);
  for (const v of ['0', '-1', '1e3', 'x', String(LIMIT_RANGES.maxPendingHandshakes.max + 1)]) {
    assert.throws(() => effectiveLimits(c, { WOLFGUARD_MAX_PENDING_HANDSHAKES: v }), (e: unknown) => isWolfguardError(e, ErrorCodes.CONFIG_INVALID) && /WOLFGUARD_MAX_PENDING_HANDSHAKES/.test(e.message), v);
  }
});
