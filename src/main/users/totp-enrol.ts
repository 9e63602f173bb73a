// `wolfguard passwd --totp FILE USER`: gives USER a fresh TOTP secret in the
// OTP users file (liboath format, as auth = "plain[otp=FILE]" reads it) and
// shows the otpauth:// URI an authenticator app imports, with a QR code of it
// when the output is a terminal.
import { randomBytes } from '../../../native/lib/wolfcrypt';
import { otpauthUri, DEFAULT_DIGITS, DEFAULT_STEP_SECONDS } from '../auth/totp';
import { OathFile, oathLine } from './oath-file';
import { userNameProblem } from './ocpasswd';
import { ErrorCodes, WolfguardError } from '../../common/errors';

/** 160-bit secrets: RFC 4226 recommends them, and every authenticator app takes them. */
export const TOTP_SECRET_BYTES = 20;
export const DEFAULT_ISSUER = 'wolfguard';

export interface EnrolResult {
  uri: string;
  line: string;
}

export function enrolTotp(file: string, user: string, issuer = DEFAULT_ISSUER, random: (n: number) => Buffer = randomBytes): EnrolResult {
  const why = userNameProblem(user);
  if (why) throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, why);
  const key = random(TOTP_SECRET_BYTES);
  const line = oathLine(user, key, DEFAULT_DIGITS, DEFAULT_STEP_SECONDS);
  OathFile.enrol(file, user, line);
  return { uri: otpauthUri({ issuer, user, key }), line };
}

/** The URI as a QR code of text blocks, for a terminal. */
export async function qrForTerminal(text: string): Promise<string> {
  // qrcode's own types are not shipped and @types/qrcode needs the DOM lib; this is the one call we make.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const qrcode = require('qrcode') as { toString(text: string, opts: { type: 'terminal'; small?: boolean; errorCorrectionLevel?: 'L' | 'M' | 'Q' | 'H' }): Promise<string> };
  return qrcode.toString(text, { type: 'terminal', small: true, errorCorrectionLevel: 'M' });
}
