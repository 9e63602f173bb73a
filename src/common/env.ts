// Tuning knobs read from the environment (listed in tuning.md). A value that
// is set but not a positive integer is an error, not silently the default.
import { ErrorCodes, WolfguardError } from './errors';

export function envInt(name: string, fallback: number, allowZero = false): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0 || (n === 0 && !allowZero)) {
    throw new WolfguardError(ErrorCodes.CONFIG_INVALID, `${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/**
 * envInt with zero allowed, then a knob's own range: `problemOf` says why a
 * value is not acceptable (undefined when it is), and that becomes the
 * CONFIG_INVALID message, prefixed with the variable's name.
 */
export function envIntChecked(name: string, fallback: number, problemOf: (n: number) => string | undefined): number {
  const n = envInt(name, fallback, true);
  const problem = problemOf(n);
  if (problem !== undefined) throw new WolfguardError(ErrorCodes.CONFIG_INVALID, `${name}: ${problem}`);
  return n;
}
