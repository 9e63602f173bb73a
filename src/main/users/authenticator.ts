// The password check behind a login, for auth = "plain[passwd=...]": the
// ocpasswd-format file, re-read when it changes, hashes verified by crypt(3)
// on the libuv threadpool (never on the main loop).
import { ErrorCodes, WolfguardError } from '../../common/errors';
import type { GatewayConfig } from '../config/types';
import type { Authenticator } from '../session-service';
import { PasswordFile, verifyUser } from './password-file';

export function passwordAuthenticator(cfg: GatewayConfig): Authenticator {
  const plain = cfg.auth.find((a) => a.kind === 'plain');
  if (!plain || plain.kind !== 'plain') {
    throw new WolfguardError(ErrorCodes.CONFIG_INVALID, 'only auth = "plain[passwd=FILE]" is implemented so far; certificate login is not');
  }
  const file = new PasswordFile(plain.passwd);
  return {
    async verify(user, password) {
      const r = await verifyUser(file, user, password);
      return r.ok ? { ok: true, groups: [...r.groups] } : { ok: false };
    },
  };
}
