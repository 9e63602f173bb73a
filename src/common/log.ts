// One logger for the whole gateway: pino, JSON lines on stderr, level from
// WOLFGUARD_LOG_LEVEL (default info). Workers log through the same factory.
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(name = 'wolfguard'): Logger {
  return pino({ name, level: process.env.WOLFGUARD_LOG_LEVEL ?? 'info' }, pino.destination(2));
}
