// The TOTP check of one login round: the user's secret from the OTP file,
// the code checked within ±1 step, and per user the last step accepted, so a
// code (or an older one) cannot be used twice. The last steps live in memory:
// a restart forgets them, which is at most one step window (90 s) of replay.
import { DEFAULT_STEP_SECONDS, verifyTotp } from './totp';
import type { OathFile } from '../users/oath-file';

export type OtpResult = { ok: true } | { ok: false; reason: 'no-secret' | 'malformed' | 'wrong' | 'replayed' };

export class OtpChecker {
  readonly #file: Pick<OathFile, 'lookup'>;
  readonly #lastStep = new Map<string, number>();

  constructor(file: Pick<OathFile, 'lookup'>) {
    this.#file = file;
  }

  check(user: string, code: string, nowMs: number): OtpResult {
    const e = this.#file.lookup(user);
    if (!e || e.stepSeconds === undefined) return { ok: false, reason: 'no-secret' };
    const r = verifyTotp({ key: e.key, digits: e.digits, stepSeconds: e.stepSeconds ?? DEFAULT_STEP_SECONDS }, code.trim(), nowMs / 1000, this.#lastStep.get(user));
    if (!r.ok) return r;
    this.#lastStep.set(user, r.step);
    return { ok: true };
  }
}
