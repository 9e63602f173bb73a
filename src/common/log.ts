// One logger for the whole gateway: pino, level from WOLFGUARD_LOG_LEVEL
// (default info). JSON lines on stderr for journald and log shippers;
// readable text when stderr is a terminal (pino-pretty), or when
// WOLFGUARD_LOG_FORMAT=text asks for it (json forces JSON).
import pino from 'pino';

export type Logger = pino.Logger;

function wantText(): boolean {
  const f = process.env.WOLFGUARD_LOG_FORMAT;
  if (f === 'text') return true;
  if (f === 'json') return false;
  return process.stderr.isTTY === true;
}

/**
 * Fields that hold a secret wherever they appear: a line that carries one by
 * mistake (a whole login message logged while debugging) shows [redacted]
 * instead. The gateway logs none of them on purpose.
 */
export const REDACTED_FIELDS = ['password', 'secondaryPassword', 'cookie', 'context', 'key', 'secret', 'psk', 'masterSecret'];

const redact = { paths: [...REDACTED_FIELDS, ...REDACTED_FIELDS.map((f) => `*.${f}`)], censor: '[redacted]' };

export function createLogger(name = 'wolfguard'): Logger {
  const level = process.env.WOLFGUARD_LOG_LEVEL ?? 'info';
  if (wantText()) {
    // Synchronous (no transport thread): a gateway that is stopping must not lose its last lines.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pretty = require('pino-pretty') as (o: object) => NodeJS.WritableStream;
    return pino({ name, level, redact }, pretty({ destination: 2, sync: true, translateTime: 'SYS:standard', ignore: 'pid,hostname' }));
  }
  return pino({ name, level, redact }, pino.destination(2));
}
