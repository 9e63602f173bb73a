import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tunFramingWanted, TUN_USO_ENV } from '../../src/main/tun-framing';
import { ErrorCodes, isWolfguardError } from '../../src/common/errors';

test('WOLFGUARD_TUN_USO: auto (the default) or off; anything else is CONFIG_INVALID naming the variable', () => {
  for (const spec of [undefined, '', ' ', 'auto', ' auto ']) assert.equal(tunFramingWanted(spec), 'auto', String(spec));
  assert.equal(tunFramingWanted('off'), 'plain');
  for (const spec of ['on', 'uso', '1', 'OFF']) {
    assert.throws(() => tunFramingWanted(spec), (e: unknown) => isWolfguardError(e, ErrorCodes.CONFIG_INVALID) && (e as Error).message.startsWith(`${TUN_USO_ENV}: expected auto or off`), spec);
  }
});
