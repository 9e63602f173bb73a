// localFor: which address a session's DTLS socket answers from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { localFor } from '../../src/main/dtls-dispatch';

test('the DTLS socket answers from the address the TLS connection reached, of the peer family, else the wildcard', () => {
  const cases: Array<[string | undefined, string, string]> = [
    ['10.0.0.2', '10.0.0.9', '10.0.0.2'],
    ['::ffff:10.0.0.2', '10.0.0.9', '10.0.0.2'], // dual-stack listener reports IPv4 mapped
    ['fd00::2', 'fd00::9', 'fd00::2'],
    [undefined, '10.0.0.9', '0.0.0.0'],
    ['', 'fd00::9', '::'],
    ['fd00::2', '10.0.0.9', '0.0.0.0'], // families differ: never bind across them
    ['10.0.0.2', 'fd00::9', '::'],
  ];
  for (const [tls, peer, want] of cases) assert.equal(localFor(tls, peer), want, `${String(tls)} / ${peer}`);
});
