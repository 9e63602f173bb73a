// Tuning knobs from the environment (src/common/env.ts): a value that is set
// but wrong is a CONFIG_INVALID naming the variable, never the default.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { envInt, envIntChecked } from '../../src/common/env';
import { ErrorCodes, isWolfguardError } from '../../src/common/errors';
import { DEFAULT_DTLS_RCVBUF_BYTES, dtlsRcvBufProblem, planeSliceProblem } from '../../native/lib';

const NAME = 'WOLFGUARD_TEST_ENV_KNOB';

function withEnv<T>(value: string | undefined, f: () => T): T {
  if (value === undefined) delete process.env[NAME];
  else process.env[NAME] = value;
  try {
    return f();
  } finally {
    delete process.env[NAME];
  }
}

const invalid = (pattern: RegExp) => (e: unknown) => isWolfguardError(e, ErrorCodes.CONFIG_INVALID) && pattern.test((e as Error).message);

test('envInt: unset or empty gives the default; a number is taken; anything else names the variable', () => {
  assert.equal(withEnv(undefined, () => envInt(NAME, 7)), 7);
  assert.equal(withEnv('', () => envInt(NAME, 7)), 7);
  assert.equal(withEnv('12', () => envInt(NAME, 7)), 12);
  assert.equal(withEnv('0', () => envInt(NAME, 7, true)), 0);
  for (const bad of ['0', '-1', '1.5', 'x', '1e400']) assert.throws(() => withEnv(bad, () => envInt(NAME, 7)), invalid(new RegExp(`${NAME} must be a positive integer`)), bad);
});

test('envIntChecked: the knob\'s own range decides, and its reason is the message', () => {
  assert.equal(withEnv(undefined, () => envIntChecked(NAME, DEFAULT_DTLS_RCVBUF_BYTES, dtlsRcvBufProblem)), DEFAULT_DTLS_RCVBUF_BYTES);
  assert.equal(withEnv('0', () => envIntChecked(NAME, DEFAULT_DTLS_RCVBUF_BYTES, dtlsRcvBufProblem)), 0);
  assert.equal(withEnv('4194304', () => envIntChecked(NAME, DEFAULT_DTLS_RCVBUF_BYTES, dtlsRcvBufProblem)), 4_194_304);
  assert.throws(() => withEnv('5', () => envIntChecked(NAME, DEFAULT_DTLS_RCVBUF_BYTES, dtlsRcvBufProblem)), invalid(new RegExp(`^${NAME}: the DTLS socket receive buffer must be .* got 5$`)));
  assert.throws(() => withEnv('50', () => envIntChecked(NAME, 100, planeSliceProblem)), invalid(new RegExp(`^${NAME}: the data-plane slice must be .* got 50$`)));
  assert.throws(() => withEnv('-3', () => envIntChecked(NAME, 100, planeSliceProblem)), invalid(new RegExp(`${NAME} must be a non-negative integer`)));
});
