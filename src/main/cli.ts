#!/usr/bin/env node
// `wolfguard` / `npm start`. The gateway is not built yet; until it is, say
// so plainly instead of pretending to serve.
import { addon } from '../../native/lib/addon';

function main(): number {
  const a = addon();
  process.stderr.write(
    `wolfguard: the gateway is not built yet (native addon loaded: wolfSSL ${a.wolfsslVersion}).\n` +
      'What works today is the native TLS/DTLS layer: see README.md, `npm test` and `npm run bench -- tls`.\n',
  );
  return 1;
}

process.exitCode = main();
