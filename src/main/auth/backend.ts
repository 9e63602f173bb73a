// What an authentication method looks like to the login flow: a conversation
// that answers each round of the client's form with "in", "out", or "ask this
// next". Backends hold their own per-login state in the conversation; the
// flow (login-flow.ts) ties rounds together, scores failures and makes the
// session. RADIUS or PAM would plug in here as more AuthBackends.
import type { AuthField } from '../../protocol/auth-xml';
import type { CertIdentity } from './cert-fields';

export interface AuthPrompt {
  /** The <message> above the form, e.g. "Please enter your OTP password." */
  message: string;
  fields: AuthField[];
}

/** One round's answers, as the client sent them. */
export interface AuthAnswer {
  username: string;
  password?: string;
  /** The field of a second-factor form (ocserv's name, which openconnect's soft tokens fill in). */
  secondaryPassword?: string;
  /** Every field the client sent, by name. */
  fields: Readonly<Record<string, string>>;
  peer: string;
  /** The client certificate verified in this connection's handshake, if any. */
  cert?: CertIdentity;
}

export type AuthStep =
  | { kind: 'ok'; user: string; groups: string[] }
  | { kind: 'continue'; prompt: AuthPrompt }
  | { kind: 'fail'; reason: string };

/** One login in progress. Not reused after 'ok' or 'fail'. */
export interface AuthConversation {
  answer(a: AuthAnswer, nowMs: number): Promise<AuthStep>;
}

export interface AuthBackend {
  readonly name: string;
  /** A login of `user` begins; the first answer carries the password of the first form. */
  start(user: string): AuthConversation;
  /** Certificate backends: the user name a certificate carries (used when the client typed none). */
  userFromCertificate?(id: CertIdentity): string | undefined;
}

/** ocserv's second-factor prompt and field (worker-auth.c OC_LOGIN_FORM_INPUT_PASSWORD_CTR). */
export const SECONDARY_PASSWORD_FIELD = 'secondary_password';
