// Certificate login, as ocserv combines it with passwords (doc/sample.config,
// src/sec-mod-auth.c check_cert_user_group_status, src/worker-auth.c
// get_cert_info):
//   auth = "certificate"                       certificate only: the user is
//                                              read from the certificate, no form
//   auth = "certificate" + auth = "plain[..]"  both: the password's user name
//                                              must be the certificate's
//   auth = "plain[..]" + enable-auth = "certificate"
//                                              either: a certificate alone
//                                              logs in; without one, the password
// The certificate itself was verified by wolfSSL against ca-cert (and the CRL)
// during the handshake: a client whose certificate does not verify never gets
// here. Neither factor ever stands in for the other in the "both" mode: the
// certificate is checked before the password round starts and again (same
// fingerprint) in every later round.
import type { AuthBackend, AuthConversation, AuthStep } from './backend';
import { OID_CN, type CertIdentity } from './cert-fields';

/** ocserv's special cert-user-oid value: the first rfc822Name of the subjectAltName. */
export const SAN_EMAIL = 'SAN(rfc822name)';
export const DEFAULT_CERT_USER_OID = OID_CN;

export type CertMode = 'certificate' | 'certificate+password' | 'certificate|password';

/** Where the user name (and groups) come from in a certificate. */
export interface CertNaming {
  /** A dotted OID of the subject DN, or SAN_EMAIL. */
  userOid: string;
  /** A dotted OID of the subject DN; every occurrence is a group. */
  groupOid?: string;
}

const DOTTED_OID = /^[0-2](\.(0|[1-9][0-9]{0,18})){1,63}$/;

/** Validates a cert-user-oid / cert-group-oid value; returns it normalised, or an error message. */
export function parseCertOid(value: string, allowSan: boolean): { ok: true; oid: string } | { ok: false; message: string } {
  const v = value.trim();
  if (allowSan && v.toLowerCase() === SAN_EMAIL.toLowerCase()) return { ok: true, oid: SAN_EMAIL };
  if (DOTTED_OID.test(v)) return { ok: true, oid: v };
  return { ok: false, message: `"${v.slice(0, 80)}" is not a dotted OID (e.g. 2.5.4.3 for CN, 0.9.2342.19200300.100.1.1 for UID${allowSan ? `) or ${SAN_EMAIL}` : ')'}` };
}

/** The user name a certificate carries, or undefined (ocserv: the first value of the OID). */
export function certUser(id: CertIdentity, naming: CertNaming): string | undefined {
  const v = naming.userOid === SAN_EMAIL ? id.emails[0] : id.subject.find((a) => a.oid === naming.userOid)?.value;
  return v === undefined || v === '' ? undefined : v;
}

/** Every group the certificate names, in order, once each. */
export function certGroups(id: CertIdentity, naming: CertNaming): string[] {
  if (naming.groupOid === undefined) return [];
  const out: string[] = [];
  for (const a of id.subject) if (a.oid === naming.groupOid && a.value !== '' && !out.includes(a.value)) out.push(a.value);
  return out;
}

/**
 * The mode the `auth` and `enable-auth` lines make; undefined when no
 * certificate is involved. `enable-auth = certificate` next to an `auth` that
 * already requires a certificate adds nothing.
 */
export function certMode(auth: readonly { kind: string }[], enableAuth: readonly { kind: string }[] = []): CertMode | undefined {
  const cert = auth.some((a) => a.kind === 'certificate');
  const password = auth.some((a) => a.kind !== 'certificate');
  if (cert) return password ? 'certificate+password' : 'certificate';
  if (enableAuth.some((a) => a.kind === 'certificate')) return 'certificate|password';
  return undefined;
}

export interface CertificateBackendOptions extends CertNaming {
  mode: CertMode;
  /** The password method (plain); required by the modes with a password. */
  password?: AuthBackend;
}

const fail = (reason: string): AuthStep => ({ kind: 'fail', reason });

export class CertificateBackend implements AuthBackend {
  readonly name = 'certificate';
  readonly #o: CertificateBackendOptions;

  constructor(o: CertificateBackendOptions) {
    if (o.mode !== 'certificate' && !o.password) throw new TypeError(`certificate mode ${o.mode} needs a password backend`);
    this.#o = o;
  }

  get mode(): CertMode {
    return this.#o.mode;
  }

  /** The login's user name when the client typed none: the certificate's. */
  userFromCertificate(id: CertIdentity): string | undefined {
    return certUser(id, this.#o);
  }

  start(user: string): AuthConversation {
    const o = this.#o;
    let inner: AuthConversation | undefined;
    let fingerprint: string | undefined;
    let groupsOfCert: string[] = [];
    let done = false;
    return {
      answer: async (a, nowMs): Promise<AuthStep> => {
        if (done) return fail('login already finished');
        if (!inner) {
          const certificateAlone = o.mode === 'certificate' || (o.mode === 'certificate|password' && a.cert !== undefined);
          if (certificateAlone || o.mode === 'certificate+password') {
            if (!a.cert) {
              done = true;
              return fail('no client certificate presented');
            }
            const u = certUser(a.cert, o);
            if (u === undefined) {
              done = true;
              return fail(`the certificate has no user name (${o.userOid})`);
            }
            if (u !== user) {
              done = true;
              return fail(`the certificate is for user "${u}"`);
            }
            if (certificateAlone) {
              done = true;
              return { kind: 'ok', user: u, groups: certGroups(a.cert, o) };
            }
            fingerprint = a.cert.fingerprint;
            groupsOfCert = certGroups(a.cert, o);
          }
          inner = o.password!.start(user);
        } else if (fingerprint !== undefined && a.cert?.fingerprint !== fingerprint) {
          done = true;
          return fail('the client certificate changed during the login');
        }
        const step = await inner.answer(a, nowMs);
        if (step.kind !== 'ok') {
          if (step.kind === 'fail') done = true;
          return step;
        }
        done = true;
        if (fingerprint === undefined) return step;
        if (step.user !== user) return fail('the password was for another user');
        if (o.groupOid === undefined) return step;
        // ocserv: the session's group must be one the certificate names.
        if (step.groups.length === 0) return { kind: 'ok', user: step.user, groups: groupsOfCert };
        const both = step.groups.filter((g) => groupsOfCert.includes(g));
        if (both.length === 0) return fail('none of the user\'s groups is named in the certificate');
        return { kind: 'ok', user: step.user, groups: both };
      },
    };
  }
}

/** The backend of a configuration's certificate mode (cert-user-oid defaults to CN). */
export function certificateBackendFor(cfg: { certUserOid?: string; certGroupOid?: string }, mode: CertMode, password?: AuthBackend): CertificateBackend {
  const o: CertificateBackendOptions = { mode, userOid: cfg.certUserOid ?? DEFAULT_CERT_USER_OID };
  if (cfg.certGroupOid !== undefined) o.groupOid = cfg.certGroupOid;
  if (password) o.password = password;
  return new CertificateBackend(o);
}
