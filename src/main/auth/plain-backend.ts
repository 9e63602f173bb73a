// auth = "plain[passwd=FILE,otp=FILE]": the ocpasswd file, then (with an OTP
// file) a second round asking for the TOTP code, as ocserv's plain.c does.
// The OTP round is reached only after the password matched; with an OTP file
// configured a user without a secret there cannot log in (neither factor
// stands in for the other).
import type { AuthBackend, AuthConversation, AuthPrompt, AuthStep } from './backend';
import { SECONDARY_PASSWORD_FIELD } from './backend';
import { LoginMessages } from '../../protocol/auth-xml';
import { verifyUser, type PasswordFile } from '../users/password-file';
import type { OtpChecker } from './otp-checker';

/** ocserv labels its n-th extra password field "Password<n>:". */
export const OTP_PROMPT: AuthPrompt = {
  message: LoginMessages.OTP,
  fields: [{ type: 'password', name: SECONDARY_PASSWORD_FIELD, label: 'Password1:' }],
};

export class PlainBackend implements AuthBackend {
  readonly name = 'plain';
  readonly #passwd: PasswordFile;
  readonly #otp: OtpChecker | undefined;

  constructor(passwd: PasswordFile, otp?: OtpChecker) {
    this.#passwd = passwd;
    this.#otp = otp;
  }

  start(user: string): AuthConversation {
    let round: 'password' | 'otp' | 'done' = 'password';
    let groups: string[] = [];
    return {
      answer: async (a, nowMs): Promise<AuthStep> => {
        if (round === 'password') {
          round = 'done';
          const r = await verifyUser(this.#passwd, user, a.password ?? '');
          if (!r.ok) return { kind: 'fail', reason: 'wrong user name or password' };
          if (!this.#otp) return { kind: 'ok', user, groups: r.groups };
          groups = r.groups;
          round = 'otp';
          return { kind: 'continue', prompt: OTP_PROMPT };
        }
        if (round === 'otp' && this.#otp) {
          round = 'done';
          const code = a.secondaryPassword ?? a.password ?? '';
          const r = this.#otp.check(user, code, nowMs);
          if (r.ok) return { kind: 'ok', user, groups };
          return { kind: 'fail', reason: r.reason === 'replayed' ? 'OTP code already used' : r.reason === 'no-secret' ? 'no OTP secret for this user' : 'wrong OTP code' };
        }
        return { kind: 'fail', reason: 'login already finished' };
      },
    };
  }
}
