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
