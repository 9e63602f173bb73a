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

/**
 * The check of a kernel-facing knob whose 0 leaves the kernel's default:
 * why `n` is neither 0 nor an integer in min..max, or undefined when it is.
 */
export function zeroOrRangeProblem(n: number, what: string, min: number, max: number, unit: string): string | undefined {
  if (Number.isInteger(n) && (n === 0 || (n >= min && n <= max))) return undefined;
  return `${what} must be 0 (the kernel's default) or ${min}..${max} ${unit}, got ${String(n)}`;
}
