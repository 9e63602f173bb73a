// Ties the rounds of one login together. The first round names the user and
// starts a backend conversation; when the backend wants another round the
// flow keeps the conversation under a fresh random context (sent to the
// client as the webvpncontext cookie, as ocserv does) bound to the client's
// address, for at most `ttlMs`. A context is single-use: each round gets a
// new one, and any failure forgets it, so a second factor cannot be guessed
// at repeatedly within one password check.
//
// Group choice follows ocserv's plain_auth_group: a chosen group must be one
// of the user's groups; none (or the default-select-group name) means the
// user's first group.
import type { AuthBackend, AuthConversation, AuthPrompt } from './backend';
import type { CertIdentity } from './cert-fields';

/** Bytes of randomness in a login context. */
export const CONTEXT_BYTES = 16;
/** Logins waiting for a further round, at most: a flood of half-logins cannot grow memory without bound. */
export const MAX_PENDING_LOGINS = 10_000;

export interface LoginSubmission {
  /** The webvpncontext cookie the client sent back, if any. */
  context?: string;
  username?: string;
  password?: string;
  secondaryPassword?: string;
  /** <group-select> / group_list. */
  group?: string;
  fields?: Readonly<Record<string, string>>;
  peer: string;
  /** The verified client certificate of the connection the submission came on. */
  cert?: CertIdentity;
}

export type FlowResult =
  | { kind: 'ok'; user: string; groups: string[]; group?: string }
  | { kind: 'continue'; user: string; context: string; prompt: AuthPrompt }
  /** `user` is who the attempt was for ('' when not known), for ban scoring. */
  | { kind: 'fail'; user: string; reason: string };

export interface LoginFlowOptions {
  backend: AuthBackend;
  /** How long a login may wait between rounds. */
  ttlMs: number;
  random: (n: number) => Buffer;
  /** default-select-group: the (virtual) group meaning "my default group". */
  defaultSelectGroup?: string;
}

interface Pending {
  conv: AuthConversation;
  user: string;
  group: string | undefined;
  peer: string;
  expiresAt: number;
}

export class LoginFlows {
  readonly #o: LoginFlowOptions;
  readonly #pending = new Map<string, Pending>();

  constructor(o: LoginFlowOptions) {
    this.#o = o;
  }

  get pending(): number {
    return this.#pending.size;
  }

  /** The user a submission is for, before any check (ban and lock-out checks need it). */
  userOf(s: LoginSubmission, nowMs: number): string | undefined {
    const p = s.context === undefined ? undefined : this.#pending.get(s.context);
    if (p && p.expiresAt > nowMs && p.peer === s.peer) return p.user;
    const user = this.#typedOrCertUser(s);
    return user === '' ? undefined : user;
  }

  /** The typed user name; without one, the certificate's (certificate login). */
  #typedOrCertUser(s: LoginSubmission): string {
    if (s.username !== undefined && s.username !== '') return s.username;
    return (s.cert && this.#o.backend.userFromCertificate?.(s.cert)) ?? '';
  }

  async submit(s: LoginSubmission, nowMs: number): Promise<FlowResult> {
    this.sweep(nowMs);
    let p = s.context === undefined ? undefined : this.#pending.get(s.context);
    if (p) {
      this.#pending.delete(s.context!);
      if (p.peer !== s.peer) return { kind: 'fail', user: p.user, reason: 'login context used from another address' };
    } else {
      const user = this.#typedOrCertUser(s);
      if (user === '') return { kind: 'fail', user: '', reason: noUserReason(this.#o.backend, s) };
      p = { conv: this.#o.backend.start(user), user, group: s.group, peer: s.peer, expiresAt: 0 };
    }
    const group = p.group ?? s.group;
    const answer = { username: p.user, fields: s.fields ?? {}, peer: s.peer } as Parameters<AuthConversation['answer']>[0];
    if (s.password !== undefined) answer.password = s.password;
    if (s.secondaryPassword !== undefined) answer.secondaryPassword = s.secondaryPassword;
    if (s.cert !== undefined) answer.cert = s.cert;
    const step = await p.conv.answer(answer, nowMs);
    if (step.kind === 'fail') return { kind: 'fail', user: p.user, reason: step.reason };
    if (step.kind === 'continue') {
      if (this.#pending.size >= MAX_PENDING_LOGINS) return { kind: 'fail', user: p.user, reason: 'too many logins in progress' };
      const context = this.#o.random(CONTEXT_BYTES).toString('base64url');
      this.#pending.set(context, { ...p, group, expiresAt: nowMs + this.#o.ttlMs });
      return { kind: 'continue', user: p.user, context, prompt: step.prompt };
    }
    const chosen = chooseGroup(step.groups, group, this.#o.defaultSelectGroup);
    if (!chosen.ok) return { kind: 'fail', user: step.user, reason: `not a member of group "${group ?? ''}"` };
    const out: FlowResult = { kind: 'ok', user: step.user, groups: chosen.groups };
    if (chosen.group !== undefined) out.group = chosen.group;
    return out;
  }

  /** Forgets logins that waited too long. */
  sweep(nowMs: number): void {
    for (const [k, p] of this.#pending) if (p.expiresAt <= nowMs) this.#pending.delete(k);
  }
}

/** Why a submission names nobody: certificate backends say whether a certificate was there at all. */
function noUserReason(backend: AuthBackend, s: LoginSubmission): string {
  if (!backend.userFromCertificate) return 'no user name';
  return s.cert ? 'no user name, and none in the client certificate' : 'no user name and no client certificate';
}

/** The user's groups with the chosen one first; fails when the user is not in the chosen group. */
export function chooseGroup(groups: readonly string[], wanted: string | undefined, defaultName?: string): { ok: true; groups: string[]; group?: string } | { ok: false } {
  if (wanted === undefined || wanted === '' || wanted === defaultName) {
    return groups.length > 0 ? { ok: true, groups: [...groups], group: groups[0]! } : { ok: true, groups: [] };
  }
  if (!groups.includes(wanted)) return { ok: false };
  return { ok: true, groups: [wanted, ...groups.filter((g) => g !== wanted)], group: wanted };
}
