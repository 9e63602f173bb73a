// The login checks behind auth = "plain[passwd=FILE,otp=FILE]": the
// ocpasswd-format file (re-read when it changes, hashes verified by crypt(3)
// on the libuv threadpool), the OTP file for a second round, and what the
// login needs of the configuration (groups, per-user/group files).
import { ErrorCodes, WolfguardError } from '../../common/errors';
import type { GatewayConfig } from '../config/types';
import type { Authenticator } from '../session-service';
import { PlainBackend } from '../auth/plain-backend';
import { OtpChecker } from '../auth/otp-checker';
import { certMode, certificateBackendFor } from '../auth/cert-backend';
import { supDirsOf } from '../auth/sup-config';
import type { AuthBackend } from '../auth/backend';
import { OathFile } from './oath-file';
import { PasswordFile, verifyUser } from './password-file';

export function passwordAuthenticator(cfg: GatewayConfig): Authenticator {
  const plain = cfg.auth.find((a) => a.kind === 'plain');
  const cert = certMode(cfg.auth, cfg.enableAuth);
  if (!plain || plain.kind !== 'plain') {
    if (cert !== 'certificate') throw new WolfguardError(ErrorCodes.CONFIG_INVALID, 'auth needs plain[passwd=FILE] or certificate');
    // Certificate only: there is no password a one-round check could accept.
    return { verify: async () => ({ ok: false }), setup: loginSetup(cfg, certificateBackendFor(cfg, cert)) };
  }
  const file = new PasswordFile(plain.passwd);
  const otp = plain.otp === undefined ? undefined : new OtpChecker(new OathFile(plain.otp));
  return {
    async verify(user, password) {
      // A one-round password check cannot see the certificate that mode also needs.
      if (cert === 'certificate+password') return { ok: false };
      const r = await verifyUser(file, user, password);
      return r.ok ? { ok: true, groups: [...r.groups] } : { ok: false };
    },
    setup: loginSetup(cfg, cert ? certificateBackendFor(cfg, cert, new PlainBackend(file, otp)) : new PlainBackend(file, otp)),
  };
}

/** The parts of the configuration a login flow needs. */
export function loginSetup(cfg: GatewayConfig, backend: AuthBackend): NonNullable<Authenticator['setup']> {
  const dirs = supDirsOf(cfg);
  const s: NonNullable<Authenticator['setup']> = {
    backend,
    ttlMs: cfg.authTimeout * 1000,
    supDirs: dirs,
    appendRoutes: cfg.appendRoutes === true,
    network: { routes: cfg.routes, noRoutes: cfg.noRoutes, dns: cfg.dns },
  };
  if (cfg.defaultSelectGroup !== undefined) s.defaultSelectGroup = cfg.defaultSelectGroup;
  return s;
}
